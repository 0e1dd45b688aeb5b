"""Autoencoders: a plain one for lesson 03, and the lecture's sparse autoencoder for 04 and 05."""

import keras
import numpy as np
from keras import layers, ops

from lessonlib import _keras_internals, _validation
from lessonlib._seeded import fit_in_seeded_order
from lessonlib._step_count import StepCounting
from lessonlib.layers.kl_sparsity import KLSparsity


def _widths(name, value):
    if isinstance(value, int):
        value = (value,)
    value = tuple(value)
    for width in value:
        _validation.positive_int(f"{name} entries", width)
    return value


class _Handle:
    """Holds a layer without making it a sublayer (Keras tracks layers set as attributes)."""

    def __init__(self, layer):
        self.layer = layer


class _TiedDense(layers.Layer):
    """A dense layer whose kernel is another `Dense` layer's kernel, transposed.

    Only the bias is its own: the shared kernel stays the other layer's weight, counted and
    saved once, and training moves it through both uses. `Autoencoder(tied_weights=True)`
    builds these and rebuilds the tie from its own config; alone, a `_TiedDense` cannot be
    recreated from its config.
    """

    def __init__(self, tied_to, activation=None, **kwargs):
        super().__init__(**kwargs)
        self._tied_to = _Handle(tied_to)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        tied_to = self._tied_to.layer
        if not tied_to.built:
            raise ValueError(
                f"The layer `{self.name}` decodes with the kernel of "
                f"`{tied_to.name}`, which is not built yet: build the encoder first."
            )
        self.bias = self.add_weight(
            shape=(tied_to.kernel.shape[0],), initializer="zeros", name="bias"
        )

    def call(self, inputs):
        kernel = ops.transpose(ops.cast(self._tied_to.layer.kernel, self.compute_dtype))
        return self.activation(ops.matmul(inputs, kernel) + ops.cast(self.bias, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self._tied_to.layer.kernel.shape[0])

    def get_config(self):
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation)}

    @classmethod
    def from_config(cls, config):
        raise ValueError(
            "A tied layer is rebuilt by `Autoencoder(tied_weights=True)`, which "
            f"knows the layer it is tied to. Received: config={config!r}"
        )


@keras.saving.register_keras_serializable(package="lessonlib")
class Autoencoder(keras.Model):
    """An undercomplete autoencoder: D inputs -> `num_latent` latent variables -> D outputs.

    With no hidden layers and a linear activation the reconstruction is a weighted sum of basis
    vectors (the decoder's kernel rows), weighted by the latent variables, and training finds
    the same subspace as PCA. Hidden layers and a nonlinear activation give a learned nonlinear
    encoder and decoder.

    With `tied_weights=True` the decoder has no kernels of its own: each decoder layer uses the
    mirrored encoder layer's kernel, transposed. Linear and without hidden layers, that is the
    notes' simplest decoder: it rebuilds the input from the very basis vectors the encoder
    projects onto, X_hat = b + W^T (W X + c).

    Args:
        input_dim: D, the number of inputs (784 for flattened MNIST digits).
        num_latent: the number of latent variables (the code size), below `input_dim`.
        hidden_units: widths of the hidden layers between input and code; the decoder
            mirrors them. `()` for a single linear map each way.
        activation: the hidden layers' activation.
        output_activation: the reconstruction's activation (`"sigmoid"` for pixels in [0, 1],
            `None` for the linear decoder that PCA is compared with).
        tied_weights: decode with the encoder's kernels, transposed (only biases are new).
        **kwargs: standard model arguments (`name`, ...).

    Example:

    >>> model = Autoencoder(784, 32, hidden_units=(256,))
    >>> model.compile(optimizer="adam", loss="mse")
    """

    def __init__(
        self,
        input_dim,
        num_latent,
        hidden_units=(),
        activation="relu",
        output_activation=None,
        tied_weights=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = _validation.positive_int("input_dim", input_dim)
        self.num_latent = _validation.positive_int("num_latent", num_latent)
        self.hidden_units = _widths("hidden_units", hidden_units)
        self.activation = activation
        self.output_activation = output_activation
        self.encoder = keras.Sequential(
            [layers.Dense(width, activation=activation) for width in self.hidden_units]
            + [layers.Dense(self.num_latent, name="code")],
            name="encoder",
        )
        self.tied_weights = bool(tied_weights)
        activations = (*[activation] * len(self.hidden_units), output_activation)
        names = (*[None] * len(self.hidden_units), "reconstruction")
        if self.tied_weights:
            decoder_layers = [
                _TiedDense(tied_to, activation=layer_activation, name=name)
                for tied_to, layer_activation, name in zip(
                    self.encoder.layers[::-1], activations, names, strict=True
                )
            ]
        else:
            widths = (*self.hidden_units[::-1], self.input_dim)
            decoder_layers = [
                layers.Dense(width, activation=layer_activation, name=name)
                for width, layer_activation, name in zip(widths, activations, names, strict=True)
            ]
        self.decoder = keras.Sequential(decoder_layers, name="decoder")

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.decoder.build((input_shape[0], self.num_latent))

    def call(self, inputs):
        return self.decoder(self.encoder(inputs))

    def encode(self, x, batch_size=256):
        """The latent variables of `x` (NumPy in, NumPy out)."""
        return self.encoder.predict(
            np.asarray(x, dtype="float32"), batch_size=batch_size, verbose=0
        )

    def decode(self, codes, batch_size=256):
        """Reconstructions from latent variables (NumPy in, NumPy out)."""
        return self.decoder.predict(
            np.asarray(codes, dtype="float32"), batch_size=batch_size, verbose=0
        )

    def get_config(self):
        config = {
            "input_dim": self.input_dim,
            "num_latent": self.num_latent,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "tied_weights": self.tied_weights,
        }
        return {**super().get_config(), **config}


def tied_reconstruction(x, rows, code_offset, x_fit):
    """Rebuild `x` from the encoder's own basis vectors: the notes' simplest decoder.

    Each row of `x` is encoded, h = E x + c, and decoded with the same rows, b + E^T h: tied
    weights, with no decoder weights but the offset b. The offset is the one that minimises
    the mean squared reconstruction error over `x_fit`. Lesson 03's exercise `tied_decoder`
    asks for this function.

    Args:
        x: the inputs to rebuild, `(M, D)`.
        rows: E, the encoder's basis vectors as rows, `(N1, D)`.
        code_offset: c, the encoder's bias, `(N1,)`.
        x_fit: the inputs the offset b is fitted on, `(M_fit, D)`.

    Returns:
        The reconstructions, `(M, D)`, in float64.

    Example:

    >>> rows = np.eye(2, 3)
    >>> tied_reconstruction(np.ones((1, 3)), rows, np.zeros(2), np.ones((4, 3)))
    array([[1., 1., 1.]])
    """
    x, x_fit = np.asarray(x, np.float64), np.asarray(x_fit, np.float64)
    rows, code_offset = np.asarray(rows, np.float64), np.asarray(code_offset, np.float64)

    def through_the_rows(inputs):
        return (inputs @ rows.T + code_offset) @ rows

    # Setting the derivative of the mean squared error with respect to b to zero.
    offset = np.mean(x_fit - through_the_rows(x_fit), axis=0)
    return through_the_rows(x) + offset


def least_squares_decoder(codes, x):
    """The linear decoder with the least mean squared error from fixed `codes` to `x`.

    Lesson 03's exercise `least_squares_decoder` asks for this function; the lesson uses it
    to compare a trained decoder with the best one for its codes.

    Args:
        codes: the latent variables, `(M, N1)`.
        x: the inputs they encode, `(M, D)`.

    Returns:
        `(basis, offset)`, `(N1, D)` and `(D,)`, in float64: x is rebuilt as
        `codes @ basis + offset`.

    Example:

    >>> codes = np.array([[0.0], [1.0], [2.0]])
    >>> basis, offset = least_squares_decoder(codes, 3 * codes + 1)
    >>> np.round(basis, 6), np.round(offset, 6)
    (array([[3.]]), array([1.]))
    """
    codes, x = np.asarray(codes, np.float64), np.asarray(x, np.float64)
    with_ones = np.concatenate([codes, np.ones((len(codes), 1))], axis=1)
    solution = np.linalg.lstsq(with_ones, x, rcond=None)[0]
    return solution[:-1], solution[-1]


@keras.saving.register_keras_serializable(package="lessonlib")
class SparseAutoencoder(keras.Model):
    """The lecture's sparse autoencoder: D -> N1 sigmoid units -> D sigmoid outputs.

    Trained on the cost

        L_sparse = (1/M) sum_m 1/2 ||a^(2)_m - X_m||^2 + lambda/2 (||W^(1)||^2 + ||W^(2)||^2)
                   + beta sum_j KL(rho || rho_hat_j),

    the same as `lessonlib.backprop.cost`, in float32 whatever the global precision policy
    (the model is small, and mixed precision would blur rho_hat near 0.01). `fit` reports the
    three parts as `reconstruction`, `weight_decay` and `sparsity`, and the mean of rho_hat as
    `mean_activation`; `average_activation(x)` returns rho_hat per hidden unit.

    Call `fit(x)` (the targets are the inputs). With `estimate="full"`, `fit` computes rho_hat
    over all of `x` every `refresh_steps` steps, the lecture's definition.

    Args:
        input_dim: D.
        num_hidden: N1, the number of hidden units.
        sparsity_target: rho (UFLDL: 0.01 for image patches, 0.1 for digits).
        beta: the sparsity penalty's weight (UFLDL: 3).
        weight_decay: lambda (UFLDL: 1e-4 for patches, 3e-3 for digits).
        estimate: how rho_hat is estimated, `"batch"`, `"running"` or `"full"` (see
            `lessonlib.layers.KLSparsity`).
        momentum: the running estimate's decay per step; its information is on average
            momentum / (1 - momentum) steps old: 1 step at 0.5, 9 at 0.9. An estimate that
            lags behind the weights makes units overshoot and die: with Adam(0.01), 0.9 ended
            at 1.8 to 3 times the cost of 0.5 on image patches (lesson 05, seeds 0-2).
        refresh_steps: with `estimate="full"`, recompute rho_hat over all the training data
            every this many steps. Each refresh is a forward pass over the whole data set;
            1 is the lecture's definition. A refresh every 10 steps lags as a running
            average with momentum 0.9 does (lesson 05).
        seed: fixes the initial weights.
        **kwargs: standard model arguments (`name`, ...).

    Example:

    >>> model = SparseAutoencoder(64, 25, sparsity_target=0.01, beta=3, weight_decay=1e-4)
    >>> model.compile(optimizer=keras.optimizers.Adam(0.01))
    """

    def __init__(
        self,
        input_dim,
        num_hidden,
        sparsity_target=0.01,
        beta=3.0,
        weight_decay=1e-4,
        estimate="batch",
        momentum=0.5,
        refresh_steps=1,
        seed=None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.input_dim = _validation.positive_int("input_dim", input_dim)
        self.num_hidden = _validation.positive_int("num_hidden", num_hidden)
        self.weight_decay = _validation.non_negative_number("weight_decay", weight_decay)
        self.refresh_steps = _validation.positive_int("refresh_steps", refresh_steps)
        self.seed = seed
        # UFLDL's initialisation: uniform in +-sqrt(6 / (D + N1 + 1)), zero biases.
        limit = float(np.sqrt(6 / (self.input_dim + self.num_hidden + 1)))
        seeds = (None, None) if seed is None else (seed, seed + 1)
        self.encoder = layers.Dense(
            self.num_hidden,
            activation="sigmoid",
            dtype="float32",
            name="hidden",
            kernel_initializer=keras.initializers.RandomUniform(-limit, limit, seed=seeds[0]),
        )
        self.sparsity = KLSparsity(
            sparsity_target,
            beta,
            estimate=estimate,
            momentum=momentum,
            dtype="float32",
            name="kl_sparsity",
        )
        self.decoder = layers.Dense(
            self.input_dim,
            activation="sigmoid",
            dtype="float32",
            name="output",
            kernel_initializer=keras.initializers.RandomUniform(-limit, limit, seed=seeds[1]),
        )
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("reconstruction", "weight_decay", "sparsity", "mean_activation")
        }

    @property
    def sparsity_target(self):
        return self.sparsity.sparsity_target

    @property
    def beta(self):
        return self.sparsity.beta

    @property
    def estimate(self):
        return self.sparsity.estimate

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] != self.input_dim:
            raise ValueError(
                f"SparseAutoencoder expects inputs of shape (batch_size, {self.input_dim}). "
                f"Received: input_shape={input_shape}"
            )
        for layer, shape in (
            (self.encoder, input_shape),
            (self.sparsity, (input_shape[0], self.num_hidden)),
            (self.decoder, (input_shape[0], self.num_hidden)),
        ):
            if not layer.built:
                layer.build(shape)

    def call(self, inputs, training=False):
        hidden = self.sparsity(self.encoder(inputs), training=training)
        return self.decoder(hidden)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = x if y is None else y
        target = ops.cast(target, y_pred.dtype)
        reconstruction = ops.mean(0.5 * ops.sum(ops.square(y_pred - target), axis=-1))
        weight_decay = (
            0.5
            * self.weight_decay
            * (ops.sum(ops.square(self.encoder.kernel)) + ops.sum(ops.square(self.decoder.kernel)))
        )
        sparsity = ops.sum(ops.stack(self.losses)) if self.losses else ops.zeros(())
        parts = {
            "reconstruction": reconstruction,
            "weight_decay": weight_decay,
            "sparsity": sparsity,
            "mean_activation": ops.mean(self.sparsity.rho_hat),
        }
        for name, value in parts.items():
            self.trackers[name].update_state(value)
        return reconstruction + weight_decay + sparsity

    def hidden_activations(self, x, batch_size=10_000):
        """a^(1)_{j,m} for every sample m of `x` and hidden unit j: NumPy, shape (M, N1).

        `x` goes through the encoder `batch_size` samples at a time. Each call costs
        dispatch whatever its size, and `estimate="full"` refreshes rho_hat this way every
        few steps, so the default takes the course's 10,000 patches in one call
        (benchmarks/RESULTS.md).
        """
        x = np.asarray(x, dtype="float32")
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"`x` must have shape (M, {self.input_dim}). Received: x of shape {x.shape}"
            )
        if not self.built:
            self.build((None, self.input_dim))
        _keras_internals.sync_training_state(self)  # called from a callback during fit
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(self.encoder(x[start : start + batch_size]))
                for start in range(0, len(x), batch_size)
            ]
            or [np.zeros((0, self.num_hidden), dtype="float32")]
        )

    def average_activation(self, x, batch_size=10_000):
        """rho_hat_j = (1/M) sum_m a^(1)_{j,m}, over all the samples of `x` (NumPy, float64)."""
        return self.hidden_activations(x, batch_size).mean(axis=0, dtype=np.float64)

    def refresh_full_estimate(self, x):
        """Set rho_hat to the average activation over all of `x` (for `estimate="full"`)."""
        # average_activation brings JAX's trainer state back first, so the assignment below
        # is what the next step reads.
        rho_hat = self.average_activation(x).astype("float32")  # builds the model if needed
        self.sparsity.rho_hat.assign(rho_hat)

    def fit(self, x=None, y=None, **kwargs):
        if self.estimate == "full":
            callbacks = list(kwargs.pop("callbacks", None) or [])
            callbacks.append(_FullEstimate(self, x, self.refresh_steps))
            kwargs["callbacks"] = callbacks
        return super().fit(x, y, **kwargs)

    def backprop_parameters(self):
        """W^(1), b^(1), W^(2), b^(2) as float64 NumPy, a `lessonlib.backprop.Parameters`.

        So `backprop.cost(model.backprop_parameters(), X, ...)` computes the lecture's cost of
        this very model in NumPy, e.g. on all the data after mini-batch training. (Not
        `parameters`:
        on PyTorch every Keras layer is a `torch.nn.Module`, whose `parameters()` Keras uses.)
        """
        from lessonlib.backprop import Parameters

        def array(variable):
            return keras.ops.convert_to_numpy(variable).astype(np.float64)

        return Parameters(
            array(self.encoder.kernel),
            array(self.encoder.bias),
            array(self.decoder.kernel),
            array(self.decoder.bias),
        )

    def filters(self):
        """The hidden units' input weights, one row per unit, shape (N1, D), as NumPy."""
        return keras.ops.convert_to_numpy(self.encoder.kernel).T

    def get_config(self):
        config = {
            "input_dim": self.input_dim,
            "num_hidden": self.num_hidden,
            "sparsity_target": self.sparsity_target,
            "beta": self.beta,
            "weight_decay": self.weight_decay,
            "estimate": self.estimate,
            "momentum": self.sparsity.momentum,
            "refresh_steps": self.refresh_steps,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class _FullEstimate(StepCounting):
    """Recomputes rho_hat over the whole training set every `refresh_steps` steps."""

    def __init__(self, autoencoder, x, refresh_steps):
        super().__init__()
        if x is None or not hasattr(x, "shape"):
            raise ValueError(
                '`estimate="full"` needs the training data as an array, to average the '
                f"activations over all of it. Received: x of type {type(x).__name__}"
            )
        self.autoencoder, self.x, self.refresh_steps = autoencoder, x, refresh_steps
        self._next = 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._next = 0

    def on_train_batch_begin(self, batch, logs=None):
        # `batch` is the first step to run (of an execution): refresh at the first call at or
        # past each multiple of refresh_steps.
        step = self.steps_before_epoch + batch
        if step >= self._next:
            self.autoencoder.refresh_full_estimate(self.x)
            self._next = step - step % self.refresh_steps + self.refresh_steps


def sparsity_sweep(
    x,
    num_hidden,
    sparsity_targets,
    betas,
    weight_decay=1e-4,
    epochs=10,
    batch_size=100,
    learning_rate=0.01,
    seed=0,
):
    """Train one sparse autoencoder per (rho, beta) pair; return what each learned.

    Args:
        x: training data, shape `(M, D)`, values in (0, 1).
        num_hidden: N1.
        sparsity_targets: the values of rho to try.
        betas: the values of beta to try.
        weight_decay, epochs, batch_size, learning_rate, seed: the same for every model; the
            seed fixes each model's initial weights and order of samples, without reseeding
            the global random state.

    Returns:
        dict mapping `(rho, beta)` to `(rho_hat, weights)`: the average activation of each
        hidden unit over `x`, and the encoder's kernel `(D, N1)`, as NumPy arrays.
    """
    x = np.asarray(x, dtype="float32")
    results = {}
    for sparsity_target in sparsity_targets:
        for beta in betas:
            model = SparseAutoencoder(
                x.shape[1], num_hidden, sparsity_target, beta, weight_decay, seed=seed
            )
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
            fit_in_seeded_order(model, x, epochs=epochs, batch_size=batch_size, seed=seed)
            results[(sparsity_target, beta)] = (
                model.average_activation(x),
                keras.ops.convert_to_numpy(model.encoder.kernel),
            )
    return results

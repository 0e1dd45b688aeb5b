"""Variational autoencoders, and the semi-supervised model M2 of Kingma et al. (2014), lesson 08.

Both are written once in `keras.ops` and trained by Keras's own `fit` on every backend, each
with its own `compute_loss`: the negative evidence lower bound. The noise of the
reparameterisation, z = mean + std * eps, comes from a `SeedGenerator` the model owns (drawn in
the VAE's `call`, as `Dropout` draws its mask, and in M2's loss, once per sample and class), and
is saved with the weights.
"""

import keras
import numpy as np
from keras import layers, ops

from lessonlib import _validation, kl
from lessonlib.models._random_state import SavesRandomState
from lessonlib.models.autoencoders import _widths


def _mlp(widths, activation, outputs, name, seed):
    """Dense layers of `widths`, then a linear layer of `outputs` units, seeded one by one."""
    initializer = keras.initializers.GlorotUniform
    dense = [
        layers.Dense(
            width,
            activation=activation,
            kernel_initializer=initializer(None if seed is None else seed + index),
        )
        for index, width in enumerate(widths)
    ]
    last = layers.Dense(
        outputs,
        kernel_initializer=initializer(None if seed is None else seed + len(widths)),
        name="output",
    )
    return keras.Sequential([*dense, last], name=name)


def bernoulli_negative_log_likelihood(x, logits):
    """-log p(x | logits) of pixels in [0, 1] under independent Bernoullis, summed per sample.

    Written with softplus, so it is exact for any logit: log(1 + e^l) - x l. For a pixel that is
    grey rather than 0 or 1 this is the cross-entropy, as is usual for MNIST. Summed in float32
    whatever the precision policy: bfloat16 keeps about three significant digits, too few for a
    sum of 784 terms.
    """
    logits = ops.cast(logits, "float32")
    x = ops.cast(x, "float32")
    return ops.sum(ops.softplus(logits) - x * logits, axis=-1)


def _check_input_shape(model, input_shape):
    if len(input_shape) != 2 or input_shape[-1] != model.input_dim:
        raise ValueError(
            f"{type(model).__name__} expects inputs of shape (batch_size, {model.input_dim}). "
            f"Received: input_shape={input_shape}"
        )


def _split_gaussian(outputs, num_latent):
    mean, log_std = outputs[:, :num_latent], outputs[:, num_latent:]
    # exp of a log-std the network may push far early in training: bounded so that neither the
    # sample nor the KL overflows in float32 (std in [e^-8, e^8] covers any digit's code).
    return mean, ops.exp(ops.clip(log_std, -8.0, 8.0))


def _standard_normal_kl(mean, std):
    """KL(N(mean, std^2) || N(0, I)) per sample, summed over the latent variables, in float32."""
    mean, std = ops.cast(mean, "float32"), ops.cast(std, "float32")
    return ops.sum(kl.gaussian_kl_ops(mean, std, 0.0, 1.0), axis=-1)


@keras.saving.register_keras_serializable(package="lessonlib")
class VariationalAutoencoder(SavesRandomState, keras.Model):
    """A variational autoencoder for pixels in [0, 1] (Kingma & Welling 2014; M1 in Kingma et
    al. 2014).

    The encoder gives q(z|x) = N(mean(x), diag std(x)^2) over `num_latent` latent variables;
    `call` draws z = mean + std * eps with eps ~ N(0, I) (the reparameterisation), and the
    decoder gives the logits of p(x|z), one Bernoulli per pixel. `fit(x)` descends the negative
    evidence lower bound,

        -ELBO(x) = -E_q[log p(x|z)] + KL(q(z|x) || N(0, I)),

    estimated with one z per sample, the KL in closed form (`lessonlib.kl.gaussian_kl_ops`). It
    reports the two parts as `reconstruction` and `kl`.

    Args:
        input_dim: D, the number of pixels.
        num_latent: the number of latent variables.
        hidden_units: widths of the encoder's hidden layers; the decoder mirrors them.
        activation: the hidden layers' activation (the paper's softplus by default).
        seed: fixes the initial weights and the noise the training draws.
        **kwargs: standard model arguments (`name`, ...).

    Example:

    >>> vae = VariationalAutoencoder(784, 16, hidden_units=(256,), seed=0)
    >>> vae.compile(optimizer="adam")
    """

    def __init__(
        self, input_dim, num_latent, hidden_units=(256,), activation="softplus", seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.input_dim = _validation.positive_int("input_dim", input_dim)
        self.num_latent = _validation.positive_int("num_latent", num_latent)
        self.hidden_units = _widths("hidden_units", hidden_units)
        self.activation = activation
        self.seed = None if seed is None else _validation.non_negative_int("seed", seed)
        seeds = (None, None, None) if seed is None else (seed, seed + 100, seed + 200)
        self.encoder = _mlp(self.hidden_units, activation, 2 * self.num_latent, "encoder", seeds[0])
        self.decoder = _mlp(
            self.hidden_units[::-1], activation, self.input_dim, "decoder", seeds[1]
        )
        self.noise_seed = seeds[2]
        self.noise = keras.random.SeedGenerator(seeds[2], name="noise")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("reconstruction", "kl")}

    def build(self, input_shape):
        _check_input_shape(self, input_shape)
        self.encoder.build(input_shape)
        self.decoder.build((input_shape[0], self.num_latent))

    def call(self, inputs):
        mean, std = _split_gaussian(self.encoder(inputs), self.num_latent)
        z = mean + std * keras.random.normal(ops.shape(mean), seed=self.noise, dtype=mean.dtype)
        return {"logits": self.decoder(z), "mean": mean, "std": std}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction = ops.mean(bernoulli_negative_log_likelihood(x, y_pred["logits"]))
        divergence = ops.mean(_standard_normal_kl(y_pred["mean"], y_pred["std"]))
        self.trackers["reconstruction"].update_state(reconstruction)
        self.trackers["kl"].update_state(divergence)
        return reconstruction + divergence

    def encode(self, x, batch_size=1_000):
        """The mean and standard deviation of q(z|x) for each row of `x` (NumPy in and out)."""
        outputs = self.encoder.predict(_rows(x, self.input_dim), batch_size=batch_size, verbose=0)
        mean, std = _split_gaussian(outputs, self.num_latent)
        return ops.convert_to_numpy(mean), ops.convert_to_numpy(std)

    def decode(self, z, batch_size=1_000):
        """The pixel probabilities of p(x|z) for each row of `z` (NumPy in and out)."""
        logits = self.decoder.predict(
            _rows(z, self.num_latent, "z"), batch_size=batch_size, verbose=0
        )
        return ops.convert_to_numpy(ops.sigmoid(logits))

    def get_config(self):
        config = {
            "input_dim": self.input_dim,
            "num_latent": self.num_latent,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def _rows(x, width, name="x"):
    x = np.asarray(x, dtype="float32")
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(
            f"`{name}` must have shape (N, {width}). Received: {name} of shape {x.shape}"
        )
    return x


@keras.saving.register_keras_serializable(package="lessonlib")
class SemiSupervisedVAE(SavesRandomState, keras.Model):
    """Kingma et al. (2014)'s M2: a generative model p(x, y, z) = p(x|y,z) p(y) p(z) whose class
    y is observed for a few samples and a latent variable for the rest.

    p(y) is uniform over `num_classes`, p(z) = N(0, I), p(x|y,z) one Bernoulli per pixel. The
    inference networks are a classifier q(y|x) and an encoder q(z|x,y) = N(mean, diag std^2).
    `fit(x, y)` takes `y = -1` for an unlabelled sample and descends, per sample,

        labelled (x, y):  -L(x, y) + alpha * (-log q(y|x)),
            -L(x, y) = -E_q(z|x,y)[log p(x|y,z)] + KL(q(z|x,y) || p(z)) - log p(y);
        unlabelled x:     -U(x) = sum_y q(y|x) (-L(x, y)) - H(q(y|x)),

    each averaged over the batch's samples of its kind (one z per sample and class). The
    unlabelled bound sums over all classes, so every unlabelled sample goes through the encoder
    and decoder `num_classes` times. `fit` reports `labelled_bound` (mean -L on labelled
    samples), `unlabelled_bound` (mean -U) and `classification` (mean -log q(y|x)).

    `call(x)` returns the classifier's logits, so `predict(x).argmax(-1)` classifies; `generate`
    decodes a class and a latent code.

    Args:
        input_dim: D, the number of pixels.
        num_classes: the number of classes.
        num_latent: the number of latent variables z (the "style").
        hidden_units: widths of each network's hidden layers.
        alpha: the weight of the classification term on labelled samples.
        activation: the hidden layers' activation.
        seed: fixes the initial weights and the noise the training draws.
        **kwargs: standard model arguments (`name`, ...).
    """

    def __init__(
        self,
        input_dim,
        num_classes,
        num_latent,
        hidden_units=(256,),
        alpha=10.0,
        activation="softplus",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = _validation.positive_int("input_dim", input_dim)
        self.num_classes = _validation.positive_int("num_classes", num_classes)
        self.num_latent = _validation.positive_int("num_latent", num_latent)
        self.hidden_units = _widths("hidden_units", hidden_units)
        self.alpha = _validation.non_negative_number("alpha", alpha)
        self.activation = activation
        self.seed = None if seed is None else _validation.non_negative_int("seed", seed)
        seeds = (None,) * 4 if seed is None else tuple(seed + 100 * i for i in range(4))
        self.classifier = _mlp(
            self.hidden_units, activation, self.num_classes, "classifier", seeds[0]
        )
        self.encoder = _mlp(self.hidden_units, activation, 2 * self.num_latent, "encoder", seeds[1])
        self.decoder = _mlp(
            self.hidden_units[::-1], activation, self.input_dim, "decoder", seeds[2]
        )
        self.noise = keras.random.SeedGenerator(seeds[3], name="noise")
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("labelled_bound", "unlabelled_bound", "classification")
        }

    def build(self, input_shape):
        _check_input_shape(self, input_shape)
        self.classifier.build(input_shape)
        self.encoder.build((input_shape[0], self.input_dim + self.num_classes))
        self.decoder.build((input_shape[0], self.num_latent + self.num_classes))

    def call(self, inputs):
        return self.classifier(inputs)

    def negative_bound(self, x, y_one_hot):
        """-L(x, y) for each row: one z drawn from q(z|x,y), the KL in closed form (ops)."""
        mean, std = _split_gaussian(
            self.encoder(ops.concatenate([x, y_one_hot], axis=-1)), self.num_latent
        )
        z = mean + std * keras.random.normal(ops.shape(mean), seed=self.noise, dtype=mean.dtype)
        logits = self.decoder(ops.concatenate([z, y_one_hot], axis=-1))
        return (
            bernoulli_negative_log_likelihood(x, logits)
            + _standard_normal_kl(mean, std)
            + float(np.log(self.num_classes))
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is None:
            raise ValueError(
                "SemiSupervisedVAE.fit needs labels: pass y with the class of each labelled "
                "sample and -1 for each unlabelled one."
            )
        k = self.num_classes
        batch = ops.shape(x)[0]
        x = ops.cast(x, self.compute_dtype)
        y_pred = ops.cast(y_pred, "float32")
        # -L(x, y) for every sample and every class: each sample repeated once per class.
        every_class = ops.tile(ops.eye(k, dtype=x.dtype), (batch, 1))
        bounds = ops.reshape(self.negative_bound(ops.repeat(x, k, axis=0), every_class), (batch, k))
        y = ops.reshape(ops.cast(y, "int32"), (-1,))
        labelled = ops.cast(y >= 0, "float32")
        one_hot = ops.one_hot(ops.maximum(y, 0), k, dtype="float32")
        log_q = ops.log_softmax(y_pred, axis=-1)
        q = ops.exp(log_q)
        labelled_bound = ops.sum(one_hot * bounds, axis=-1)
        classification = -ops.sum(one_hot * log_q, axis=-1)
        unlabelled_bound = ops.sum(q * (bounds + log_q), axis=-1)
        num_labelled = ops.maximum(ops.sum(labelled), 1.0)
        num_unlabelled = ops.maximum(ops.sum(1.0 - labelled), 1.0)
        means = {
            "labelled_bound": ops.sum(labelled * labelled_bound) / num_labelled,
            "unlabelled_bound": ops.sum((1.0 - labelled) * unlabelled_bound) / num_unlabelled,
            "classification": ops.sum(labelled * classification) / num_labelled,
        }
        for name, value in means.items():
            self.trackers[name].update_state(value)
        return (
            means["labelled_bound"]
            + self.alpha * means["classification"]
            + means["unlabelled_bound"]
        )

    def generate(self, classes, z, batch_size=1_000):
        """Pixel probabilities of p(x|y,z) for each class in `classes` and row of `z` (NumPy)."""
        classes = np.asarray(classes)
        z = _rows(z, self.num_latent, "z")
        if classes.shape != (len(z),) or not np.all((classes >= 0) & (classes < self.num_classes)):
            raise ValueError(
                f"`classes` must hold one class in [0, {self.num_classes}) per row of `z` "
                f"({len(z)} rows). Received: classes={classes!r}"
            )
        one_hot = np.eye(self.num_classes, dtype="float32")[classes.astype(int)]
        logits = self.decoder.predict(
            np.concatenate([z, one_hot], axis=1), batch_size=batch_size, verbose=0
        )
        return ops.convert_to_numpy(ops.sigmoid(logits))

    def get_config(self):
        config = {
            "input_dim": self.input_dim,
            "num_classes": self.num_classes,
            "num_latent": self.num_latent,
            "hidden_units": list(self.hidden_units),
            "alpha": self.alpha,
            "activation": self.activation,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def semi_supervised_set(x, y, labelled, repeats=None, seed=0):
    """The training set M2 is fitted on: every sample unlabelled, plus the labelled ones repeated.

    Repeating the few labelled samples gives each batch some of them (with 100 labels among
    4,000 digits, an unrepeated batch of 100 would hold 2 or 3).

    Args:
        x: the samples, `(N, D)`.
        y: their classes, `(N,)`: only those at `labelled` are used.
        labelled: the indices of the labelled samples.
        repeats: how many times each labelled sample appears; by default as many as make the
            labelled copies about as many as the unlabelled samples.
        seed: fixes the order of the returned set.

    Returns:
        `(x_set, y_set)`, shuffled: y_set is -1 for each unlabelled copy.
    """
    x, y = np.asarray(x, dtype="float32"), np.asarray(y)
    labelled = np.asarray(labelled, dtype=int)
    if len(x) != len(y):
        raise ValueError(
            f"`x` and `y` must have one label per sample. Received: {len(x)} samples, "
            f"{len(y)} labels"
        )
    if labelled.size == 0 or labelled.min() < 0 or labelled.max() >= len(x):
        raise ValueError(
            f"`labelled` must hold indices into `x` (0 to {len(x) - 1}). Received: {labelled!r}"
        )
    repeats = max(1, len(x) // len(labelled)) if repeats is None else repeats
    repeats = _validation.positive_int("repeats", repeats)
    x_set = np.concatenate([x, np.repeat(x[labelled], repeats, axis=0)])
    y_set = np.concatenate([np.full(len(x), -1), np.repeat(y[labelled], repeats)]).astype("int32")
    order = np.random.default_rng(seed).permutation(len(x_set))
    return x_set[order], y_set[order]


def gradient_estimates(mean, std, z, values, slopes):
    """Two per-sample estimates of the gradient of E_{z ~ N(mean, std^2)}[f(z)] with respect to
    the mean and the standard deviation: the reparameterisation's and the score function's.

    Lesson 08's exercise `gradient_estimates` asks for this function. Each estimate's mean over
    the samples is unbiased; the lesson measures how far apart their variances are.

    Args:
        mean, std: the Gaussian's mean and standard deviation (arrays that broadcast with `z`).
        z: samples drawn from it, as mean + std * eps.
        values: f(z) for each sample (broadcast against `z`: one value per sample of a vector z).
        slopes: f'(z), the derivative of f at each sample, shaped like `z`.

    Returns:
        `{"reparameterisation": (d_mean, d_std), "score_function": (d_mean, d_std)}`: float64
        arrays shaped like `z`, one estimate per sample.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> z = 1.0 + 0.5 * rng.standard_normal(200_000)  # f(z) = z^2: E f = mean^2 + std^2
    >>> estimates = gradient_estimates(1.0, 0.5, z, z**2, 2 * z)
    >>> [np.round(np.mean(part), 1) for part in estimates["reparameterisation"]]
    [np.float64(2.0), np.float64(1.0)]
    """
    mean, std, z, values, slopes = (
        np.asarray(v, dtype=np.float64) for v in (mean, std, z, values, slopes)
    )
    if not np.all(std > 0):
        raise ValueError(f"`std` must be positive. Received: std={std!r}")
    eps = (z - mean) / std
    return {
        "reparameterisation": (np.broadcast_to(slopes, eps.shape), slopes * eps),
        "score_function": (values * eps / std, values * (eps**2 - 1) / std),
    }


def unlabelled_negative_bound(class_logits, negative_bounds):
    """-U(x), M2's negative bound for unlabelled samples, from q(y|x)'s logits and -L(x, y).

    Lesson 08's exercise `unlabelled_bound` asks for this function; `SemiSupervisedVAE`
    computes the same with `keras.ops` while it trains.

    Args:
        class_logits: the classifier's logits for q(y|x), `(M, K)`.
        negative_bounds: -L(x, y) for each sample and each class y, `(M, K)`.

    Returns:
        `(M,)` float64 array.
    """
    class_logits = np.asarray(class_logits, dtype=np.float64)
    negative_bounds = np.asarray(negative_bounds, dtype=np.float64)
    if class_logits.ndim != 2 or class_logits.shape != negative_bounds.shape:
        raise ValueError(
            "`class_logits` and `negative_bounds` must both have shape (M, K). Received: "
            f"{class_logits.shape} and {negative_bounds.shape}"
        )
    shifted = class_logits - class_logits.max(axis=1, keepdims=True)
    log_q = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.sum(np.exp(log_q) * (negative_bounds + log_q), axis=1)

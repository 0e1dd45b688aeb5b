"""A generative adversarial network: a generator and a discriminator trained as a min-max game.

Everything but the training step is written once here in `keras.ops`: sampling the noise z,
the forward passes, the losses (`lessonlib.gan_theory`), the metrics and the training
schedule. The step itself, which needs two optimisers and two sets of gradients, is the one
thing Keras 3 cannot express once for every backend; it lives in
`lessonlib/training/gan_{tensorflow,jax,torch}.py`, picked by `lessonlib._backend` as Keras
picks its own `Trainer`.
"""

import keras
import numpy as np
from keras import ops

from lessonlib import _backend, _keras_internals, _validation, gan_theory, runtime
from lessonlib.models._random_state import SavesRandomState

_SCHEDULES = ("simultaneous", "notes")
_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")


def _training_steps():
    """The backend's training-step module (only that backend's is imported)."""
    return _backend.module("lessonlib.training.gan", "The GAN's training step")


class _OptimizerPair:
    """The two optimisers seen as one by Keras's trainers, which build, save and (on JAX) carry
    the state of `model.optimizer`: its variables are the discriminator's then the generator's."""

    def __init__(self, gan):
        self.gan = gan

    @property
    def variables(self):
        return list(self.gan.d_optimizer.variables) + list(self.gan.g_optimizer.variables)

    @property
    def built(self):
        return self.gan.d_optimizer.built and self.gan.g_optimizer.built

    def build(self, var_list=None):
        if not self.gan.d_optimizer.built:
            self.gan.d_optimizer.build(self.gan.discriminator.trainable_variables)
        if not self.gan.g_optimizer.built:
            self.gan.g_optimizer.build(self.gan.generator.trainable_variables)


@keras.saving.register_keras_serializable(package="lessonlib")
class GAN(SavesRandomState, keras.Model):
    """A GAN: `fit(x)` plays the lecture's game between D and G on the real samples `x`.

    The generator maps noise z ~ N(0, I) of size `latent_dim` to samples, G(z). The
    discriminator maps a sample to one logit l; D = sigmoid(l) is the probability it gives the
    sample of being real. Each training step, on a batch of m real samples:

    - the discriminator ascends V = (1/m) sum log D(x_i) + log(1 - D(G(z_i))), that is, it
      descends `d_loss` = -V (`gan_theory.discriminator_loss`);
    - the generator descends `g_loss`: log(1 - D(G(z))) (`"minimax"`, the notes') or
      -log D(G(z)) (`"non_saturating"`, the fix for the minimax loss's vanishing gradient
      when D rejects the samples early in training).

    `fit` reports `d_loss`, `g_loss`, `d_real` (the mean of D(x) on real samples) and `d_fake`
    (the mean of D(G(z))), with Keras's progress bar and callbacks.

    Args:
        generator: a built Keras model from `(batch, latent_dim)` noise to samples.
        discriminator: a built Keras model from samples to one logit each, `(batch, 1)`.
        latent_dim: the noise size; read from the generator's input when omitted.
        seed: seeds the noise the training step draws (a `keras.random.SeedGenerator`).
        **kwargs: standard model arguments (`name`, ...).

    Example:

    >>> gan = GAN(generator, discriminator)  # doctest: +SKIP
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),  # doctest: +SKIP
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> gan.fit(x_train, batch_size=256, epochs=20)  # doctest: +SKIP
    """

    def __init__(self, generator, discriminator, latent_dim=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, network in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(network, keras.Model):
                raise ValueError(
                    f"`{name}` must be a Keras model. Received: {name} of type "
                    f"{type(network).__name__}"
                )
        if latent_dim is None:
            try:
                latent_dim = generator.input_shape[-1]
            except (AttributeError, ValueError) as error:
                raise ValueError(
                    "Pass `latent_dim` when the generator has no input shape yet (build it "
                    "or start it with keras.Input). Received: latent_dim=None"
                ) from error
        self.latent_dim = _validation.positive_int("latent_dim", latent_dim)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        # Counts training steps, for the notes' schedule; saved with the weights, so a run
        # resumed from a checkpoint resumes in the right phase.
        self.step_counter = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False, name="step_counter"
        )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in _METRICS}
        self.generator_loss = "non_saturating"
        self.discriminator_steps = 1
        self.schedule = "simultaneous"
        self.pretrain_steps = (0, 0)
        self.build()

    def build(self, input_shape=None):
        if not self.generator.built:
            self.generator.build((None, self.latent_dim))
        sample_shape = tuple(self.generator.compute_output_shape((None, self.latent_dim)))
        if not self.discriminator.built:
            self.discriminator.build(sample_shape)
        logit_shape = tuple(self.discriminator.compute_output_shape(sample_shape))
        if logit_shape[1:] != (1,):
            raise ValueError(
                "The discriminator must give one logit per sample, an output of shape "
                f"(batch, 1), for samples of shape {sample_shape}. Received: output of shape "
                f"{logit_shape}"
            )
        self.built = True

    def compile(
        self,
        d_optimizer,
        g_optimizer,
        generator_loss="non_saturating",
        discriminator_steps=1,
        schedule="simultaneous",
        pretrain_steps=(0, 0),
        jit_compile="auto",
        steps_per_execution=1,
    ):
        """Configure the game.

        Args:
            d_optimizer: the discriminator's optimiser (an instance, or a name).
            g_optimizer: the generator's optimiser; a separate instance.
            generator_loss: `"non_saturating"` (-log D(G(z))) or `"minimax"` (log(1 - D(G(z)))).
            discriminator_steps: k, the discriminator updates per generator update (Goodfellow
                et al., Algorithm 1): k steps on the batch's real samples with fresh noise
                each, then one generator step against the updated D. With k = 1 both
                gradients come from one forward pass and are applied together, as in the
                TensorFlow DCGAN tutorial.
            schedule: `"simultaneous"`: both networks learn from the first step. `"notes"`:
                the lecture notes' schedule: the discriminator first learns alone for
                `pretrain_steps[0]` steps, then the generator alone against the frozen
                discriminator for `pretrain_steps[1]` steps, then both compete as above.
            pretrain_steps: the two phases' lengths in training steps (batches), for
                `schedule="notes"`.
            jit_compile: as for `keras.Model.compile`; `"auto"` asks
                `runtime.jit_compile`, which leaves XLA out for convolutional networks on
                TensorFlow and a CPU, where it is slower.
            steps_per_execution: as for `keras.Model.compile` (1 on PyTorch).
        """
        _training_steps()  # a clear error now, on a backend without a GAN step
        if jit_compile == "auto":
            convolutional = any(
                isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
                for network in (self.generator, self.discriminator)
                for layer in _keras_internals.sublayers(network)
            )
            jit_compile = runtime.jit_compile(convolutional=convolutional)
        super().compile(
            optimizer=None, jit_compile=jit_compile, steps_per_execution=steps_per_execution
        )
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        if self.d_optimizer is self.g_optimizer:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two optimiser instances: "
                "each keeps its own moments for its own network. Received: the "
                "same instance twice"
            )
        if self.dtype_policy.name == "mixed_float16" or any(
            network.dtype_policy.name == "mixed_float16"
            for network in (self.generator, self.discriminator)
        ):
            # float16 gradients underflow without loss scaling; bfloat16 needs none.
            self.d_optimizer = keras.optimizers.LossScaleOptimizer(self.d_optimizer)
            self.g_optimizer = keras.optimizers.LossScaleOptimizer(self.g_optimizer)
        self.generator_loss = _validation.one_of(
            "generator_loss", generator_loss, ("non_saturating", "minimax")
        )
        self.discriminator_steps = _validation.positive_int(
            "discriminator_steps", discriminator_steps
        )
        self.schedule = _validation.one_of("schedule", schedule, _SCHEDULES)
        pretrain_steps = tuple(pretrain_steps)
        if len(pretrain_steps) != 2 or not all(
            isinstance(steps, (int, np.integer)) and steps >= 0 for steps in pretrain_steps
        ):
            raise ValueError(
                "`pretrain_steps` must be two integers >= 0: the discriminator's "
                "then the generator's steps alone. Received: "
                f"pretrain_steps={pretrain_steps!r}"
            )
        if schedule == "simultaneous" and any(pretrain_steps):
            raise ValueError(
                '`pretrain_steps` applies to schedule="notes". Received: '
                f'schedule="simultaneous", pretrain_steps={pretrain_steps!r}'
            )
        self.pretrain_steps = tuple(int(steps) for steps in pretrain_steps)
        self.optimizer = _OptimizerPair(self)
        self.optimizer.build()
        self._gan_compile_config = {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "generator_loss": self.generator_loss,
            "discriminator_steps": self.discriminator_steps,
            "schedule": self.schedule,
            "pretrain_steps": list(self.pretrain_steps),
            "jit_compile": jit_compile,
            "steps_per_execution": steps_per_execution,
        }

    def get_compile_config(self):
        """The arguments of `compile`, so that `keras.saving.load_model` compiles a saved GAN
        the same way (and restores both optimisers' state)."""
        return dict(getattr(self, "_gan_compile_config", {}))

    def compile_from_config(self, config):
        config = dict(config)
        for name in ("d_optimizer", "g_optimizer"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        self.compile(**config)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, noise, training=False):
        """G(z): the generator's samples for the noise `noise`."""
        return self.generator(noise, training=training)

    def train_step(self, *args):
        return _training_steps().train_step(self, *args)

    # The pieces every backend's step shares.

    @staticmethod
    def real_samples(data):
        """The real batch from what `fit` passes the step (`x`, or `(x, y)` with `y` unused)."""
        return data[0] if isinstance(data, (tuple, list)) else data

    def step_inputs(self, data):
        """The real batch, whether D and G learn this step (`active`), and each network's
        trainable variables: what a step that reads variables directly starts from."""
        variables = (self.discriminator.trainable_variables, self.generator.trainable_variables)
        return self.real_samples(data), self.active(), variables

    def noise(self, batch_size):
        """z ~ N(0, I), `(batch_size, latent_dim)`, from the model's seed generator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def discriminator_pass(self, real):
        """d_loss on the real batch and as many generated samples, and both sets of logits."""
        fake = self.generator(self.noise(ops.shape(real)[0]), training=True)
        real_logits = self.discriminator(real, training=True)
        fake_logits = self.discriminator(fake, training=True)
        loss = gan_theory.discriminator_loss_ops(real_logits, fake_logits)
        return loss, (real_logits, fake_logits)

    def generator_pass(self, batch_size):
        """g_loss on a batch of fresh generated samples."""
        fake = self.generator(self.noise(batch_size), training=True)
        fake_logits = self.discriminator(fake, training=True)
        return gan_theory.generator_loss_ops(fake_logits, self.generator_loss)

    def joint_pass(self, real):
        """d_loss and g_loss from one forward pass (k = 1), and the logits."""
        fake = self.generator(self.noise(ops.shape(real)[0]), training=True)
        real_logits = self.discriminator(real, training=True)
        fake_logits = self.discriminator(fake, training=True)
        d_loss = gan_theory.discriminator_loss_ops(real_logits, fake_logits)
        g_loss = gan_theory.generator_loss_ops(fake_logits, self.generator_loss)
        return (d_loss, g_loss), (real_logits, fake_logits)

    def active(self):
        """Whether D and G learn this step: `(None, None)` (both, always) unless the schedule
        is the notes', then two boolean tensors from the step counter."""
        if self.schedule != "notes":
            return None, None
        discriminator_alone, generator_alone = self.pretrain_steps
        step = ops.convert_to_tensor(self.step_counter)
        competing = ops.greater_equal(step, discriminator_alone + generator_alone)
        return (
            ops.logical_or(ops.less(step, discriminator_alone), competing),
            ops.greater_equal(step, discriminator_alone),
        )

    def record(self, d_loss, g_loss, real_logits, fake_logits):
        """Update the metrics and the step counter; return the logs."""
        values = {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))),
            "d_fake": ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32"))),
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        self.step_counter.assign_add(1)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # For the lessons.

    def generate(self, noise=None, num_samples=None, seed=None, batch_size=1024):
        """Samples G(z) as NumPy, from given noise or `num_samples` fresh draws.

        Args:
            noise: `(n, latent_dim)` noise (e.g. `sample_noise(64)`, fixed across epochs).
            num_samples: draw this many fresh samples instead.
            seed: seeds those draws (default: different each call).
        """
        if (noise is None) == (num_samples is None):
            raise ValueError(
                "Pass `noise` or `num_samples`, one of the two. Received: "
                f"noise={'given' if noise is not None else None}, "
                f"num_samples={num_samples!r}"
            )
        if noise is None:
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal(
                (_validation.positive_int("num_samples", num_samples), self.latent_dim)
            )
        noise = np.asarray(noise, dtype="float32")
        if noise.ndim != 2 or noise.shape[1] != self.latent_dim:
            raise ValueError(
                f"`noise` must have shape (n, {self.latent_dim}). Received: noise "
                f"of shape {noise.shape}"
            )
        _keras_internals.sync_training_state(self)  # called from a callback during fit
        outputs = [
            keras.ops.convert_to_numpy(
                self.generator(noise[start : start + batch_size], training=False)
            )
            for start in range(0, len(noise), batch_size)
        ]
        return np.concatenate(outputs).astype("float32")

    def discriminate(self, samples, batch_size=1024):
        """D(x) = sigmoid(logit) for each sample, as a float NumPy array of shape `(n,)`."""
        samples = np.asarray(samples, dtype="float32")
        _keras_internals.sync_training_state(self)
        logits = [
            keras.ops.convert_to_numpy(
                self.discriminator(samples[start : start + batch_size], training=False)
            )
            for start in range(0, len(samples), batch_size)
        ]
        logits = np.concatenate(logits).astype(np.float64).ravel()
        return 1.0 / (1.0 + np.exp(-logits))

    def sample_noise(self, num_samples, seed=0):
        """Fixed noise from NumPy, the same on every backend: for sample grids over epochs."""
        rng = np.random.default_rng(_validation.non_negative_int("seed", seed))
        return rng.standard_normal(
            (_validation.positive_int("num_samples", num_samples), self.latent_dim)
        ).astype("float32")

    def get_config(self):
        config = {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("generator", "discriminator"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def dcgan_generator(latent_dim=100, name="generator"):
    """The TensorFlow DCGAN tutorial's generator: noise -> 28x28x1 images in [-1, 1].

    Dense to 7x7x256, then transposed convolutions (5x5) to 7x7x128, 14x14x64 and 28x28x1,
    with batch normalisation and leaky ReLUs between, and tanh at the end.
    """
    latent_dim = _validation.positive_int("latent_dim", latent_dim)
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(7 * 7 * 256, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.LeakyReLU(0.3),
            keras.layers.Reshape((7, 7, 256)),
            keras.layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.LeakyReLU(0.3),
            keras.layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.LeakyReLU(0.3),
            # float32 output whatever the precision policy: the samples are the game's data.
            keras.layers.Conv2DTranspose(
                1, 5, strides=2, padding="same", use_bias=False, activation="tanh", dtype="float32"
            ),
        ],
        name=name,
    )


def dcgan_discriminator(name="discriminator", seed=None):
    """The TensorFlow DCGAN tutorial's discriminator: 28x28x1 images -> one logit.

    Two 5x5 stride-2 convolutions (64, 128 filters) with leaky ReLUs and dropout 0.3, then a
    dense logit.
    """
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(64, 5, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.3),
            keras.layers.Dropout(0.3, seed=seed),
            keras.layers.Conv2D(128, 5, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.3),
            keras.layers.Dropout(0.3, seed=None if seed is None else seed + 1),
            keras.layers.Flatten(),
            keras.layers.Dense(1, dtype="float32"),
        ],
        name=name,
    )


def mlp_generator(latent_dim, output_dim, hidden_units=(32, 32), name="generator"):
    """A small fully connected generator for toy data: noise -> `output_dim` numbers."""
    widths = [_validation.positive_int("hidden_units entries", width) for width in hidden_units]
    return keras.Sequential(
        [keras.Input((_validation.positive_int("latent_dim", latent_dim),))]
        + [keras.layers.Dense(width, activation="relu") for width in widths]
        + [keras.layers.Dense(_validation.positive_int("output_dim", output_dim), dtype="float32")],
        name=name,
    )


def mlp_discriminator(input_dim, hidden_units=(32, 32), name="discriminator"):
    """A small fully connected discriminator for toy data: `input_dim` numbers -> one logit."""
    widths = [_validation.positive_int("hidden_units entries", width) for width in hidden_units]
    return keras.Sequential(
        [keras.Input((_validation.positive_int("input_dim", input_dim),))]
        + [keras.layers.Dense(width, activation="relu") for width in widths]
        + [keras.layers.Dense(1, dtype="float32")],
        name=name,
    )

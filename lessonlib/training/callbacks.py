"""Callbacks for the lessons' training runs: a progress bar over epochs, a sparse
autoencoder's rho_hat over training, and for GANs a sample grid from fixed noise and a stop on
divergence."""

import keras
import numpy as np

from lessonlib import _validation
from lessonlib._step_count import StepCounting


class EpochProgress(keras.callbacks.Callback):
    """One progress bar over all the epochs, with the latest metrics beside it.

    Keras's own bar (`verbose=1`) prints a line per epoch, hundreds of lines for a small model
    trained for many short epochs; use `fit(..., verbose=0, callbacks=[EpochProgress(epochs)])`.

    Args:
        epochs: the number of epochs `fit` will run.
        metrics: which logged metrics to show (default: all).
    """

    def __init__(self, epochs, metrics=None):
        super().__init__()
        self.epochs = _validation.positive_int("epochs", epochs)
        self.metrics = metrics
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = keras.utils.Progbar(self.epochs, unit_name="epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        names = self.metrics or list(logs)
        values = [(name, float(logs[name])) for name in names if name in logs]
        # Each value is already the epoch's mean: show it as is, not averaged over epochs.
        self.bar.stateful_metrics.update(name for name, _ in values)
        self.bar.update(epoch + 1, values=values, finalize=epoch + 1 >= self.epochs)


class SparsityTrace(StepCounting):
    """Every hidden unit's rho_hat over all of `x`, every `every` training steps.

    For a `lessonlib.models.SparseAutoencoder`: how each unit's average activation moves while
    it trains, whatever estimate of rho_hat the training itself uses (`plotting.sparsity_traces`
    draws it). Each record is a forward pass over `x`.

    Args:
        x: the data to average over, shape `(M, D)`.
        every: record after every this many training steps (counted across epochs).

    Attributes:
        steps: the steps recorded, a list of ints.
        rho_hat: a NumPy array `(len(steps), num_hidden)` once training has run.
    """

    def __init__(self, x, every=10):
        super().__init__()
        self.x = np.asarray(x, dtype="float32")
        self.every = _validation.positive_int("every", every)
        self.steps, self._records = [], []

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        # `batch` is the last step run (of an execution): record when the count has passed a
        # multiple of `every`.
        step = self.steps_before_epoch + batch + 1
        last = self.steps[-1] if self.steps else 0
        if step // self.every > last // self.every:
            self.steps.append(step)
            self._records.append(self.model.average_activation(self.x))

    @property
    def rho_hat(self):
        return np.array(self._records).reshape(len(self._records), -1)


class SampleGrid(keras.callbacks.Callback):
    """Generated images from the same fixed noise after every epoch: how the generator learns.

    It keeps the images of each epoch (`images`, with `epochs` the epoch each was taken after,
    0 for before training), redraws one figure in place in a notebook as training runs, and
    gives the whole sequence as an animation at the end (`animation()`).

    Args:
        noise: fixed noise, shape `(n, latent_dim)` (`GAN.sample_noise(n)`).
        show: redraw the latest grid in the notebook after each epoch (nothing outside IPython).
        ncols: images per row.

    Example:

    >>> grid = SampleGrid(gan.sample_noise(36))  # doctest: +SKIP
    >>> gan.fit(x, epochs=20, callbacks=[grid])  # doctest: +SKIP
    >>> grid.animation()  # doctest: +SKIP
    """

    def __init__(self, noise, show=True, ncols=None):
        super().__init__()
        noise = np.asarray(noise, dtype="float32")
        if noise.ndim != 2 or len(noise) == 0:
            raise ValueError(
                f"`noise` must have shape (n, latent_dim) with n >= 1. Received: "
                f"noise of shape {noise.shape}"
            )
        self.noise, self.show, self.ncols = noise, show, ncols
        self.images, self.epochs = [], []
        self._display = None

    def _record(self, epoch):
        images = np.clip((self.model.generate(self.noise) + 1) / 2, 0, 1)  # tanh range to [0, 1]
        self.images.append(images)
        self.epochs.append(epoch)
        if self.show:
            self._redraw()

    def _redraw(self):
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        figure = self.figure()
        if self._display is None:
            self._display = display(figure, display_id=True)
        else:
            self._display.update(figure)

    def on_train_begin(self, logs=None):
        if not self.images:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch + 1)

    def figure(self, index=-1):
        """The grid after the `index`-th recorded epoch (default: the latest)."""
        from lessonlib import plotting

        if not self.images:
            raise ValueError("No samples yet: SampleGrid records them when `fit` runs.")
        return plotting.image_grid(
            self.images[index], ncols=self.ncols, title=f"after epoch {self.epochs[index]}"
        )

    def animation(self, interval=400):
        """The grids of all recorded epochs as a JavaScript animation (an IPython `HTML`)."""
        from IPython.display import HTML

        from lessonlib import plotting

        return HTML(
            plotting.grid_animation(
                self.images, self.epochs, ncols=self.ncols, interval=interval
            ).to_jshtml()
        )


class TrainingFailed(RuntimeError):
    """Raised by `StopOnDivergence(raise_error=True)`."""


class StopOnDivergence(keras.callbacks.Callback):
    """Stop a GAN's training, with a message that says why, when it has failed.

    Two failures end a run that would otherwise waste its remaining epochs:

    - a loss that is NaN or infinite (checked after every step);
    - a discriminator that has won: `d_loss` below `min_d_loss` and mean D(G(z)) below
      `max_d_fake` for `patience` epochs in a row. Then log(1 - D(G(z))) is flat and the
      generator learns nothing.

    Args:
        min_d_loss: the discriminator loss below which it separates the data perfectly.
        max_d_fake: the mean D(G(z)) below which it rejects every generated sample.
        patience: epochs in a row the discriminator must have won.
        raise_error: raise `TrainingFailed` instead of stopping and printing.

    Attributes:
        reason: why training stopped, or None.
    """

    def __init__(self, min_d_loss=0.01, max_d_fake=0.01, patience=2, raise_error=False):
        super().__init__()
        self.min_d_loss = _validation.positive_number("min_d_loss", min_d_loss)
        self.max_d_fake = _validation.positive_number("max_d_fake", max_d_fake)
        self.patience = _validation.positive_int("patience", patience)
        self.raise_error = raise_error
        self.reason = None
        self._won = 0

    def on_train_begin(self, logs=None):
        self.reason, self._won = None, 0

    def _stop(self, reason):
        self.reason = reason
        self.model.stop_training = True
        if self.raise_error:
            raise TrainingFailed(reason)
        print(f"Training stopped: {reason}")

    def on_train_batch_end(self, batch, logs=None):
        for name in ("d_loss", "g_loss"):
            if logs and name in logs and not np.isfinite(float(logs[name])):
                self._stop(
                    f"{name} is {float(logs[name])} at step {batch}. Lower the learning "
                    "rates, or check the data for NaN and its range (the generator's "
                    "tanh gives values in [-1, 1])."
                )
                return

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "d_loss" not in logs or "d_fake" not in logs:
            return
        d_loss, d_fake = float(logs["d_loss"]), float(logs["d_fake"])
        won = d_loss < self.min_d_loss and d_fake < self.max_d_fake
        self._won = self._won + 1 if won else 0
        if self._won >= self.patience:
            self._stop(
                f"the discriminator has won for {self._won} epochs (d_loss {d_loss:.2g}, mean "
                f"D(G(z)) {d_fake:.2g}): it rejects every generated sample, and the generator "
                "gets no gradient to learn from. Use the non-saturating generator loss, a "
                "smaller discriminator learning rate or fewer discriminator steps."
            )


class FrechetDistance(keras.callbacks.Callback):
    """The Fréchet distance between generated and real digits, before training and after each
    epoch, in a `lessonlib.models.DigitFeatures` classifier's feature space.

    Args:
        space: the trained `DigitFeatures`.
        reference: real digits in [-1, 1] to compare with (held out, e.g. test digits).
        noise: fixed noise for the generated set; use as many vectors as `reference` has
            digits, since the distance's bias depends on the sample size.

    Attributes:
        epochs, distances: the epoch (0: before training) and the distance after it.
    """

    def __init__(self, space, reference, noise):
        super().__init__()
        self.space = space
        self.reference_features = space.features(reference)
        self.noise = np.asarray(noise, dtype="float32")
        self.epochs, self.distances = [], []

    def _record(self, epoch):
        from lessonlib.metrics import frechet_distance

        generated = self.space.features(self.model.generate(self.noise))
        self.epochs.append(epoch)
        self.distances.append(frechet_distance(generated, self.reference_features))

    def on_train_begin(self, logs=None):
        if not self.distances:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch + 1)
        if logs is not None:
            logs["frechet"] = self.distances[-1]

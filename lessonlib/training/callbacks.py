"""Callbacks for the lessons' training runs."""

import keras

from lessonlib import _validation


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

"""Counting training steps across epochs, for callbacks that act every so many steps."""

import keras


class StepCounting(keras.callbacks.Callback):
    """A callback that knows how many steps ran in the epochs before the current one.

    Counted here, since `params["steps"]` is None when the data's length is unknown (a
    generator). With steps_per_execution > 1, Keras calls the batch callbacks once per
    execution: `batch` is then the execution's first step (begin) or last step (end).
    """

    def __init__(self):
        super().__init__()
        self.steps_before_epoch, self._in_epoch = 0, 0

    def on_train_begin(self, logs=None):
        self.steps_before_epoch, self._in_epoch = 0, 0

    def on_train_batch_end(self, batch, logs=None):
        self._in_epoch = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.steps_before_epoch, self._in_epoch = self.steps_before_epoch + self._in_epoch, 0

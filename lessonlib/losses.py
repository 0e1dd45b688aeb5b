"""Losses for pixel-wise classification."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lessonlib")
def pixel_crossentropy(y_true, y_pred):
    """Sparse categorical cross-entropy of every pixel, averaged over pixels and images.

    The same value as `"sparse_categorical_crossentropy"` on `(batch, height, width,
    num_classes)` probabilities. It flattens the pixels first: on the PyTorch backend, Keras
    3.15 passes 4-D probabilities to `torch.nn.functional.nll_loss`, whose backward pass then
    fails with "grad_input must be contiguous"; on flat pixels every backend trains.

    Args:
        y_true: integer labels `(batch, height, width)`.
        y_pred: probabilities `(batch, height, width, num_classes)`.

    Returns:
        The loss of every pixel, flat; Keras averages it.

    Example:

    >>> model.compile(optimizer="adam", loss=pixel_crossentropy)  # doctest: +SKIP
    """
    num_classes = ops.shape(y_pred)[-1]
    return keras.losses.sparse_categorical_crossentropy(
        ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1, num_classes))
    )

"""What the figure modules share: a new figure without pyplot, its last step, image layouts."""

import math

import numpy as np
from matplotlib.figure import Figure

from lessonlib import _validation


def _subplots(nrows=1, ncols=1, figsize=None, **kwargs):
    """Like pyplot's `subplots`: a new `Figure` and its axes, but one no pyplot state holds.

    Keyword arguments (`squeeze`, `sharex`, `gridspec_kw`, ...) go to `Figure.subplots`.
    """
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(nrows, ncols, **kwargs)


def _finish(figure, **tight_layout):
    """Fit the panels, titles and labels into the figure (`tight_layout`) and return it."""
    figure.tight_layout(**tight_layout)
    return figure


def _columns(count, ncols):
    if ncols is None:
        return max(1, math.ceil(math.sqrt(count)))
    return _validation.positive_int("ncols", ncols)


def _as_images(images, image_shape):
    images = np.asarray(images)
    if image_shape is not None:
        return images.reshape((len(images), *image_shape))
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(
                "Flat images must be square, or `image_shape` must say their shape. "
                f"Received: images of shape {images.shape} and image_shape=None"
            )
        return images.reshape(len(images), side, side)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise ValueError(
            "`images` must have shape (N, H, W), (N, H, W, C) with C in 1, 3, 4, or (N, H*W). "
            f"Received: images of shape {images.shape}"
        )
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images

"""Figures for the lessons. Every function returns a matplotlib `Figure`.

A returned figure is closed in pyplot, so a notebook shows it exactly once (as the cell's last
expression, or with `display(figure)`), and a script or test that draws hundreds of them does
not accumulate open figures. `figure.savefig(path)` works as usual.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lessonlib import _validation


def _show_figures_as_images_in_notebooks():
    """Make IPython display a returned `Figure` as a PNG whatever matplotlib backend is set.

    The inline backend does this on its own, but a kernel started with `MPLBACKEND=Agg` (or
    any non-inline backend) would show "<Figure size 640x480 with 1 Axes>" instead.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight")
    )


_show_figures_as_images_in_notebooks()


def _finish(figure):
    plt.close(figure)
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


def image_grid(images, ncols=None, titles=None, image_shape=None, cmap="gray", title=None):
    """Show images in a grid, one per cell, without axes.

    Args:
        images: array of shape `(N, H, W)`, `(N, H, W, C)`, or `(N, H*W)` for square images.
        ncols: images per row; defaults to a square-ish grid.
        titles: optional list of N short captions (labels, predictions).
        image_shape: the shape of each image when `images` are flat and not square.
        cmap: colormap for single-channel images.
        title: a title over the whole grid.

    Returns:
        matplotlib.figure.Figure

    Example:

    >>> figure = image_grid(x_train[:16], titles=y_train[:16])
    """
    images = _as_images(images, image_shape)
    count = len(images)
    if count == 0:
        raise ValueError("`images` must hold at least one image. Received: 0 images")
    if titles is not None and len(titles) != count:
        raise ValueError(
            f"`titles` must have one entry per image ({count}). Received: {len(titles)} titles"
        )
    ncols = _columns(count, ncols)
    nrows = math.ceil(count / ncols)
    figure, axes = plt.subplots(
        nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + (0.3 if title else 0)), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap=cmap)
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _finish(figure)


def filter_mosaic(weights, image_shape=None, ncols=None):
    """Tile filters into one array, as UFLDL's `display_network` does.

    Each filter is scaled by its largest absolute value, so every filter uses the whole range
    [-1, 1] and a weak filter is as visible as a strong one; filters are separated by a
    one-pixel border of -1 (black).

    Args:
        weights: array of shape `(num_pixels, num_filters)`: column j holds the weights
            w_ij of hidden unit j, the layout of a Keras `Dense` kernel.
        image_shape: `(height, width)` of a filter; defaults to square.
        ncols: filters per row; defaults to a square-ish grid.

    Returns:
        float64 array of the mosaic, values in [-1, 1].
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(
            "`weights` must be a 2-D array (num_pixels, num_filters). "
            f"Received: weights of shape {weights.shape}"
        )
    filters = _as_images(weights.T, image_shape)
    count, height, width = filters.shape
    ncols = _columns(count, ncols)
    nrows = math.ceil(count / ncols)
    mosaic = -np.ones((nrows * (height + 1) + 1, ncols * (width + 1) + 1))
    for index, image in enumerate(filters):
        scale = np.abs(image).max()
        row, column = divmod(index, ncols)
        top, left = 1 + row * (height + 1), 1 + column * (width + 1)
        mosaic[top : top + height, left : left + width] = image / scale if scale > 0 else 0
    return mosaic


def filter_grid(weights, image_shape=None, ncols=None, title=None):
    """Show the filters of a layer as a grid of images (see `filter_mosaic`).

    Args:
        weights: `(num_pixels, num_filters)`, e.g. the kernel of the encoder's `Dense` layer.
        image_shape: `(height, width)` of a filter; defaults to square.
        ncols: filters per row.
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    mosaic = filter_mosaic(weights, image_shape, ncols)
    height, width = mosaic.shape
    scale = 6 / max(height, width)
    figure, axis = plt.subplots(figsize=(max(2, width * scale), max(2, height * scale)))
    axis.imshow(mosaic, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    axis.axis("off")
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return _finish(figure)


def training_curves(history, metrics=None, title=None):
    """Plot training (and validation) curves, one panel per metric.

    Args:
        history: the `History` returned by `Model.fit`, or a dict `{name: [value per epoch]}`.
        metrics: names to plot; default: every name that does not start with `val_`.
            `val_<name>` is drawn in the same panel when present.
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            "`history` must be a Keras History or a non-empty dict of lists. "
            f"Received: history={history!r}"
        )
    if metrics is None:
        metrics = [name for name in logs if not name.startswith("val_")]
    missing = [name for name in metrics if name not in logs]
    if missing:
        raise ValueError(
            f"`metrics` names values the history does not hold ({', '.join(missing)}); it "
            f"holds {', '.join(logs)}. Received: metrics={metrics!r}"
        )
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(3.6 * len(metrics), 3), squeeze=False
    )
    for axis, name in zip(axes.flat, metrics, strict=True):
        values = logs[name]
        epochs = np.arange(1, len(values) + 1)
        axis.plot(epochs, values, marker="o", markersize=3, label="training")
        if f"val_{name}" in logs:
            axis.plot(epochs, logs[f"val_{name}"], marker="o", markersize=3, label="validation")
            axis.legend()
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _finish(figure)

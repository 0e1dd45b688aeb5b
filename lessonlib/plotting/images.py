"""Images and filters in grids: the figures every lesson that shows pictures uses.

`image_grid` shows digits, scenes, reconstructions and generated samples (lessons 00, 01, 03,
04 and 07, and `training.SampleGrid`); `filter_grid` and `filter_mosaic` show what the hidden
units of an autoencoder respond to (lessons 00 and 04, and `sparsity_summary`).
"""

import math

import numpy as np

from lessonlib.plotting._common import _as_images, _columns, _finish, _subplots


def image_grid(
    images, ncols=None, titles=None, image_shape=None, cmap="gray", title=None, symmetric=False
):
    """Show images in a grid, one per cell, without axes.

    Args:
        images: array of shape `(N, H, W)`, `(N, H, W, C)`, or `(N, H*W)` for square images.
        ncols: images per row; defaults to a square-ish grid.
        titles: optional list of N short captions (labels, predictions).
        image_shape: the shape of each image when `images` are flat and not square.
        cmap: colormap for single-channel images.
        title: a title over the whole grid.
        symmetric: for signed single-channel images (basis vectors, filters): each on a scale
            from -max|x| to +max|x|, so that 0 is the middle grey and the sign reads.

    Returns:
        matplotlib.figure.Figure

    Example:

    >>> figure = image_grid(x_train[:16], titles=y_train[:16])  # doctest: +SKIP
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
    figure, axes = _subplots(
        nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + (0.3 if title else 0)), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            limit = None
            if symmetric:
                limit = float(np.max(np.abs(images[index]))) or 1.0  # all zero: any scale
            axis.imshow(
                images[index], cmap=cmap, vmin=None if limit is None else -limit, vmax=limit
            )
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title)
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
    figure, axis = _subplots(figsize=(max(2, width * scale), max(2, height * scale)))
    axis.imshow(mosaic, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    axis.axis("off")
    if title:
        axis.set_title(title)
    return _finish(figure)

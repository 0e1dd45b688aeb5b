"""Where each pooling window sits: static index maps shared by pooling and unpooling.

Both layers work on the flattened spatial positions `y * width + x` of a channels-last image.
The maps are computed once with NumPy when a layer is built, so the layers' `call` is a gather,
a comparison and a reduction in `keras.ops`, the same on every backend.
"""

import math

import numpy as np

from lessonlib import _validation


def normalize_pair(name, value):
    """Return `value` as a pair of positive ints; an int `n` means `(n, n)`."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"`{name}` must be an int or a pair of ints. Received: {name}={value!r}")
    try:
        return tuple(_validation.positive_int(name, size) for size in pair)
    except ValueError:
        raise ValueError(
            f"`{name}` must hold positive integers. Received: {name}={value!r}"
        ) from None


def normalize_padding(padding):
    padding = padding.lower() if isinstance(padding, str) else padding
    return _validation.one_of("padding", padding, ("valid", "same"))


def output_length(length, pool, stride, padding):
    """The pooled length along one axis, as Keras's `MaxPooling2D` computes it."""
    if padding == "same":
        return math.ceil(length / stride)
    return (length - pool) // stride + 1


def pooled_size(height, width, pool_size, strides, padding):
    """`(out_height, out_width)` of pooling a `height` x `width` input."""
    return (
        output_length(height, pool_size[0], strides[0], padding),
        output_length(width, pool_size[1], strides[1], padding),
    )


def first_window_offset(length, pool, stride, padding):
    """Where the first window starts: negative for 'same' padding, as TensorFlow pads.

    The same rule places a convolution's first kernel window, with `pool` its kernel size.
    """
    if padding == "valid":
        return 0
    total = max((output_length(length, pool, stride, padding) - 1) * stride + pool - length, 0)
    return -(total // 2)


def window_positions(height, width, pool_size, strides, padding):
    """Return the flat input position of every window entry, -1 where it falls in padding.

    Returns:
        int array of shape `(out_height * out_width, pool_height * pool_width)`; entries of a
        window are in row-major order, so the first maximum in that order is the first along
        the last axis.
    """
    (pool_h, pool_w), (stride_h, stride_w) = pool_size, strides
    out_h = output_length(height, pool_h, stride_h, padding)
    out_w = output_length(width, pool_w, stride_w, padding)
    top = first_window_offset(height, pool_h, stride_h, padding) + stride_h * np.arange(out_h)
    left = first_window_offset(width, pool_w, stride_w, padding) + stride_w * np.arange(out_w)
    rows = top[:, None, None, None] + np.arange(pool_h)[None, None, :, None]
    columns = left[None, :, None, None] + np.arange(pool_w)[None, None, None, :]
    rows, columns = np.broadcast_arrays(rows, columns)
    inside = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
    positions = np.where(inside, rows * width + columns, -1)
    return positions.reshape(out_h * out_w, pool_h * pool_w)


def windows_covering(height, width, pool_size, strides, padding):
    """For each input position, the windows that contain it (-1 pads the list).

    Returns:
        int array of shape `(height * width, max_windows_per_position)`. With non-overlapping
        windows, each position is in at most one window and the second axis has length 1.
    """
    positions = window_positions(height, width, pool_size, strides, padding)
    windows = np.repeat(np.arange(len(positions)), positions.shape[1])
    entries = positions.ravel()
    windows, entries = windows[entries >= 0], entries[entries >= 0]
    # A stable sort by position keeps each position's windows in increasing order; a window's
    # column is its rank among the windows of its position.
    order = np.argsort(entries, kind="stable")
    windows, entries = windows[order], entries[order]
    counts = np.bincount(entries, minlength=height * width)
    starts = np.cumsum(counts) - counts
    table = np.full((height * width, max(1, int(counts.max(initial=0)))), -1)
    table[entries, np.arange(len(entries)) - starts[entries]] = windows
    return table


def tiles_exactly(pool_size, strides, padding, height, width):
    """True when windows are side by side (stride = pool) and start at the top-left corner.

    Then pooling is a reshape of the input into windows, with no gather: the fast path, and
    the usual case (2x2 pools with stride 2). With "valid" padding the rows and columns past
    the last window are simply dropped; "same" must divide exactly to add no padding.
    """
    if tuple(strides) != tuple(pool_size):
        return False
    if padding == "valid":
        return True
    return height % pool_size[0] == 0 and width % pool_size[1] == 0

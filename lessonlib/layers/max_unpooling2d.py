"""Unpooling with switches: each value goes back where its max-pool switch says."""

import keras
import numpy as np
from keras import ops

from lessonlib.layers import _pool_geometry as geometry


@keras.saving.register_keras_serializable(package="lessonlib")
class MaxUnpooling2D(keras.layers.Layer):
    """Put each pooled value back where its switch says, and zeros everywhere else.

    The inverse of `MaxPoolingWithSwitches` in the lecture's sense: the output is "a larger
    sparse layer" in which, for a 2x2 pool, at most 1/4 of the activations are non-zero.
    Gradients flow to the values (the switches are integer positions).

    Args:
        pool_size, strides, padding: those of the `MaxPoolingWithSwitches` that made the
            switches.
        output_size: `(height, width)` of the input that was pooled. Needed when it cannot be
            told from the pooled size (odd sizes: 7 and 6 both pool to 3 with a 2x2 "valid"
            pool). By default the smallest size that pools to the values' size.

    Call arguments:
        values: `(batch, out_height, out_width, channels)`, e.g. a decoder's features.
        switches: int switches of the same shape, from `MaxPoolingWithSwitches`.

    Returns:
        `(batch, height, width, channels)`, the values at their switch positions, zero
        elsewhere. Where overlapping windows chose the same position, it holds that value once.

    Raises:
        ValueError: for bad arguments, values that are not 4-D, values and switches of
            different shapes, or an `output_size` that does not pool to the values' size.

    Example: pool a 4x4 image and put each maximum back where it was; 3 of 4 places are zero.

    >>> from lessonlib.layers import MaxPoolingWithSwitches
    >>> image = np.array([[1, 9, 2, 0],
    ...                   [4, 3, 8, 6],
    ...                   [7, 0, 5, 1],
    ...                   [2, 6, 3, 4]], dtype="float32").reshape(1, 4, 4, 1)
    >>> pooled, switches = MaxPoolingWithSwitches(pool_size=2)(image)
    >>> restored = MaxUnpooling2D(pool_size=2)(pooled, switches)
    >>> keras.ops.convert_to_numpy(restored)[0, :, :, 0].tolist()
    [[0.0, 9.0, 0.0, 0.0], [0.0, 0.0, 8.0, 0.0], [7.0, 0.0, 5.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", output_size=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = geometry.normalize_pair("pool_size", pool_size)
        self.strides = geometry.normalize_pair(
            "strides", self.pool_size if strides is None else strides
        )
        self.padding = geometry.normalize_padding(padding)
        self.output_size = (
            None if output_size is None else geometry.normalize_pair("output_size", output_size)
        )
        # For the values only: Keras checks `input_spec` against a call's first argument, so a
        # list of two specs would expect both tensors in it, as `layer([values, switches])`.
        # build() checks that the switches have the values' shape.
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _unpooled_size(self, out_height, out_width):
        if self.output_size is not None:
            return self.output_size
        sizes = []
        for length, pool, stride in zip(
            (out_height, out_width), self.pool_size, self.strides, strict=True
        ):
            if self.padding == "same":
                sizes.append((length - 1) * stride + 1)
            else:
                sizes.append((length - 1) * stride + pool)
        return tuple(sizes)

    def build(self, values_shape, switches_shape):
        if len(values_shape) != 4 or values_shape[1] is None or values_shape[2] is None:
            raise ValueError(
                "MaxUnpooling2D needs values of shape (batch, height, width, channels) with "
                f"known height and width. Received: values_shape={values_shape}"
            )
        if tuple(values_shape[1:]) != tuple(switches_shape[1:]):
            raise ValueError(
                "`values` and `switches` must have the same shape. Received: "
                f"values_shape={values_shape}, switches_shape={switches_shape}"
            )
        out_height, out_width = values_shape[1], values_shape[2]
        height, width = self._unpooled_size(out_height, out_width)
        pooled = geometry.pooled_size(height, width, self.pool_size, self.strides, self.padding)
        if pooled != (out_height, out_width):
            raise ValueError(
                f"An input of {height}x{width} pools to {pooled[0]}x{pooled[1]}, not to the "
                f"values' {out_height}x{out_width}, with pool_size={self.pool_size}, "
                f"strides={self.strides}, padding='{self.padding}'. "
                f"Received: output_size={self.output_size}"
            )
        covering = geometry.windows_covering(
            height, width, self.pool_size, self.strides, self.padding
        )
        self._height, self._width = height, width
        self._out_height, self._out_width = out_height, out_width
        self._num_windows = out_height * out_width
        self._depth = covering.shape[1]
        self._tiles = geometry.tiles_exactly(
            self.pool_size, self.strides, self.padding, height, width
        )
        positions = geometry.window_positions(
            height, width, self.pool_size, self.strides, self.padding
        )
        # NumPy, made tensors in `call`: build() may run inside a trace (a subclassed model's
        # first call), and a tensor made there does not outlive it.
        self._positions = positions[None, :, :, None].astype("int32")
        # Positions in no window read a zero value with switch -1 appended after the last one.
        self._gather_index = np.where(covering < 0, self._num_windows, covering).ravel()
        self._gather_index = self._gather_index.astype("int32")

    def _call_tiled(self, values, switches):
        """Windows side by side: compare each switch with its window's positions, reshape."""
        channels = values.shape[-1]
        (pool_h, pool_w) = self.pool_size
        values = ops.reshape(values, (-1, self._num_windows, 1, channels))
        switches = ops.reshape(ops.cast(switches, "int32"), (-1, self._num_windows, 1, channels))
        placed = ops.where(
            ops.equal(switches, ops.convert_to_tensor(self._positions)),
            values,
            ops.zeros_like(values),
        )
        # Window entry (u, v) of window (i, j) goes to pixel (i * pool_h + u, j * pool_w + v):
        # row u of every window, laid side by side, is image row i * pool_h + u.
        rows = [
            ops.reshape(
                placed[:, :, row * pool_w : (row + 1) * pool_w],
                (-1, self._out_height, self._out_width * pool_w, channels),
            )
            for row in range(pool_h)
        ]
        covered = (self._out_height * pool_h, self._out_width * pool_w)
        unpooled = ops.reshape(ops.stack(rows, axis=2), (-1, *covered, channels))
        if covered != (self._height, self._width):  # rows a "valid" pool dropped: zeros
            unpooled = ops.pad(
                unpooled,
                ((0, 0), (0, self._height - covered[0]), (0, self._width - covered[1]), (0, 0)),
            )
        return unpooled

    def call(self, values, switches):
        if self._tiles:
            return self._call_tiled(values, switches)
        channels = values.shape[-1]
        values = ops.reshape(values, (-1, self._num_windows, channels))
        switches = ops.reshape(ops.cast(switches, "int32"), (-1, self._num_windows, channels))
        values = ops.concatenate([values, ops.zeros_like(values[:, :1])], axis=1)
        switches = ops.concatenate([switches, ops.full_like(switches[:, :1], -1)], axis=1)
        size = self._height * self._width
        shape = (-1, size, self._depth, channels)
        gather_index = ops.convert_to_tensor(self._gather_index)
        candidates = ops.reshape(ops.take(values, gather_index, axis=1), shape)
        chosen = ops.reshape(ops.take(switches, gather_index, axis=1), shape)
        position = ops.reshape(ops.arange(size, dtype="int32"), (1, size, 1, 1))
        hit = ops.equal(chosen, position)
        placed = ops.where(hit, candidates, ops.zeros_like(candidates))
        if self._depth == 1:
            unpooled = placed[:, :, 0]
        else:
            # Overlapping windows may all have picked this position; their values are equal,
            # and their max is that value exactly (a mean, sum / count, can be an ulp off).
            lowest = ops.full_like(candidates, float("-inf"))
            largest = ops.max(ops.where(hit, candidates, lowest), axis=2)
            unpooled = ops.where(ops.any(hit, axis=2), largest, ops.zeros_like(largest))
        return ops.reshape(unpooled, (-1, self._height, self._width, channels))

    def compute_output_shape(self, values_shape, switches_shape=None):
        height, width = self._unpooled_size(values_shape[1], values_shape[2])
        return (values_shape[0], height, width, values_shape[3])

    def get_config(self):
        base_config = super().get_config()
        config = {
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_size": self.output_size,
        }
        return {**base_config, **config}

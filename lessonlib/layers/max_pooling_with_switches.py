"""Max pooling that also returns its switches, for unpooling (Zeiler & Fergus; Noh et al.)."""

import keras
import numpy as np
from keras import ops

from lessonlib import _backend
from lessonlib.layers import _pool_geometry as geometry


@keras.saving.register_keras_serializable(package="lessonlib")
class MaxPoolingWithSwitches(keras.layers.Layer):
    """2-D max pooling that returns the pooled values and where each maximum came from.

    The lecture's "switch variables": for every pooling window and channel, the position of
    the unit that won the max-pool. `MaxUnpooling2D` puts each value back there. Exactly one
    switch per window, also when several inputs tie (ReLU outputs tie at 0 all the time): the
    first maximum in row-major order wins. Gradients reach only the winning input.

    A NaN wins its window, as in NumPy's `argmax` and PyTorch's `max_pool2d`: the first NaN
    (or +inf, whichever comes first) in row-major order, on every backend (TensorFlow's own
    argmax would skip NaN). With `padding="same"`, a position in the padding never wins, not
    even against -inf or NaN inputs: every switch is a position in the input.

    Args:
        pool_size: int or `(height, width)` of the pooling window. Default 2.
        strides: int or pair; defaults to `pool_size`. Windows may overlap (stride < pool).
        padding: `"valid"` (windows inside the input) or `"same"` (output size
            `ceil(input / stride)`, padded as Keras's `MaxPooling2D` pads).

    Input shape:
        `(batch, height, width, channels)`, height and width known when the layer is built.

    Returns:
        `(pooled, switches)`: pooled of shape `(batch, out_height, out_width, channels)`, the
        same as `keras.layers.MaxPooling2D` gives, and int32 switches of the same shape
        holding the flat input position `y * width + x` of each maximum, per channel.

    Raises:
        ValueError: for a bad pool size, stride or padding, an input that is not 4-D with known
            height and width, or a window larger than a "valid" input.

    Example: each 2x2 window's maximum, and where it was (`y * width + x`).

    >>> image = np.array([[1, 9, 2, 0],
    ...                   [4, 3, 8, 6],
    ...                   [7, 0, 5, 1],
    ...                   [2, 6, 3, 4]], dtype="float32").reshape(1, 4, 4, 1)
    >>> pooled, switches = MaxPoolingWithSwitches(pool_size=2)(image)
    >>> keras.ops.convert_to_numpy(pooled)[0, :, :, 0].tolist()
    [[9.0, 8.0], [7.0, 5.0]]
    >>> keras.ops.convert_to_numpy(switches)[0, :, :, 0].tolist()
    [[1, 6], [8, 10]]
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = geometry.normalize_pair("pool_size", pool_size)
        self.strides = geometry.normalize_pair(
            "strides", self.pool_size if strides is None else strides
        )
        self.padding = geometry.normalize_padding(padding)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _output_size(self, height, width):
        return geometry.pooled_size(height, width, self.pool_size, self.strides, self.padding)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "MaxPoolingWithSwitches needs inputs of shape (batch, height, width, channels) "
                f"with known height and width. Received: input_shape={input_shape}"
            )
        height, width = input_shape[1], input_shape[2]
        out_height, out_width = self._output_size(height, width)
        if out_height < 1 or out_width < 1:
            raise ValueError(
                f"A pool of {self.pool_size} does not fit a {height}x{width} input with "
                f"padding='valid'; use a smaller pool or padding='same'. "
                f"Received: input_shape={input_shape}"
            )
        positions = geometry.window_positions(
            height, width, self.pool_size, self.strides, self.padding
        )
        # Each window's padding entries (-1) moved after its input positions, which keep their
        # row-major order: argmax takes the first of equal values, so the padding's -inf
        # loses every tie, also against an input of -inf.
        order = np.argsort(positions < 0, axis=1, kind="stable")
        positions = np.take_along_axis(positions, order, axis=1)
        self._height, self._width = height, width
        self._num_windows, self._window_length = positions.shape
        self._tiles = geometry.tiles_exactly(
            self.pool_size, self.strides, self.padding, height, width
        )
        # Padding reads a -inf appended after the last position, so it never wins. Kept as
        # NumPy and made tensors in `call`: build() may run inside a trace (a subclassed
        # model's first call), and a tensor made there does not outlive it.
        self._gather_index = np.where(positions < 0, height * width, positions).ravel()
        self._gather_index = self._gather_index.astype("int32")
        self._positions = positions.ravel().astype("int32")
        # Where windows tile the input, PyTorch's own kernel pools them (`_torch_call`).
        self._pool = (
            _backend.select({"torch": self._torch_call}, "", default=self._pool_windows)
            if self._tiles
            else self._pool_windows
        )

    def _windows(self, inputs):
        """`(batch, num_windows, window_length, channels)`, window entries in row-major order."""
        channels = inputs.shape[-1]
        if self._tiles:  # windows side by side: strided slices, no gather
            (pool_h, pool_w) = self.pool_size
            out_h, out_w = self._output_size(self._height, self._width)
            cropped = inputs[:, : out_h * pool_h, : out_w * pool_w]
            entries = [
                cropped[:, row::pool_h, column::pool_w]
                for row in range(pool_h)
                for column in range(pool_w)
            ]
            windows = ops.stack(entries, axis=3)
            return ops.reshape(windows, (-1, self._num_windows, self._window_length, channels))
        flat = ops.reshape(inputs, (-1, self._height * self._width, channels))
        lowest = ops.full_like(flat[:, :1], float("-inf"))
        windows = ops.take(
            ops.concatenate([flat, lowest], axis=1),
            ops.convert_to_tensor(self._gather_index),
            axis=1,
        )
        return ops.reshape(windows, (-1, self._num_windows, self._window_length, channels))

    def _torch_call(self, inputs):
        """PyTorch's own max_pool2d, which returns the same switches, for tiling windows.

        PyTorch runs ops eagerly, one kernel each, so the generic path (slices, argmax,
        gathers) costs several times a plain pooling there. `max_pool2d(return_indices=True)`
        gives, per channel plane, the flat position `y * width + x` of each maximum, taking
        the first in row-major order on ties, and routes gradients to it: the layer's own
        contract, in one kernel. Only used where windows tile the input without padding,
        where both pool exactly the same windows.
        """
        import torch

        planes = inputs.permute(0, 3, 1, 2)  # NCHW view of NHWC data: no copy
        pooled, switches = torch.nn.functional.max_pool2d(
            planes, self.pool_size, self.strides, return_indices=True
        )
        return pooled.permute(0, 2, 3, 1), switches.permute(0, 2, 3, 1).to(torch.int32)

    def call(self, inputs):
        return self._pool(inputs)

    def _pool_windows(self, inputs):
        """Every backend: gather each window's entries, take the first maximum, look up its
        position."""
        channels = inputs.shape[-1]
        windows = self._windows(inputs)
        # NaN as +inf, so it wins on every backend; the first maximum in row-major order.
        keys = ops.where(ops.isnan(windows), float("inf"), windows)
        winner = ops.argmax(keys, axis=2)
        pooled = ops.take_along_axis(windows, ops.expand_dims(winner, 2), axis=2)
        window_start = ops.arange(self._num_windows, dtype="int32") * self._window_length
        switches = ops.take(
            ops.convert_to_tensor(self._positions),
            ops.cast(winner, "int32") + window_start[None, :, None],
        )
        out_height, out_width = self._output_size(self._height, self._width)
        shape = (-1, out_height, out_width, channels)
        return ops.reshape(pooled, shape), ops.reshape(ops.cast(switches, "int32"), shape)

    def compute_output_shape(self, input_shape):
        out_height, out_width = self._output_size(input_shape[1], input_shape[2])
        shape = (input_shape[0], out_height, out_width, input_shape[3])
        return shape, shape

    def compute_output_spec(self, inputs):
        pooled_shape, switches_shape = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(pooled_shape, dtype=self.compute_dtype),
            keras.KerasTensor(switches_shape, dtype="int32"),
        )

    def get_config(self):
        base_config = super().get_config()
        config = {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}
        return {**base_config, **config}

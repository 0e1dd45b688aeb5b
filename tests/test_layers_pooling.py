import os

import keras
import numpy as np
import pytest
from keras import layers, ops

from lessonlib.layers import MaxPoolingWithSwitches, MaxUnpooling2D
from lessonlib.layers import _pool_geometry as geometry


def reference_pool(x, pool_size, strides, padding):
    """Max pooling with switches in plain loops: the first maximum in row-major order wins."""
    batch, height, width, channels = x.shape
    (pool_h, pool_w), (stride_h, stride_w) = pool_size, strides
    if padding == "same":
        out_h, out_w = -(-height // stride_h), -(-width // stride_w)
        top = -(max((out_h - 1) * stride_h + pool_h - height, 0) // 2)
        left = -(max((out_w - 1) * stride_w + pool_w - width, 0) // 2)
    else:
        out_h, out_w = (height - pool_h) // stride_h + 1, (width - pool_w) // stride_w + 1
        top = left = 0
    pooled = np.zeros((batch, out_h, out_w, channels), x.dtype)
    switches = np.zeros((batch, out_h, out_w, channels), np.int32)
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                for c in range(channels):
                    best, where = -np.inf, -1
                    for u in range(pool_h):
                        for v in range(pool_w):
                            y, z = top + i * stride_h + u, left + j * stride_w + v
                            if 0 <= y < height and 0 <= z < width and x[b, y, z, c] > best:
                                best, where = x[b, y, z, c], y * width + z
                    pooled[b, i, j, c], switches[b, i, j, c] = best, where
    return pooled, switches


def reference_unpool(values, switches, height, width):
    batch, _, _, channels = values.shape
    out = np.zeros((batch, height * width, channels), values.dtype)
    for b in range(batch):
        for c in range(channels):
            out[b, switches[b, ..., c].ravel(), c] = values[b, ..., c].ravel()
    return out.reshape(batch, height, width, channels)


def ties(shape, seed=0):
    """ReLU-like data: many exact zeros and repeated values, so windows tie often."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.integers(-3, 3, size=shape), 0).astype("float32")


CASES = [
    ((2, 2), None, "valid", (2, 8, 8, 3)),
    ((2, 2), None, "valid", (1, 7, 9, 2)),  # odd sizes: the last row/column is dropped
    ((2, 2), None, "same", (1, 7, 9, 2)),  # odd sizes: padded
    ((3, 3), (2, 2), "valid", (2, 9, 9, 1)),  # overlapping windows (Zeiler & Fergus)
    ((3, 3), (2, 2), "same", (1, 8, 6, 2)),
    ((3, 2), (3, 2), "valid", (1, 9, 8, 2)),  # rectangular
    ((2, 2), (3, 3), "valid", (1, 8, 8, 1)),  # gaps between windows
]


@pytest.mark.parametrize("pool_size, strides, padding, shape", CASES)
def test_pooling_matches_the_reference_and_keras(pool_size, strides, padding, shape):
    x = ties(shape)
    layer = MaxPoolingWithSwitches(pool_size, strides, padding)
    pooled, switches = layer(x)
    expected_pooled, expected_switches = reference_pool(x, pool_size, strides or pool_size, padding)
    np.testing.assert_array_equal(ops.convert_to_numpy(pooled), expected_pooled)
    np.testing.assert_array_equal(ops.convert_to_numpy(switches), expected_switches)
    keras_pooled = layers.MaxPooling2D(pool_size, strides, padding)(x)
    np.testing.assert_array_equal(ops.convert_to_numpy(pooled), ops.convert_to_numpy(keras_pooled))


@pytest.mark.parametrize("pool_size, strides, padding, shape", CASES)
def test_unpooling_puts_each_value_back_at_its_switch(pool_size, strides, padding, shape):
    x = ties(shape, seed=1) + np.random.default_rng(2).random(shape).astype("float32")
    pooled, switches = MaxPoolingWithSwitches(pool_size, strides, padding)(x)
    unpooled = MaxUnpooling2D(pool_size, strides, padding, output_size=shape[1:3])(pooled, switches)
    expected = reference_unpool(
        ops.convert_to_numpy(pooled), ops.convert_to_numpy(switches), *shape[1:3]
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(unpooled), expected)


@pytest.mark.parametrize("pool_size, strides, padding, shape", CASES)
def test_each_position_lists_the_windows_that_contain_it(pool_size, strides, padding, shape):
    # Unpooling's gather reads these lists; compare them with lists built in plain loops.
    height, width = shape[1:3]
    strides = strides or pool_size
    positions = geometry.window_positions(height, width, pool_size, strides, padding)
    expected = [[] for _ in range(height * width)]
    for window, entries in enumerate(positions):
        for position in entries[entries >= 0]:
            expected[position].append(window)
    table = geometry.windows_covering(height, width, pool_size, strides, padding)
    assert table.shape == (height * width, max(1, max(len(row) for row in expected)))
    for position, windows in enumerate(expected):
        np.testing.assert_array_equal(
            table[position], windows + [-1] * (table.shape[1] - len(windows))
        )


def test_unpool_of_pool_keeps_exactly_the_maxima_and_three_quarters_are_zero():
    x = np.random.default_rng(0).random((2, 8, 8, 4)).astype("float32")  # no ties
    pooled, switches = MaxPoolingWithSwitches(2)(x)
    unpooled = ops.convert_to_numpy(MaxUnpooling2D(2)(pooled, switches))
    kept = unpooled != 0
    assert kept.mean() == 0.25
    np.testing.assert_array_equal(unpooled[kept], x[kept])
    windows = x.reshape(2, 4, 2, 4, 2, 4).max(axis=(2, 4))
    np.testing.assert_array_equal(np.sort(unpooled[kept]), np.sort(windows.ravel()))


def test_exactly_one_switch_per_window_when_everything_ties():
    x = np.zeros((1, 4, 4, 1), "float32")  # ReLU outputs: all zero
    pooled, switches = MaxPoolingWithSwitches(2)(x)
    np.testing.assert_array_equal(ops.convert_to_numpy(switches)[0, ..., 0], [[0, 2], [8, 10]])
    ones = MaxUnpooling2D(2)(ops.ones_like(pooled), switches)
    assert float(ops.sum(ones)) == 4.0  # one position per window, not all four


def test_gradients_reach_the_winning_input_and_the_unpooled_values():
    x = np.array([[1.0, 3.0], [3.0, 2.0]], "float32").reshape(1, 2, 2, 1)
    inputs = keras.Input((2, 2, 1))
    pooled, switches = MaxPoolingWithSwitches(2)(inputs)
    outputs = MaxUnpooling2D(2)(pooled * 5.0, switches)
    model = keras.Model(inputs, outputs)
    gradient = gradient_of_sum(model, x)
    # Only the first of the tied maxima (row-major) receives the gradient, times 5.
    np.testing.assert_array_equal(gradient.reshape(2, 2), [[0.0, 5.0], [0.0, 0.0]])


def gradient_of_sum(model, x):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensor = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            total = tf.reduce_sum(model(tensor))
        return tape.gradient(total, tensor).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda t: model(t).sum())(x))
    import torch

    tensor = torch.tensor(x, requires_grad=True)
    model(tensor).sum().backward()
    return tensor.grad.numpy()


def test_a_model_with_both_layers_saves_loads_and_fits(tmp_path):
    inputs = keras.Input((7, 7, 1))
    features = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    pooled, switches = MaxPoolingWithSwitches(2, padding="same")(features)
    unpooled = MaxUnpooling2D(2, padding="same", output_size=(7, 7))(pooled, switches)
    outputs = layers.Conv2DTranspose(1, 3, padding="same")(unpooled)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((8, 7, 7, 1)).astype("float32")
    history = model.fit(x, x, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = os.path.join(tmp_path, "unpool.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), rtol=1e-6, atol=1e-6
    )


def test_configs_round_trip():
    pool = MaxPoolingWithSwitches((3, 2), strides=(2, 1), padding="same", name="pool")
    assert MaxPoolingWithSwitches.from_config(pool.get_config()).get_config() == pool.get_config()
    unpool = MaxUnpooling2D(3, 2, "valid", output_size=(9, 9))
    assert MaxUnpooling2D.from_config(unpool.get_config()).get_config() == unpool.get_config()


def test_output_shapes():
    pooled, switches = MaxPoolingWithSwitches(2)(keras.Input((7, 9, 3)))
    assert pooled.shape == (None, 3, 4, 3) and switches.dtype == "int32"
    assert MaxUnpooling2D(2)(pooled, switches).shape == (None, 6, 8, 3)
    assert MaxUnpooling2D(2, output_size=(7, 9))(pooled, switches).shape == (None, 7, 9, 3)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"pool_size": 0}, r"pool_size=0"),
        ({"pool_size": (2, 2, 2)}, r"pool_size=\(2, 2, 2\)"),
        ({"strides": -1}, r"strides=-1"),
        ({"padding": "full"}, r"padding='full'"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        MaxPoolingWithSwitches(**kwargs)
    with pytest.raises(ValueError, match=pattern):
        MaxUnpooling2D(**kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"does not fit a 2x2 input"):
        MaxPoolingWithSwitches(3)(np.zeros((1, 2, 2, 1), "float32"))
    # A 3-D input gets Keras's ndim error (below); one of unknown height and width, this.
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\) with known"):
        MaxPoolingWithSwitches(2)(keras.Input((None, None, 1)))
    pooled = np.zeros((1, 3, 3, 1), "float32")
    switches = np.zeros((1, 3, 3, 1), "int32")
    with pytest.raises(ValueError, match=r"10x10 pools to 5x5, not to the values' 3x3"):
        MaxUnpooling2D(2, output_size=(10, 10))(pooled, switches)
    with pytest.raises(ValueError, match=r"same shape"):
        MaxUnpooling2D(2)(pooled, np.zeros((1, 3, 2, 1), "int32"))


def test_a_3d_input_gets_the_keras_ndim_error_naming_the_layer():
    image = np.zeros((4, 4, 1), "float32")  # no batch axis
    with pytest.raises(
        ValueError,
        match=r"layer 'pool' is incompatible with the layer: "
        r"expected ndim=4, found ndim=3",
    ):
        MaxPoolingWithSwitches(2, name="pool")(image)
    switches = np.zeros((2, 2, 1), "int32")
    with pytest.raises(
        ValueError,
        match=r"layer 'unpool' is incompatible with the layer: "
        r"expected ndim=4, found ndim=3",
    ):
        MaxUnpooling2D(2, name="unpool")(image[:2, :2], switches)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_overlapping_windows_that_pick_the_same_position_unpool_it_exactly(dtype):
    # Three windows of width 3, stride 1, all pick position 2: the value comes back as it was,
    # not as a mean of three copies (a sum / count is an ulp off in float32, more in bfloat16).
    x = np.array([0, 0, 0.8132702, 0, 0], "float32").reshape(1, 1, 5, 1)
    x = ops.cast(ops.convert_to_tensor(x), dtype)
    pooled, switches = MaxPoolingWithSwitches((1, 3), strides=1)(x)
    np.testing.assert_array_equal(ops.convert_to_numpy(switches).ravel(), [2, 2, 2])
    unpooled = MaxUnpooling2D((1, 3), strides=1, output_size=(1, 5))(pooled, switches)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ops.cast(unpooled, "float32")),
        ops.convert_to_numpy(ops.cast(x, "float32")),
    )


@pytest.mark.parametrize("fill", [np.nan, -np.inf])
def test_padding_never_wins_and_nan_wins_on_every_backend(fill):
    # Pool 3, stride 2, "same" on 5x5 pads one row and column on each side, so the first
    # window starts in the padding. Its four image cells hold `fill`; the padding's -inf must
    # still lose (its switch, -1, is no position of the input).
    x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    x[0, :2, :2, 0] = fill
    pooled, switches = MaxPoolingWithSwitches(3, strides=2, padding="same")(x)
    pooled, switches = ops.convert_to_numpy(pooled), ops.convert_to_numpy(switches)
    assert switches.min() >= 0 and switches.max() < 25
    assert switches[0, 0, 0, 0] == 0  # the first image cell in row-major order
    if np.isnan(fill):
        assert np.isnan(pooled[0, 0, 0, 0])
    else:
        assert pooled[0, 0, 0, 0] == -np.inf
    unpooled = MaxUnpooling2D(3, strides=2, padding="same", output_size=(5, 5))(pooled, switches)
    assert ops.convert_to_numpy(unpooled).shape == (1, 5, 5, 1)


def test_a_nan_wins_its_window_where_windows_tile():
    x = np.zeros((1, 4, 4, 1), "float32")
    x[0, 1, 1, 0], x[0, 0, 0, 0] = np.nan, 5.0
    pooled, switches = MaxPoolingWithSwitches(2)(x)
    assert np.isnan(ops.convert_to_numpy(pooled)[0, 0, 0, 0])
    assert ops.convert_to_numpy(switches)[0, 0, 0, 0] == 5  # position (1, 1) of a 4-wide input


@pytest.mark.parametrize(
    "pool_size, strides, padding, shape", [CASES[0], CASES[4]], ids=["tiled", "overlapping"]
)
def test_a_subclassed_model_builds_both_layers_within_its_first_call(
    pool_size, strides, padding, shape
):
    # A subclassed model builds its layers while tracing its call: inside a jit on JAX, a
    # graph on TensorFlow (both raised), with data-less "meta" tensors on PyTorch (the maps
    # kept from there unpooled every value to 0). What build() keeps must outlive the trace.
    class PoolUnpool(keras.Model):
        def __init__(self):
            super().__init__()
            self.pool = MaxPoolingWithSwitches(pool_size, strides, padding)
            self.unpool = MaxUnpooling2D(pool_size, strides, padding, output_size=shape[1:3])

        def call(self, inputs):
            return self.unpool(*self.pool(inputs))

    x = np.random.default_rng(0).random(shape).astype("float32")
    expected = reference_unpool(
        *reference_pool(x, pool_size, strides or pool_size, padding), *shape[1:3]
    )
    model = PoolUnpool()
    np.testing.assert_array_equal(ops.convert_to_numpy(model(x)), expected)
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)

import keras
import numpy as np
import pytest
from keras import layers, ops

from lessonlib import autodiff, deconvolution

# float64 on TensorFlow and PyTorch: the sums differ only in the order of additions (~1e-15).
# JAX computes in float32 unless x64 is enabled process-wide, so there float32 rounding applies.
TOLERANCE = (
    {"rtol": 1e-5, "atol": 1e-5}
    if keras.backend.backend() == "jax"
    else {"rtol": 1e-10, "atol": 1e-12}
)


def keras_transposed(activations, kernel, strides, padding):
    layer = layers.Conv2DTranspose(
        kernel.shape[2],
        kernel.shape[:2],
        strides=strides,
        padding=padding,
        use_bias=False,
        dtype="float64",
    )
    layer.build((None, *activations.shape))
    layer.set_weights([kernel])
    return ops.convert_to_numpy(layer(activations[None]))[0]


CASES = [
    (3, 1, "valid"),
    (3, 2, "valid"),
    (3, 2, "same"),
    (4, 2, "same"),
    (2, 3, "valid"),
    (2, 3, "same"),
    (5, 1, "same"),
    ((3, 2), (2, 1), "valid"),
]


@pytest.mark.parametrize("kernel_size, strides, padding", CASES)
def test_the_basis_sum_equals_conv2d_transpose(kernel_size, strides, padding):
    rng = np.random.default_rng(0)
    kernel_size = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    activations = rng.normal(size=(4, 5, 3))
    kernel = rng.normal(size=(*kernel_size, 2, 3))
    ours = deconvolution.transposed_conv2d(activations, kernel, strides, padding)
    np.testing.assert_allclose(
        ours, keras_transposed(activations, kernel, strides, padding), **TOLERANCE
    )


@pytest.mark.parametrize("kernel_size, strides, padding", CASES[:6])
def test_the_basis_sum_is_the_gradient_of_the_matching_conv2d(kernel_size, strides, padding):
    rng = np.random.default_rng(1)
    activations = rng.normal(size=(4, 5, 3))
    kernel = rng.normal(size=(kernel_size, kernel_size, 2, 3))
    ours = deconvolution.transposed_conv2d(activations, kernel, strides, padding)
    # Conv2D maps an input of our output's size to `activations`' size; the gradient of
    # <conv(x), activations> with respect to x is the transposed convolution of activations.
    x = np.zeros((1, *ours.shape))
    weights = ops.convert_to_tensor(activations[None])

    def inner_product(tensor):
        convolved = ops.conv(
            tensor, ops.convert_to_tensor(kernel), strides=strides, padding=padding
        )
        return ops.sum(convolved * weights)

    np.testing.assert_allclose(autodiff.gradient(inner_product, x)[0], ours, **TOLERANCE)


def test_one_activation_copies_the_kernel_and_the_boundary_is_cropped():
    kernel = np.arange(9.0).reshape(3, 3, 1, 1)
    activations = np.zeros((2, 2, 1))
    activations[1, 0, 0] = 2.0
    full = deconvolution.basis_sum(activations, kernel, strides=2)
    assert full.shape == (5, 5, 1)
    np.testing.assert_array_equal(full[2:5, 0:3, 0], 2 * kernel[..., 0, 0])
    assert np.count_nonzero(full) == 8  # the kernel's 0 stays 0
    same = deconvolution.transposed_conv2d(activations, kernel, strides=2, padding="same")
    assert same.shape == (4, 4, 1)
    np.testing.assert_array_equal(same, full[:4, :4])  # crops max(3 - 2, 0) // 2 = 0 at the top


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"kernel of shape \(3, 3\)"):
        deconvolution.transposed_conv2d(np.zeros((2, 2, 1)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"activations of shape \(2, 2, 4\)"):
        deconvolution.transposed_conv2d(np.zeros((2, 2, 4)), np.zeros((3, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"padding='full'"):
        deconvolution.transposed_conv2d(np.zeros((2, 2, 1)), np.zeros((3, 3, 1, 1)), padding="full")


def small_network():
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(8, 3, padding="valid", activation="relu", name="conv3")(x)
    return keras.Model(inputs, x)


def test_projection_stays_inside_the_receptive_field():
    keras.utils.set_random_seed(0)
    model = small_network()
    image = np.random.default_rng(0).random((16, 16, 1)).astype("float32")
    projection = deconvolution.project_to_pixels(model, image, "conv3")
    features = ops.convert_to_numpy(model(image[None]))[0]
    assert projection.activation == pytest.approx(features.max(), rel=1e-5)
    assert features[(*projection.position, projection.channel)] == pytest.approx(
        projection.activation, rel=1e-5
    )
    # conv3 (valid 3x3) at row r sees rows r..r+2 of pool2, 2r..2r+5 of conv2, 2r-1..2r+6 of
    # pool1, 4r-2..4r+13 of conv1 and 4r-3..4r+14 of the image (18 rows), clipped to 0..15.
    row, column = projection.position
    assert projection.receptive_field == (
        max(4 * row - 3, 0),
        min(4 * row + 15, 16),
        max(4 * column - 3, 0),
        min(4 * column + 15, 16),
    )
    top, bottom, left, right = projection.receptive_field
    pixels = projection.pixels[..., 0]
    assert np.abs(pixels).sum() > 0
    outside = np.ones_like(pixels, dtype=bool)
    outside[top:bottom, left:right] = False
    assert np.all(pixels[outside] == 0)


def test_projection_of_a_first_layer_unit_is_its_filter():
    model = small_network()
    image = np.random.default_rng(1).random((16, 16, 1)).astype("float32")
    projection = deconvolution.project_to_pixels(model, image, "conv1", channel=2)
    row, column = projection.position
    kernel = ops.convert_to_numpy(model.get_layer("conv1").kernel)[..., 0, 2]
    expected = np.zeros((18, 18))
    expected[row : row + 3, column : column + 3] = projection.activation * kernel
    np.testing.assert_allclose(
        projection.pixels[..., 0], expected[1:17, 1:17], rtol=1e-5, atol=1e-6
    )


def test_projection_works_on_vgg16():
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    image = np.random.default_rng(0).random((32, 32, 3)).astype("float32") * 255
    projection = deconvolution.project_to_pixels(model, image, "block3_conv3")
    assert projection.pixels.shape == (32, 32, 3)
    assert np.abs(projection.pixels).sum() > 0


def test_projection_errors():
    model = small_network()
    image = np.zeros((16, 16, 1), "float32")
    with pytest.raises(ValueError, match=r"layer_name='conv9'"):
        deconvolution.project_to_pixels(model, image, "conv9")
    with pytest.raises(ValueError, match=r"channel=99"):
        deconvolution.project_to_pixels(model, image, "conv2", channel=99)
    with pytest.raises(ValueError, match=r"image of shape \(16, 16\)"):
        deconvolution.project_to_pixels(model, image[..., 0], "conv2")
    inputs = keras.Input((8, 8, 1))
    dense = keras.Model(inputs, layers.Dense(3, name="dense")(layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match=r"is a Flatten"):
        deconvolution.project_to_pixels(dense, np.zeros((8, 8, 1)), "dense")


@pytest.mark.parametrize(
    "kernel_sizes, strides",
    [([5], [2]), ([5, 5, 5], [1, 2, 2]), ([3, 4], [2, 2]), ([2, 3], [3, 1]), ([1, 3], [2, 2])],
)
def test_transposed_footprint_is_what_one_value_reaches(kernel_sizes, strides):
    # One value pushed through the stack ("valid", positive kernels, so nothing cancels):
    # the square it reaches, measured, against the count.
    reached = np.zeros((3, 3, 1))
    reached[1, 1, 0] = 1.0
    for kernel, stride in zip(kernel_sizes, strides, strict=True):
        reached = deconvolution.transposed_conv2d(
            reached, np.ones((kernel, kernel, 1, 1)), strides=stride, padding="valid"
        )
    rows = np.flatnonzero(reached[..., 0].any(axis=1))
    columns = np.flatnonzero(reached[..., 0].any(axis=0))
    side = deconvolution.transposed_footprint(kernel_sizes, strides)
    # The span, not the count of pixels: a stride above the kernel leaves gaps inside it.
    assert (rows.max() - rows.min() + 1, columns.max() - columns.min() + 1) == (side, side)


def test_transposed_footprint_names_a_bad_argument():
    with pytest.raises(ValueError, match="kernel_sizes=\\[5, 5\\], strides=\\[2\\]"):
        deconvolution.transposed_footprint([5, 5], [2])
    with pytest.raises(ValueError, match="strides entries"):
        deconvolution.transposed_footprint([5], [0])

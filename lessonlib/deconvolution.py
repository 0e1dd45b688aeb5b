"""Deconvolution as the lecture describes it, and Zeiler & Fergus's projection back to pixels.

"Deconvolution multiplies each non-zero activation by the learned receptive field. These are
then summed to create the fully activated layer. The boundary is cropped to obtain an image at
the original window size." `transposed_conv2d` does exactly that in plain NumPy, so a student
can read it; it equals `keras.layers.Conv2DTranspose` and the gradient of the matching `Conv2D`
(tests/test_deconvolution.py).

`project_to_pixels` runs a plain Conv/ReLU/MaxPool network backwards from one activation:
unpooling with that image's switches, ReLU, and the transposed filters (Zeiler & Fergus 2014).
"""

import dataclasses

import keras
import numpy as np
from keras import layers, ops

from lessonlib import _validation
from lessonlib.layers import MaxPoolingWithSwitches, MaxUnpooling2D
from lessonlib.layers import _pool_geometry as geometry


def _check_4d_kernel(kernel):
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 4:
        raise ValueError(
            "`kernel` must have shape (kernel_height, kernel_width, out_channels, in_channels), "
            f"as Conv2DTranspose's. Received: kernel of shape {kernel.shape}"
        )
    return kernel


def basis_sum(activations, kernel, strides=1):
    """Place a copy of the kernel at every activation, scaled by it, and sum: no cropping.

    Args:
        activations: `(height, width, in_channels)` or with a leading batch axis.
        kernel: `(kernel_height, kernel_width, out_channels, in_channels)`, the layout of a
            `Conv2DTranspose` kernel (and of the `Conv2D` kernel it transposes).
        strides: int or pair: how far apart, in output pixels, neighbouring copies are.

    Returns:
        float64 array `(batch?, (height - 1) * stride + kernel_height, ..., out_channels)`:
        the "fully activated layer" before its boundary is cropped.
    """
    kernel = _check_4d_kernel(kernel)
    stride_h, stride_w = geometry.normalize_pair("strides", strides)
    activations = np.asarray(activations, dtype=np.float64)
    batched = activations.ndim == 4
    if activations.ndim not in (3, 4) or activations.shape[-1] != kernel.shape[3]:
        raise ValueError(
            f"`activations` must be (height, width, {kernel.shape[3]}) or batched, with one "
            "channel per kernel input channel. "
            f"Received: activations of shape {activations.shape}"
        )
    if not batched:
        activations = activations[None]
    batch, height, width, _ = activations.shape
    kernel_h, kernel_w, out_channels, _ = kernel.shape
    full = np.zeros(
        (batch, (height - 1) * stride_h + kernel_h, (width - 1) * stride_w + kernel_w, out_channels)
    )
    for i in range(height):
        for j in range(width):
            # activation (i, j) times the learned receptive field, placed at (i*s, j*s)
            term = np.einsum("bc,uvoc->buvo", activations[:, i, j], kernel)
            top, left = i * stride_h, j * stride_w
            full[:, top : top + kernel_h, left : left + kernel_w] += term
    return full if batched else full[0]


def transposed_output_size(length, kernel, stride, padding):
    """Output length of a transposed convolution, as Keras's `Conv2DTranspose` computes it."""
    if padding == "same":
        return length * stride
    return length * stride + max(kernel - stride, 0)


def crop_offset(kernel, stride, padding):
    """How many rows of the basis sum are cropped at the top (or columns at the left)."""
    if padding == "valid":
        return 0
    return max(kernel - stride, 0) // 2


def transposed_footprint(kernel_sizes, strides):
    """The side of the square of outputs one input value can change through a stack of
    transposed convolutions, before cropping.

    The "same" padding only shifts the span (`crop_offset`) and cuts what falls outside the
    output. (Lesson 07 asks for the count as an exercise, so its derivation is left out here.)

    Args:
        kernel_sizes, strides: one entry per layer, first layer first.

    Returns:
        int: the side of the square footprint, in the last layer's output.
    """
    if len(kernel_sizes) != len(strides):
        raise ValueError(
            "Each layer needs a kernel size and a stride. Received: "
            f"kernel_sizes={kernel_sizes}, strides={strides}"
        )
    width = 1
    for kernel, stride in zip(kernel_sizes, strides, strict=True):
        kernel = _validation.positive_int("kernel_sizes entries", kernel)
        stride = _validation.positive_int("strides entries", stride)
        width = (width - 1) * stride + kernel
    return width


def transposed_conv2d(activations, kernel, strides=1, padding="valid"):
    """Transposed convolution ("deconvolution") as a sum of scaled kernels, boundary cropped.

    Args:
        activations: `(height, width, in_channels)`, or with a leading batch axis.
        kernel: `(kernel_height, kernel_width, out_channels, in_channels)`.
        strides: int or pair.
        padding: `"valid"` or `"same"`, with Keras's meaning: the output has the size of the
            input that a `Conv2D` with this kernel, stride and padding would map to
            `activations`.

    Returns:
        float64 array: what `keras.layers.Conv2DTranspose(..., use_bias=False)` returns.

    Example:

    >>> output = transposed_conv2d(np.ones((2, 2, 1)), np.ones((3, 3, 1, 1)), strides=2)
    >>> output.shape
    (5, 5, 1)
    """
    kernel = _check_4d_kernel(kernel)
    padding = geometry.normalize_padding(padding)
    stride_h, stride_w = geometry.normalize_pair("strides", strides)
    full = basis_sum(activations, kernel, (stride_h, stride_w))
    batched = full.ndim == 4
    if not batched:
        full = full[None]
    sizes, offsets = [], []
    for axis, (kernel_size, stride) in enumerate(
        zip(kernel.shape[:2], (stride_h, stride_w), strict=True)
    ):
        length = np.asarray(activations).shape[-3 + axis]
        sizes.append(transposed_output_size(length, kernel_size, stride, padding))
        offsets.append(crop_offset(kernel_size, stride, padding))
    # When the stride exceeds the kernel, the output extends past the last copy with zeros.
    canvas = np.zeros(
        (
            full.shape[0],
            max(full.shape[1], offsets[0] + sizes[0]),
            max(full.shape[2], offsets[1] + sizes[1]),
            full.shape[3],
        )
    )
    canvas[:, : full.shape[1], : full.shape[2]] = full
    output = canvas[:, offsets[0] : offsets[0] + sizes[0], offsets[1] : offsets[1] + sizes[1]]
    return output if batched else output[0]


@dataclasses.dataclass(frozen=True)
class Projection:
    """The result of `project_to_pixels` (or `Projector.project`).

    Attributes:
        pixels: `(height, width, channels)` float array: the strongest activation's
            reconstruction in the input's pixel space.
        channel: the feature map projected.
        position: `(row, column)` of its strongest activation in that feature map.
        activation: the value of that activation.
        receptive_field: `(top, bottom, left, right)`, the input region (bottom and right
            excluded, clipped to the image) that the activation can see.
        stages: with `stages=True`, the signal on its way down: `(size, array)` pairs, one
            per resolution once all its convolutions are transposed (the first at the
            projected layer's resolution, the last one `pixels`); else empty.
    """

    pixels: np.ndarray
    channel: int
    position: tuple
    activation: float
    receptive_field: tuple
    stages: tuple = ()


def _plain_layers(model, layer_name):
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"`layer_name` must name a layer of the model ({', '.join(names)}). "
            f"Received: layer_name={layer_name!r}"
        )
    chain = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        conv_ok = (
            isinstance(layer, layers.Conv2D)
            and not isinstance(layer, layers.Conv2DTranspose)
            and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1)
            and (layer.activation in (keras.activations.relu, keras.activations.linear))
            and layer.data_format == "channels_last"
        )
        pool_ok = isinstance(layer, layers.MaxPooling2D) and layer.data_format == "channels_last"
        relu_ok = (
            isinstance(layer, (layers.ReLU, layers.Activation))
            and getattr(layer, "activation", keras.activations.relu) is keras.activations.relu
        )
        if not (conv_ok or pool_ok or relu_ok):
            raise ValueError(
                "project_to_pixels works on plain networks of stride-1 Conv2D (ReLU or linear), "
                f"ReLU and MaxPooling2D layers, channels last. Layer {layer.name!r} is a "
                f"{type(layer).__name__}. Received: layer_name={layer_name!r}"
            )
        chain.append(layer)
        if layer.name == layer_name:
            return chain
    return chain


def _receptive_field(chain, position, image_size):
    """The input rows and columns a unit at `position` of the chain's output can see."""
    spans = [[position[0], position[0]], [position[1], position[1]]]
    for layer in reversed(chain):
        if isinstance(layer, layers.Conv2D):  # stride 1 (checked by _plain_layers)
            windows, strides = layer.kernel_size, (1, 1)
        elif isinstance(layer, layers.MaxPooling2D):
            windows, strides = layer.pool_size, layer.strides
        else:  # ReLU: unit to unit
            continue
        for axis in range(2):
            window, stride = windows[axis], strides[axis]
            start = geometry.first_window_offset(
                layer.input.shape[1 + axis], window, stride, layer.padding
            )
            spans[axis] = [
                spans[axis][0] * stride + start,
                spans[axis][1] * stride + start + window - 1,
            ]
    (top, bottom), (left, right) = spans
    return (
        max(top, 0),
        min(bottom + 1, image_size[0]),
        max(left, 0),
        min(right + 1, image_size[1]),
    )


def receptive_field_size(model, layer_name):
    """The side, in input pixels, of what one unit of `layer_name` can see.

    Counted without the image's border: each k x k window, convolution or pooling, widens it by
    (k - 1) times the distance in pixels between neighbouring units of its input, and each
    pooling multiplies that distance by its stride. For VGG16's `block5_conv3` it is 196.
    """
    chain = _plain_layers(model, layer_name)
    size, step = [1, 1], [1, 1]
    for layer in chain:
        if isinstance(layer, layers.Conv2D):
            windows, strides = layer.kernel_size, (1, 1)
        elif isinstance(layer, layers.MaxPooling2D):
            windows, strides = layer.pool_size, layer.strides
        else:
            continue
        for axis in range(2):
            size[axis] += (windows[axis] - 1) * step[axis]
            step[axis] *= strides[axis]
    return tuple(size)


class Projector:
    """One image run forward through a plain network, its switches kept, ready to project.

    Zeiler & Fergus attach a "deconvnet" to the network: the image goes forward once, every
    max-pool's switches are recorded, and any activation of the chosen layer can then be sent
    back down to pixels through them. `project_to_pixels` is one such projection.

    Args:
        model: a Keras model whose layers up to `layer_name` are stride-1 `Conv2D` (ReLU or
            linear), `ReLU` and `MaxPooling2D`, channels last.
        image: `(height, width, channels)`, preprocessed as the model expects.
        layer_name: the layer whose activations to project.

    Attributes:
        features: `(height, width, channels)` NumPy array: the layer's activations.
    """

    def __init__(self, model, image, layer_name):
        image = np.asarray(image, dtype="float32")
        if image.ndim != 3:
            raise ValueError(
                f"`image` must be one image (height, width, channels). "
                f"Received: image of shape {image.shape}"
            )
        self._chain = _plain_layers(model, layer_name)
        self._image_size = image.shape[:2]
        signal = ops.convert_to_tensor(image[None])
        self._records = []
        for layer in self._chain:
            if isinstance(layer, layers.MaxPooling2D):
                pool = MaxPoolingWithSwitches(layer.pool_size, layer.strides, layer.padding)
                before = tuple(signal.shape[1:3])
                signal, switches = pool(signal)
                self._records.append((layer, switches, before))
            else:
                self._records.append((layer, None, tuple(signal.shape[1:3])))
                signal = layer(signal)
        self.features = ops.convert_to_numpy(signal)[0]

    def strongest_channels(self, count):
        """The `count` channels whose strongest activation is largest, strongest first."""
        count = _validation.positive_int("count", count)
        peaks = self.features.reshape(-1, self.features.shape[-1]).max(axis=0)
        return [int(channel) for channel in np.argsort(-peaks, kind="stable")[:count]]

    def project(self, channel=None, stages=False):
        """Project `channel`'s strongest activation (by default the layer's) to pixels.

        All activations of the layer but that one are set to zero; it goes back down through
        unpooling with the recorded switches, ReLU, and each convolution's filters transposed
        (`ops.conv_transpose` with the layer's kernel, without bias).

        Returns:
            Projection, with the intermediate signals when `stages` is true.
        """
        features = self.features
        channels = features.shape[-1]
        if channel is None:
            channel = self.strongest_channels(1)[0]
        elif (
            isinstance(channel, bool)
            or not isinstance(channel, (int, np.integer))
            or not (0 <= channel < channels)
        ):
            raise ValueError(
                f"`channel` must be an int from 0 to {channels - 1}. Received: channel={channel!r}"
            )
        row, column = np.unravel_index(np.argmax(features[..., channel]), features.shape[:2])
        activation = float(features[row, column, channel])
        kept = np.zeros_like(features)
        kept[row, column, channel] = activation
        signal = ops.convert_to_tensor(kept[None])
        trace = []
        for index in range(len(self._records) - 1, -1, -1):
            layer, switches, before = self._records[index]
            if isinstance(layer, layers.MaxPooling2D):
                unpool = MaxUnpooling2D(
                    layer.pool_size, layer.strides, layer.padding, output_size=before
                )
                signal = unpool(signal, switches)
            elif isinstance(layer, layers.Conv2D):
                signal = ops.relu(signal)
                signal = ops.conv_transpose(signal, layer.kernel, strides=1, padding=layer.padding)
            else:  # ReLU layer
                signal = ops.relu(signal)
            below = self._records[index - 1][0] if index else None
            if stages and (below is None or isinstance(below, layers.MaxPooling2D)):
                # a resolution's convolutions are all transposed: one stage of the figure
                trace.append((int(signal.shape[1]), ops.convert_to_numpy(signal)[0]))
        pixels = ops.convert_to_numpy(signal)[0]
        field = _receptive_field(self._chain, (int(row), int(column)), self._image_size)
        return Projection(
            pixels, int(channel), (int(row), int(column)), activation, field, tuple(trace)
        )


@dataclasses.dataclass(frozen=True)
class ProjectionMeasures:
    """What a projection looks like, in numbers (see `measure_projection`).

    Attributes:
        inside: the share of the projection's energy inside its receptive field (1.0: none
            outside).
        concentration: the share of the receptive field's pixels that hold 90 % of that
            energy: small when the projection is a compact pattern, large when it is diffuse.
        coherence: the structure-tensor coherence of the projection's luminance inside the
            receptive field (`lessonlib.filters.orientation_coherence`): near 1 for an edge,
            near 0 for a pattern with no one orientation.
    """

    inside: float
    concentration: float
    coherence: float


def measure_projection(projection, energy_share=0.9):
    """Measure a `Projection`: energy inside the receptive field, concentration, coherence."""
    from lessonlib import filters

    energy_share = _validation.open_unit_interval("energy_share", energy_share)
    top, bottom, left, right = projection.receptive_field
    pixels = np.asarray(projection.pixels, dtype=np.float64)
    crop = pixels[top:bottom, left:right]
    energy = np.sum(crop**2, axis=-1).ravel()
    outside_mask = np.ones(pixels.shape[:2], dtype=bool)
    outside_mask[top:bottom, left:right] = False
    outside = np.sum(pixels[outside_mask] ** 2)  # summed on its own: exactly 0 when none is
    total = outside + np.sum(energy)
    if total == 0:
        return ProjectionMeasures(1.0, 0.0, 0.0)
    if np.sum(energy) == 0:
        return ProjectionMeasures(0.0, 0.0, 0.0)
    ordered = np.cumsum(np.sort(energy)[::-1]) / energy.sum()
    # rounding can leave the last cumulative share a hair below 1: never count past the field
    needed = min(int(np.searchsorted(ordered, energy_share)) + 1, energy.size)
    luminance = crop.sum(axis=-1)
    coherence = filters.orientation_coherence(luminance.reshape(-1, 1), luminance.shape)[0]
    return ProjectionMeasures(float(1 - outside / total), needed / energy.size, float(coherence))


def project_to_pixels(model, image, layer_name, channel=None, stages=False):
    """Project one feature map's strongest activation back to pixel space (Zeiler & Fergus).

    The image goes forward through the network up to `layer_name`, recording each max-pool's
    switches. All activations of that layer but the strongest one of `channel` are set to zero;
    that one goes back down: unpooling with the recorded switches, ReLU, and each convolution's
    filters transposed (`ops.conv_transpose` with the layer's kernel, without bias). To project
    several units of one image, make a `Projector` once and call its `project`.

    Args:
        model: a Keras model whose layers up to `layer_name` are stride-1 `Conv2D` (ReLU or
            linear), `ReLU` and `MaxPooling2D`, channels last: `keras.applications.VGG16`
            (`lessonlib.pretrained.vgg16_features` has its ImageNet weights offline), or a
            small net of your own.
        image: `(height, width, channels)`, preprocessed as the model expects.
        layer_name: the layer whose feature map to project.
        channel: which feature map; by default the one with the strongest activation.
        stages: also return the signal at each resolution on the way down.

    Returns:
        Projection: the pixels and where they came from.

    Raises:
        ValueError: for a layer that is not in the model, a layer type the projection does
            not support, an image of the wrong rank, or a channel out of range.
    """
    return Projector(model, image, layer_name).project(channel, stages=stages)

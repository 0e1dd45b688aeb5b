"""DeconvNet (Noh, Hong & Han 2015) and an FCN-style baseline with the same encoder.

The DeconvNet mirrors a VGG-style encoder: every max pooling (which records its switches)
is answered by an unpooling that puts activations back where they came from, and every
convolution by a transposed convolution ("deconvolution"). The baseline keeps the encoder but
replaces the whole decoder by one learned upsampling, as FCN-32s does: no switches.
"""

import keras
from keras import layers

from lessonlib import _validation
from lessonlib.layers import MaxPoolingWithSwitches, MaxUnpooling2D

# Keras's default 0.99 needs several hundred steps before the moving statistics used at
# inference settle; the lessons train for a few hundred steps in all.
_BN_MOMENTUM = 0.9

# The lecture's VGG16: 3x3 convolutions in blocks of 2, 2, 3, 3, 3 with 64 to 512 filters, a
# 2x2 max pool after each, then the fully connected layers as convolutions (4096 units).
PRESETS = {
    "small": {"filters": (16, 32, 64), "convs_per_block": (2, 2, 2), "bottleneck_units": None},
    "vgg16": {
        "filters": (64, 128, 256, 512, 512),
        "convs_per_block": (2, 2, 3, 3, 3),
        "bottleneck_units": 4096,
    },
}


def _config(preset, filters, convs_per_block, bottleneck_units):
    _validation.one_of("preset", preset, tuple(PRESETS))
    config = dict(PRESETS[preset])
    if filters is not None:
        config["filters"] = tuple(filters)
    if convs_per_block is not None:
        config["convs_per_block"] = tuple(convs_per_block)
    if bottleneck_units is not None:
        config["bottleneck_units"] = bottleneck_units
    for width in config["filters"]:
        _validation.positive_int("filters", width)
    for count in config["convs_per_block"]:
        _validation.positive_int("convs_per_block", count)
    if len(config["filters"]) != len(config["convs_per_block"]):
        raise ValueError(
            "`filters` and `convs_per_block` must have one entry per block. Received: "
            f"filters={config['filters']}, convs_per_block={config['convs_per_block']}"
        )
    if config["bottleneck_units"] is not None:
        _validation.positive_int("bottleneck_units", config["bottleneck_units"])
    return config


def _check_input_shape(input_shape, num_blocks, divisible, why=""):
    if len(input_shape) != 3 or any(not isinstance(size, int) or size < 1 for size in input_shape):
        raise ValueError(
            "`input_shape` must be (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    factor = 2**num_blocks
    if min(input_shape[:2]) < factor or (
        divisible and (input_shape[0] % factor or input_shape[1] % factor)
    ):
        needed = "divisible by" if divisible else "at least"
        raise ValueError(
            f"`input_shape`'s height and width must be {needed} {factor} for "
            f"{num_blocks} pooling blocks{why}. Received: input_shape={input_shape!r}"
        )


def _bn_relu(x, prefix, index=""):
    x = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{prefix}_bn{index}")(x)
    return layers.ReLU(name=f"{prefix}_relu{index}")(x)


def _conv_block(x, width, count, prefix, transposed=False):
    convolution = layers.Conv2DTranspose if transposed else layers.Conv2D
    for index in range(1, count + 1):
        x = convolution(
            width[index - 1] if isinstance(width, tuple) else width,
            3,
            padding="same",
            use_bias=False,
            name=f"{prefix}_conv{index}",
        )(x)
        x = _bn_relu(x, prefix, index)
    return x


def _encoder(inputs, config, switches):
    x, pools = inputs, []
    for block, (width, count) in enumerate(
        zip(config["filters"], config["convs_per_block"], strict=True), start=1
    ):
        x = _conv_block(x, width, count, f"block{block}")
        before = tuple(x.shape[1:3])
        if switches:
            x, switch = MaxPoolingWithSwitches(2, name=f"block{block}_pool")(x)
            pools.append((switch, before))
        else:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    units = config["bottleneck_units"]
    if units:  # VGG's fc6 and fc7, as convolutions, and fc6's mirror image
        size, width = tuple(x.shape[1:3]), x.shape[-1]
        x = _bn_relu(layers.Conv2D(units, size, use_bias=False, name="fc6")(x), "fc6")
        x = _bn_relu(layers.Conv2D(units, 1, use_bias=False, name="fc7")(x), "fc7")
        x = layers.Conv2DTranspose(width, size, use_bias=False, name="fc6_deconv")(x)
        x = _bn_relu(x, "fc6_deconv")
    return x, pools


def DeconvNet(  # noqa: N802 (named like keras.applications.VGG16, which it mirrors)
    input_shape=(64, 64, 1),
    num_classes=11,
    preset="small",
    filters=None,
    convs_per_block=None,
    bottleneck_units=None,
    unpooling="switches",
    name="deconvnet",
):
    """Build a DeconvNet: VGG-style encoder, mirrored unpooling/deconvolution decoder.

    Each decoder stage unpools with the switches of the matching encoder pool (layer
    `unpool{k}`), then applies as many 3x3 transposed convolutions with batch normalisation
    and ReLU as the encoder block had convolutions (its last ReLU is `deconv{k}_relu{n}`). A
    1x1 convolution with a softmax gives every pixel a distribution over `num_classes`.

    `unpooling="nearest"` builds the ablation: every unpooling becomes an `UpSampling2D` that
    copies each value into its whole 2x2 window (layer `upsample{k}`), so the decoder no longer
    knows where each maximum came from. Neither kind of unpooling has weights: the two models
    have the same parameters, layer for layer.

    Args:
        input_shape: `(height, width, channels)`; height and width at least 2^blocks (odd
            sizes are fine with switches: unpooling restores them).
        num_classes: classes per pixel (digit scenes: 11).
        preset: `"small"` (3 blocks of 16, 32, 64 filters: trains in minutes on a CPU) or
            `"vgg16"` (the lecture's configuration, fc6/fc7 included).
        filters, convs_per_block, bottleneck_units: override the preset.
        unpooling: `"switches"` (the DeconvNet) or `"nearest"` (`UpSampling2D`; height and
            width must then be divisible by 2^blocks).
        name: the model's name.

    Returns:
        keras.Model from images to `(batch, height, width, num_classes)` probabilities.

    Raises:
        ValueError: for an unknown preset or unpooling, sizes that are not positive, or an
            input smaller than the pooling allows.
    """
    config = _config(preset, filters, convs_per_block, bottleneck_units)
    num_classes = _validation.positive_int("num_classes", num_classes)
    switches = _validation.one_of("unpooling", unpooling, ("switches", "nearest")) == "switches"
    _check_input_shape(
        tuple(input_shape),
        len(config["filters"]),
        divisible=not switches,
        why="" if switches else " with unpooling='nearest'",
    )
    inputs = keras.Input(input_shape)
    x, pools = _encoder(inputs, config, switches=switches)
    widths = config["filters"]
    for block in range(len(widths), 0, -1):
        if switches:
            switch, size = pools[block - 1]
            x = MaxUnpooling2D(2, output_size=size, name=f"unpool{block}")(x, switch)
        else:
            x = layers.UpSampling2D(2, name=f"upsample{block}")(x)
        count = config["convs_per_block"][block - 1]
        # Mirror the encoder: keep this block's width, and end on the width of the block below.
        below = widths[block - 2] if block > 1 else widths[0]
        x = _conv_block(
            x,
            (widths[block - 1],) * (count - 1) + (below,),
            count,
            f"deconv{block}",
            transposed=True,
        )
    outputs = layers.Conv2D(
        num_classes, 1, activation="softmax", dtype="float32", name="pixel_softmax"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def FCNBaseline(  # noqa: N802
    input_shape=(64, 64, 1),
    num_classes=11,
    preset="small",
    filters=None,
    convs_per_block=None,
    bottleneck_units=None,
    name="fcn_baseline",
):
    """Build the FCN-style baseline: the DeconvNet's encoder, one learned upsampling.

    After the encoder, a 1x1 convolution scores each class at the coarsest scale (`scores`),
    and a single transposed convolution with stride 2^blocks upsamples the scores to the input
    size (`upsample`), as FCN-32s does. No switches, no stage-by-stage reconstruction.

    Args and Returns: as `DeconvNet`; height and width must be divisible by 2^blocks.
    """
    config = _config(preset, filters, convs_per_block, bottleneck_units)
    num_classes = _validation.positive_int("num_classes", num_classes)
    _check_input_shape(tuple(input_shape), len(config["filters"]), divisible=True)
    factor = 2 ** len(config["filters"])
    inputs = keras.Input(input_shape)
    x, _ = _encoder(inputs, config, switches=False)
    scores = layers.Conv2D(num_classes, 1, name="scores")(x)
    upsampled = layers.Conv2DTranspose(
        num_classes, 2 * factor, strides=factor, padding="same", name="upsample"
    )(scores)
    outputs = layers.Activation("softmax", dtype="float32", name="pixel_softmax")(upsampled)
    return keras.Model(inputs, outputs, name=name)


def decoder_stages(model):
    """Return a model that outputs the decoder's activations at every scale, coarse to fine.

    For a DeconvNet: after each unpooling and after each stage's transposed convolutions
    (the lecture's bicycle figure, at the scales of your input; with `unpooling="nearest"`,
    after each upsampling). For the FCN baseline: the coarse class scores and their upsampling.

    Returns:
        keras.Model with the same input whose outputs are the activations in the order the
        decoder computes them; `.output_names` names their layers.
    """
    names = [layer.name for layer in model.layers]
    chosen = []
    for index, layer_name in enumerate(names):
        if layer_name.startswith(("unpool", "upsample")) or layer_name == "scores":
            chosen.append(layer_name)
        elif layer_name.startswith("deconv") and "_relu" in layer_name:
            following = names[index + 1] if index + 1 < len(names) else ""
            if not (following.startswith(layer_name.split("_relu")[0] + "_conv")):
                chosen.append(layer_name)  # the last ReLU of a decoder stage
    if not chosen:
        raise ValueError(
            "`model` has no decoder layers (unpool*, upsample*, deconv*, scores): "
            f"build it with DeconvNet or FCNBaseline. Received: model={model.name}"
        )
    outputs = [model.get_layer(layer_name).output for layer_name in chosen]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_decoder_stages")

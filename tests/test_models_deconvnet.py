import os

import keras
import numpy as np
import pytest
from keras import ops

from lessonlib.layers import MaxPoolingWithSwitches, MaxUnpooling2D
from lessonlib.losses import pixel_crossentropy
from lessonlib.models import DeconvNet, FCNBaseline, decoder_stages


def test_deconvnet_outputs_a_distribution_per_pixel():
    model = DeconvNet((32, 32, 1), num_classes=11)
    probabilities = ops.convert_to_numpy(model(np.zeros((2, 32, 32, 1), "float32")))
    assert probabilities.shape == (2, 32, 32, 11)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1, rtol=1e-5)  # float32 softmax


def test_the_decoder_mirrors_the_encoder():
    model = DeconvNet((32, 32, 1), filters=(8, 16, 32), convs_per_block=(1, 2, 3))
    pools = [layer for layer in model.layers if isinstance(layer, MaxPoolingWithSwitches)]
    unpools = [layer for layer in model.layers if isinstance(layer, MaxUnpooling2D)]
    assert len(pools) == len(unpools) == 3
    encoder = [
        layer
        for layer in model.layers
        if type(layer) is keras.layers.Conv2D and layer.name.startswith("block")
    ]
    decoder = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(encoder) == len(decoder) == 6
    assert [layer.filters for layer in decoder] == [32, 32, 16, 16, 8, 8]


def test_odd_input_sizes_come_back_at_full_size():
    model = DeconvNet((30, 27, 1), num_classes=3)
    assert model.output_shape == (None, 30, 27, 3)


def test_vgg16_preset_is_the_lectures_configuration():
    model = DeconvNet((32, 32, 3), num_classes=21, preset="vgg16")
    convs = [
        layer
        for layer in model.layers
        if type(layer) is keras.layers.Conv2D and layer.name.startswith("block")
    ]
    assert [layer.filters for layer in convs] == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert model.get_layer("fc7").filters == 4096
    assert model.output_shape == (None, 32, 32, 21)


def test_fcn_baseline_shares_the_encoder_and_has_no_switches():
    deconvnet, fcn = DeconvNet((32, 32, 1)), FCNBaseline((32, 32, 1))
    assert fcn.output_shape == (None, 32, 32, 11)

    def encoder_shapes(model):
        return [
            tuple(layer.kernel.shape)
            for layer in model.layers
            if type(layer) is keras.layers.Conv2D and layer.name.startswith("block")
        ]

    assert encoder_shapes(fcn) == encoder_shapes(deconvnet)
    assert not any(isinstance(layer, MaxPoolingWithSwitches) for layer in fcn.layers)


def test_the_upsampling_ablation_differs_only_in_its_unpooling():
    deconvnet = DeconvNet((32, 32, 1))
    nearest = DeconvNet((32, 32, 1), unpooling="nearest")

    def weights(model):
        return [
            (layer.name, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers
            if layer.weights
        ]

    assert weights(nearest) == weights(deconvnet)
    assert nearest.count_params() == deconvnet.count_params()
    assert not any(
        isinstance(layer, (MaxPoolingWithSwitches, MaxUnpooling2D)) for layer in nearest.layers
    )
    stages = decoder_stages(nearest)
    assert stages.output_names[0] == "upsample3"
    assert [output.shape[1] for output in stages.outputs] == [8, 8, 16, 16, 32, 32]
    # Upsampling copies each value into its 2x2 window: no zeros, unlike unpooling's 3/4.
    x = np.random.default_rng(0).random((1, 32, 32, 1)).astype("float32")
    probe = keras.Model(
        nearest.inputs,
        [nearest.get_layer("block3_pool").output, nearest.get_layer("upsample3").output],
    )
    pooled, upsampled = (ops.convert_to_numpy(value) for value in probe(x))
    np.testing.assert_array_equal(upsampled, pooled.repeat(2, axis=1).repeat(2, axis=2))


def test_decoder_stages_go_from_coarse_to_fine():
    model = DeconvNet((32, 32, 1))
    stages = decoder_stages(model)
    sizes = [output.shape[1] for output in stages.outputs]
    assert sizes == [8, 8, 16, 16, 32, 32]
    assert stages.output_names[0] == "unpool3" and stages.output_names[-1] == "deconv1_relu2"
    activations = stages(np.zeros((1, 32, 32, 1), "float32"))
    assert len(activations) == 6
    fcn_stages = decoder_stages(FCNBaseline((32, 32, 1)))
    assert [output.shape[1] for output in fcn_stages.outputs] == [4, 32]


def test_a_deconvnet_fits_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    model = DeconvNet((16, 16, 1), num_classes=3, filters=(4, 8), convs_per_block=(1, 1))
    model.compile(optimizer="adam", loss=pixel_crossentropy)
    x = np.random.default_rng(0).random((8, 16, 16, 1)).astype("float32")
    y = (x[..., 0] * 3).astype("int32").clip(0, 2)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = os.path.join(tmp_path, "deconvnet.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded.predict(x, verbose=0)),
        ops.convert_to_numpy(model.predict(x, verbose=0)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "build, kwargs, pattern",
    [
        (DeconvNet, {"preset": "vgg19"}, r"preset='vgg19'"),
        (DeconvNet, {"filters": (8, 0, 8)}, r"filters=0"),
        (DeconvNet, {"filters": (8, 16)}, r"one entry per block"),
        (DeconvNet, {"input_shape": (4, 4, 1)}, r"at least 8"),
        (FCNBaseline, {"input_shape": (30, 30, 1)}, r"divisible by 8"),
        (DeconvNet, {"num_classes": 0}, r"num_classes=0"),
        (DeconvNet, {"unpooling": "bilinear"}, r"unpooling='bilinear'"),
        (
            DeconvNet,
            {"input_shape": (30, 30, 1), "unpooling": "nearest"},
            r"divisible by 8 for 3 pooling blocks with unpooling='nearest'",
        ),
    ],
)
def test_bad_arguments(build, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(**kwargs)


def test_pixel_crossentropy_is_the_mean_over_pixels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(2, 3, 5))
    probabilities = rng.random((2, 3, 5, 4)).astype("float32")
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    expected = -np.log(np.take_along_axis(probabilities, labels[..., None], axis=-1)).mean()
    loss = keras.losses.get(pixel_crossentropy)
    value = ops.convert_to_numpy(ops.mean(loss(labels, probabilities)))
    assert value == pytest.approx(expected, rel=1e-5)  # float32 logs

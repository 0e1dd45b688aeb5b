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
from lessonlib.metrics import frechet_distance


def _images(name, images):
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != (28, 28, 1) or len(images) == 0:
        raise ValueError(f"`{name}` must be 28x28 digits, shape (n, 28, 28) or (n, 28, 28, 1) "
                         "with n >= 1. "
                         f"Received: {name} of shape {images.shape}")
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
        seed: fixes the initial weights and the shuffling.

    Attributes:
        test_accuracy: the classifier's accuracy on `x_test`. A distance is only as meaningful
            as the features: quote it beside every distance.
        name: what to call the distance where a number is shown.

    Example:

    >>> space = DigitFeatures(x_train, y_train, x_test, y_test)  # doctest: +SKIP
    >>> space.distance(generated, x_test)  # doctest: +SKIP
    """

    def __init__(self, x_train, y_train, x_test, y_test, epochs=3, batch_size=128,
                 num_features=64, seed=0, verbose=0):
        x_train, x_test = _images("x_train", x_train), _images("x_test", x_test)
        y_train, y_test = np.asarray(y_train), np.asarray(y_test)
        if len(y_train) != len(x_train) or len(y_test) != len(x_test):
            raise ValueError("Each digit needs one label. Received: "
                             f"{len(x_train)} training digits and {len(y_train)} labels, "
                             f"{len(x_test)} test digits and {len(y_test)} labels")
        self.num_features = _validation.positive_int("num_features", num_features)
        keras.utils.set_random_seed(_validation.non_negative_int("seed", seed))
        inputs = keras.Input((28, 28, 1))
        hidden = layers.Conv2D(32, 3, activation="relu", padding="same")(inputs)
        hidden = layers.MaxPooling2D()(hidden)
        hidden = layers.Conv2D(64, 3, activation="relu", padding="same")(hidden)
        hidden = layers.MaxPooling2D()(hidden)
        hidden = layers.Flatten()(hidden)
        features = layers.Dense(self.num_features, activation="relu", name="features")(hidden)
        outputs = layers.Dense(10, activation="softmax", dtype="float32")(features)
        self.classifier = keras.Model(inputs, outputs, name="digit_classifier")
        self.extractor = keras.Model(inputs, features, name="digit_features")
        self.classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        self.classifier.fit(x_train, y_train, epochs=_validation.positive_int("epochs", epochs),
                            batch_size=_validation.positive_int("batch_size", batch_size),
                            verbose=verbose)
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

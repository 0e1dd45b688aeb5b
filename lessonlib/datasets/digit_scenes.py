"""Digit scenes: canvases with several MNIST digits, labelled pixel by pixel, for segmentation.

The course cannot ship PASCAL VOC, so the DeconvNet lesson segments scenes it can make from
`load_mnist()`: each canvas holds a few digits at random positions and scales; each pixel is
labelled with the class of the digit drawn there (0 to 9) or `BACKGROUND` (10).
"""

import numpy as np

from lessonlib import _validation
from lessonlib.datasets.mnist import load_mnist

BACKGROUND = 10
NUM_CLASSES = 11
# A pixel belongs to a digit where the digit's ink is at least half as dark as its darkest
# pixel: MNIST's anti-aliased edges are ambiguous, its strokes are not.
_INK_THRESHOLD = 0.5
_PLACEMENT_TRIES = 30


def _resize(image, size):
    from skimage.transform import resize

    return resize(image, (size, size), order=1, anti_aliasing=True, preserve_range=True)


def _of_classes(images, labels, classes):
    """The digits of `classes` only; every class asked for must have at least one digit."""
    if (
        not isinstance(classes, (tuple, list))
        or not classes
        or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise ValueError(
            "`classes` must be a non-empty tuple or list of distinct digit "
            f"classes, e.g. (0, 3, 7). Received: classes={classes!r}"
        )
    missing = sorted(set(classes) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(
            f"`classes` asks for {missing}, which no digit in `labels` has. "
            f"Received: classes={classes!r}"
        )
    keep = np.isin(labels, classes)
    return images[keep], labels[keep]


def make_digit_scenes(
    images,
    labels,
    num_scenes,
    canvas_size=64,
    digits_per_scene=(2, 4),
    digit_size=(20, 36),
    classes=None,
    seed=0,
):
    """Compose digit scenes from digit images.

    Digits are placed where they do not overlap an earlier digit's box when possible (up to 30
    tries each), otherwise anywhere; a later digit is drawn over an earlier one.

    Args:
        images: `(N, 28, 28)` uint8 digits, as `load_mnist()` returns.
        labels: `(N,)` their classes.
        num_scenes: how many canvases.
        canvas_size: side of the square canvas in pixels.
        digits_per_scene: `(fewest, most)` digits on a canvas, both included.
        digit_size: `(smallest, largest)` side of a digit after scaling, in pixels.
        classes: the digit classes to draw from, e.g. `(0, 3, 7)`; `None` for all. Labels keep
            their values, so a model still scores `NUM_CLASSES` classes.
        seed: the same seed gives the same scenes.

    Returns:
        `(scenes, masks)`: float32 `(num_scenes, canvas_size, canvas_size, 1)` with values in
        [0, 1], and uint8 `(num_scenes, canvas_size, canvas_size)` labels in 0..10.

    Raises:
        ValueError: for sizes that are not positive, ranges given backwards, digits larger
            than the canvas, or classes with no digit in `labels`.
    """
    num_scenes = _validation.positive_int("num_scenes", num_scenes)
    canvas_size = _validation.positive_int("canvas_size", canvas_size)
    for name, pair in (("digits_per_scene", digits_per_scene), ("digit_size", digit_size)):
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair)
            or pair[0] > pair[1]
        ):
            raise ValueError(
                f"`{name}` must be (smallest, largest), positive integers. "
                f"Received: {name}={pair!r}"
            )
    if digit_size[1] > canvas_size:
        raise ValueError(
            f"`digit_size` must fit the canvas of {canvas_size} pixels. "
            f"Received: digit_size={digit_size!r}"
        )
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            "`images` must be (N, height, width) with one label each. Received: "
            f"images of shape {images.shape}, labels of shape {labels.shape}"
        )
    if classes is not None:
        images, labels = _of_classes(images, labels, classes)
    rng = np.random.default_rng(seed)
    scenes = np.zeros((num_scenes, canvas_size, canvas_size), np.float32)
    masks = np.full((num_scenes, canvas_size, canvas_size), BACKGROUND, np.uint8)
    for scene in range(num_scenes):
        boxes = []
        for _ in range(rng.integers(digits_per_scene[0], digits_per_scene[1] + 1)):
            index = rng.integers(len(images))
            size = int(rng.integers(digit_size[0], digit_size[1] + 1))
            for _ in range(_PLACEMENT_TRIES):
                top, left = rng.integers(0, canvas_size - size + 1, size=2)
                if not any(
                    top < b + s and b < top + size and left < c + s and c < left + size
                    for b, c, s in boxes
                ):
                    break
            boxes.append((top, left, size))
            digit = _resize(images[index].astype(np.float32) / 255, size)
            ink = digit >= _INK_THRESHOLD * digit.max()
            window = (slice(top, top + size), slice(left, left + size))
            scenes[scene][window] = np.maximum(scenes[scene][window], digit)
            masks[scene][window][ink] = labels[index]
    return scenes[..., None], masks


def load_digit_scenes(num_train, num_test, canvas_size=64, seed=0, verbose=True, **options):
    """Digit scenes from `load_mnist()`: training scenes from training digits, test from test.

    Args:
        num_train, num_test: how many scenes of each.
        canvas_size: side of the canvas.
        seed: fixes the scenes (and the MNIST fallback's split).
        verbose: let `load_mnist` say which digits it uses.
        **options: passed to `make_digit_scenes` (`digits_per_scene`, `digit_size`,
            `classes`).

    Returns:
        `(x_train, y_train), (x_test, y_test)` as `make_digit_scenes` returns them.
    """
    (train_images, train_labels), (test_images, test_labels) = load_mnist(
        seed=seed, verbose=verbose
    )
    train = make_digit_scenes(
        train_images, train_labels, num_train, canvas_size, seed=seed, **options
    )
    test = make_digit_scenes(
        test_images, test_labels, num_test, canvas_size, seed=seed + 1, **options
    )
    return train, test

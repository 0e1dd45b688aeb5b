"""Colour photographs that ship with scikit-image, square and sized for an ImageNet network."""

import numpy as np

from lessonlib import _validation

# scikit-image's colour photographs; `stereo_motorcycle` is a stereo pair (its left image is
# used), the nearest thing in the package to the notes' bicycle.
PHOTOGRAPHS = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle")


def _load(name):
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0]
    return getattr(data, name)()


def load_photographs(size=224, names=PHOTOGRAPHS):
    """The photographs, centre-cropped to a square and resized to `size` x `size`.

    Args:
        size: the side in pixels (VGG16 was trained at 224).
        names: which photographs, from `PHOTOGRAPHS`.

    Returns:
        dict from name to a float32 array `(size, size, 3)` of RGB values in [0, 255], the
        range `keras.applications.vgg16.preprocess_input` expects.
    """
    from skimage import transform

    size = _validation.positive_int("size", size)
    if isinstance(names, str):
        names = (names,)
    for name in names:
        _validation.one_of("names", name, PHOTOGRAPHS)
    photographs = {}
    for name in names:
        image = _load(name)[..., :3]
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top : top + side, left : left + side].astype(np.float64)
        photographs[name] = transform.resize(
            square, (size, size), preserve_range=True, anti_aliasing=True
        ).astype(np.float32)
    return photographs

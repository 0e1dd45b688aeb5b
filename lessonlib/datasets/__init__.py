"""Data the lessons run on, all of it available offline; `toy` holds the GAN lessons' 1-D
distributions and ring of Gaussians, `load_photographs` the colour photographs for VGG16."""

from lessonlib.datasets import toy
from lessonlib.datasets.digit_scenes import (
    BACKGROUND,
    NUM_CLASSES,
    load_digit_scenes,
    make_digit_scenes,
)
from lessonlib.datasets.mnist import MnistUnavailableError, keras_cache_path, load_mnist
from lessonlib.datasets.patches import (
    NATURAL_IMAGES,
    extract_patches,
    load_natural_patches,
    natural_images,
    normalize_ufldl,
    zca_whiten,
    zca_whitening_matrix,
)
from lessonlib.datasets.photographs import PHOTOGRAPHS, load_photographs

__all__ = [
    "BACKGROUND",
    "NUM_CLASSES",
    "load_digit_scenes",
    "make_digit_scenes",
    "NATURAL_IMAGES",
    "PHOTOGRAPHS",
    "MnistUnavailableError",
    "extract_patches",
    "keras_cache_path",
    "load_mnist",
    "load_natural_patches",
    "load_photographs",
    "natural_images",
    "normalize_ufldl",
    "zca_whiten",
    "toy",
    "zca_whitening_matrix",
]

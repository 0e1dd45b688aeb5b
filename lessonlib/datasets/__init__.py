"""Data the lessons run on, all of it available offline."""

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

__all__ = [
    "NATURAL_IMAGES",
    "MnistUnavailableError",
    "extract_patches",
    "keras_cache_path",
    "load_mnist",
    "load_natural_patches",
    "natural_images",
    "normalize_ufldl",
    "zca_whiten",
    "zca_whitening_matrix",
]

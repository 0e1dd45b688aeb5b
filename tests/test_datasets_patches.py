import numpy as np
import pytest

from lessonlib.datasets import patches

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent


def ufldl_normalize_reference(columns):
    """UFLDL's sampleIMAGES.m normalizeData, written as in the MATLAB (patches as columns)."""
    columns = columns - columns.mean(axis=0)
    pstd = 3 * np.std(columns.ravel())
    columns = np.maximum(np.minimum(columns, pstd), -pstd) / pstd
    return (columns + 1) * 0.4 + 0.1


def test_normalisation_matches_ufldls_code():
    raw = np.random.default_rng(0).normal(size=(500, 64))
    np.testing.assert_allclose(
        patches.normalize_ufldl(raw), ufldl_normalize_reference(raw.T).T, rtol=1e-12
    )


def test_natural_patches_shape_range_and_determinism():
    first = patches.load_natural_patches(num_patches=2000, patch_size=8, seed=1)
    assert first.shape == (2000, 64) and first.dtype == np.float32
    assert first.min() >= 0.1 - 1e-6 and first.max() <= 0.9 + 1e-6
    # DC removed per patch, then mapped from 0 to 0.5 (float32 rounding: 1e-5).
    np.testing.assert_allclose(first.mean(axis=1), 0.5, atol=0.15)
    assert abs(first.mean() - 0.5) < 1e-3
    np.testing.assert_array_equal(first, patches.load_natural_patches(2000, 8, seed=1))
    assert not np.array_equal(first, patches.load_natural_patches(2000, 8, seed=2))


def test_other_patch_sizes():
    assert patches.load_natural_patches(num_patches=10, patch_size=12).shape == (10, 144)


def test_extracted_patches_are_pieces_of_the_images():
    image = np.arange(100.0).reshape(10, 10)
    cut = patches.extract_patches([image], num_patches=50, patch_size=3, seed=0)
    for patch in cut.reshape(-1, 3, 3):
        top, left = divmod(int(patch[0, 0]), 10)
        np.testing.assert_array_equal(patch, image[top : top + 3, left : left + 3])


def test_natural_patches_are_spatially_correlated_and_whitening_decorrelates_them():
    raw = patches.extract_patches(patches.natural_images(), 5000, 8, seed=0)
    raw = raw - raw.mean(axis=1, keepdims=True)
    neighbours = np.corrcoef(raw[:, 0], raw[:, 1])[0, 1]
    assert neighbours > 0.5  # adjacent pixels of photographs are strongly correlated
    whitened = patches.zca_whiten(raw, epsilon=1e-8)
    covariance = np.cov(whitened.T, bias=True)
    # Removing each patch's mean leaves one direction of zero variance (the all-ones vector),
    # so the covariance is the identity on the other 63 dimensions.
    ones = np.ones(64) / 8
    projector = np.eye(64) - np.outer(ones, ones)
    np.testing.assert_allclose(covariance, projector, atol=1e-3)


def test_zca_stays_close_to_the_original():
    data = np.random.default_rng(0).normal(size=(4000, 5)) @ np.diag([3.0, 2.0, 1.0, 1.0, 0.5])
    mean, matrix = patches.zca_whitening_matrix(data, epsilon=0)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)  # ZCA, unlike PCA, is symmetric
    np.testing.assert_allclose(np.cov(((data - mean) @ matrix).T, bias=True), np.eye(5), atol=1e-8)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"num_patches": 0}, r"num_patches=0"),
        ({"patch_size": 2.5}, r"patch_size=2.5"),
        ({"patch_size": 10_000}, r"patch_size=10000"),
        ({"epsilon": -1.0, "whiten": True}, r"epsilon=-1.0"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        patches.load_natural_patches(**{"num_patches": 10, **kwargs})

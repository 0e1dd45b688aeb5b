"""Natural image patches, as in UFLDL's sparse autoencoder exercise, from photographs that ship
with scikit-image (UFLDL's own whitened images are not redistributable, and need no network here).
"""

import numpy as np

from lessonlib import _validation

# Photographs of natural scenes and objects bundled inside the scikit-image wheel. Synthetic
# images (checkerboards, logos, text) are left out: their statistics are not natural.
NATURAL_IMAGES = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "moon",
    "rocket",
)


def natural_images():
    """Return the bundled photographs as grayscale float64 arrays with values in [0, 1]."""
    from skimage import color, data, util

    images = []
    for name in NATURAL_IMAGES:
        image = getattr(data, name)()
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3])
        images.append(util.img_as_float64(image))
    return images


def extract_patches(images, num_patches, patch_size, seed=0):
    """Cut square patches at random positions from randomly chosen images.

    Args:
        images: a list of 2-D arrays (they may differ in size).
        num_patches: how many patches to return.
        patch_size: the side of each square patch, in pixels.
        seed: fixes which images and positions are drawn.

    Returns:
        float64 array of shape `(num_patches, patch_size * patch_size)`, one patch per row,
        pixels in row-major order.

    Raises:
        ValueError: if a size is not a positive integer, or a patch does not fit an image.
    """
    num_patches = _validation.positive_int("num_patches", num_patches)
    patch_size = _validation.positive_int("patch_size", patch_size)
    if not images:
        raise ValueError(f"`images` must hold at least one image. Received: images={images!r}")
    smallest = min(min(image.shape[:2]) for image in images)
    if patch_size > smallest:
        raise ValueError(
            f"`patch_size` must fit inside every image (the smallest side is {smallest} "
            f"pixels). Received: patch_size={patch_size}"
        )
    rng = np.random.default_rng(seed)
    which = rng.integers(len(images), size=num_patches)
    patches = np.empty((num_patches, patch_size * patch_size))
    for index, image in enumerate(images):
        rows = np.flatnonzero(which == index)
        if rows.size == 0:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(image, (patch_size, patch_size))
        tops = rng.integers(windows.shape[0], size=rows.size)
        lefts = rng.integers(windows.shape[1], size=rows.size)
        patches[rows] = windows[tops, lefts].reshape(rows.size, -1)
    return patches


def normalize_ufldl(patches):
    """Normalise patches as UFLDL's `sampleIMAGES.m` does, for sigmoid outputs.

    Removes each patch's mean (its DC component), truncates to ±3 standard deviations of
    all the pixels, and rescales from [-1, 1] to [0.1, 0.9], where a sigmoid can reach.

    Args:
        patches: array of shape `(num_patches, num_pixels)`.

    Returns:
        float64 array of the same shape, values in [0.1, 0.9].
    """
    patches = np.asarray(patches, dtype=np.float64)
    centred = patches - patches.mean(axis=1, keepdims=True)
    limit = 3 * centred.std()
    if limit == 0:
        return np.full_like(centred, 0.5)
    return (np.clip(centred, -limit, limit) / limit + 1) * 0.4 + 0.1


def zca_whitening_matrix(patches, epsilon=1e-3):
    """Return the mean and the ZCA whitening matrix of a set of patches.

    With `Sigma = U S U^T` the covariance of the centred patches, ZCA whitening is
    `W = U diag(1 / sqrt(S + epsilon)) U^T`: it decorrelates the pixels and equalises their
    variance while staying as close as possible to the original image (UFLDL, "Whitening").
    `epsilon` keeps the near-zero eigenvalues from amplifying noise.

    Args:
        patches: array of shape `(num_patches, num_pixels)`.
        epsilon: added to each eigenvalue, in units of pixel variance. The default, 1e-3, is
            about the variance of the weakest components of 8x8 patches of photographs in
            [0, 1]: smaller values amplify their noise, larger ones barely whiten.

    Returns:
        `(mean, matrix)`: the per-pixel mean, shape `(num_pixels,)`, and the symmetric
        matrix, shape `(num_pixels, num_pixels)`; whiten with `(x - mean) @ matrix`.
    """
    epsilon = _validation.non_negative_number("epsilon", epsilon)
    patches = np.asarray(patches, dtype=np.float64)
    mean = patches.mean(axis=0)
    centred = patches - mean
    covariance = centred.T @ centred / len(centred)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.clip(eigenvalues, 0, None)
    matrix = (eigenvectors / np.sqrt(eigenvalues + epsilon)) @ eigenvectors.T
    return mean, matrix


def zca_whiten(patches, epsilon=1e-3):
    """Return the patches ZCA-whitened (see `zca_whitening_matrix`)."""
    mean, matrix = zca_whitening_matrix(patches, epsilon)
    return (np.asarray(patches, dtype=np.float64) - mean) @ matrix


def load_natural_patches(num_patches=10_000, patch_size=8, whiten=False, epsilon=1e-3, seed=0):
    """Sample UFLDL-style training patches from natural photographs.

    UFLDL's sparse autoencoder trains on 10,000 patches of 8x8 pixels from whitened natural
    images, normalised to [0.1, 0.9]. This samples them from scikit-image's photographs.

    Args:
        num_patches: how many patches (UFLDL: 10,000).
        patch_size: the side of a patch in pixels (UFLDL: 8).
        whiten: ZCA-whiten the patches before normalising, as UFLDL's images were.
        epsilon: the whitening regulariser; pixel values are in [0, 1] at that point.
        seed: the same seed gives the same patches.

    Returns:
        float32 array of shape `(num_patches, patch_size * patch_size)`, values in [0.1, 0.9].

    Example:

    >>> patches = load_natural_patches(num_patches=1000, patch_size=8)
    >>> patches.shape
    (1000, 64)
    """
    patches = extract_patches(natural_images(), num_patches, patch_size, seed)
    patches = patches - patches.mean(axis=1, keepdims=True)
    if whiten:
        patches = zca_whiten(patches, epsilon)
    return normalize_ufldl(patches).astype(np.float32)

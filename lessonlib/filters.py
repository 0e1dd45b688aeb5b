"""How edge-like a set of learned filters is, and how orthogonal, as numbers.

UFLDL says a sparse autoencoder trained on natural patches "learns edge detectors"; this module
measures it. An edge (or a short grating) has one orientation: its intensity changes along one
direction only. The structure tensor of a filter w, summed over its pixels,

    S = sum_pixels [[gx^2, gx gy], [gx gy, gy^2]],   (gx, gy) the gradient of w,

has eigenvalues l1 >= l2 >= 0, and the coherence (l1 - l2) / (l1 + l2) is 1 when all the
gradients point along one direction and 0 when they point equally in every direction. Random
filters have coherence around 0.15 (8x8 white noise: 99 % below 0.4), oriented edges above 0.6.

The notes say the sparsity penalty makes the hidden units "approximately orthogonal, allowing a
small correlation determined by rho". `pairwise_cosines` measures that, either between the units'
responses over the data (the columns of the activations, `(M, N1)`) or between their filters
(the columns of a Dense kernel, `(D, N1)`); `independent_cosines` is what the responses' cosines
would be if the units fired independently of each other, with the means and spreads they have;
`pairwise_correlations` is the Pearson correlation, the cosine after each unit's mean is removed.
"""

import numpy as np

from lessonlib import _validation

EDGE_THRESHOLD = 0.5


def _filter_images(weights, image_shape):
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(
            "`weights` must be a 2-D array (num_pixels, num_filters), a Dense kernel. "
            f"Received: weights of shape {weights.shape}"
        )
    num_pixels = weights.shape[0]
    if image_shape is None:
        side = int(round(np.sqrt(num_pixels)))
        image_shape = (side, side)
    if image_shape[0] * image_shape[1] != num_pixels:
        raise ValueError(
            f"`image_shape` must hold the {num_pixels} weights of a filter. "
            f"Received: image_shape={image_shape}"
        )
    return weights.T.reshape(-1, *image_shape)


def orientation_coherence(weights, image_shape=None):
    """The structure-tensor coherence of each filter, in [0, 1] (1: a single orientation).

    Args:
        weights: `(num_pixels, num_filters)`, column j the weights of hidden unit j.
        image_shape: `(height, width)` of a filter; defaults to square.

    Returns:
        float64 array of shape `(num_filters,)`.
    """
    coherences = []
    for image in _filter_images(weights, image_shape):
        gy, gx = np.gradient(image)
        xx, xy, yy = np.sum(gx * gx), np.sum(gx * gy), np.sum(gy * gy)
        trace = xx + yy
        spread = np.sqrt((xx - yy) ** 2 + 4 * xy**2)
        coherences.append(spread / trace if trace > 0 else 0.0)
    return np.array(coherences)


def edge_like_share(weights, image_shape=None, threshold=EDGE_THRESHOLD):
    """The share of filters whose orientation coherence is above `threshold` (default 0.5).

    0.5 lies above the 99th percentile of random 8x8 filters (0.37) and below what oriented
    edges reach, so random filters score about 0 and edge detectors close to 1.
    """
    threshold = _validation.unit_interval("threshold", threshold)
    return float(np.mean(orientation_coherence(weights, image_shape) > threshold))


def _columns(name, array):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(
            f"`{name}` must be a 2-D array with one column per hidden unit, at least 2 columns. "
            f"Received: {name} of shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite. Received: {name} with NaN or infinite values")
    norms = np.linalg.norm(array, axis=0)
    if np.any(norms == 0):
        raise ValueError(
            f"`{name}` has an all-zero column ({int(np.argmax(norms == 0))}), whose cosine "
            "with anything is undefined."
        )
    return array, norms


def pairwise_cosines(columns):
    """The cosine between every pair of columns, `u . v / (|u| |v|)`.

    Args:
        columns: `(length, num_units)`: hidden activations `(M, N1)`, one column per unit's
            responses over the samples, or a Dense kernel `(D, N1)`, one column per filter.

    Returns:
        float64 array of the `num_units (num_units - 1) / 2` cosines, pair (i, j) for i < j in
        row-major order. Activations of a sigmoid are positive, so their cosines lie in
        (0, 1]: 0 would be two units never active on the same sample.
    """
    array, norms = _columns("columns", columns)
    unit = array / norms
    return (unit.T @ unit)[np.triu_indices(array.shape[1], k=1)]


def independent_cosines(activations):
    """The cosines the units' responses would have if the units were independent.

    For independent units E[a_i a_j] = E[a_i] E[a_j], so the cosine of their responses over
    many samples is E[a_i] E[a_j] / sqrt(E[a_i^2] E[a_j^2]), set by each unit's mean (rho_hat)
    and mean square alone. Units that fire 0 or 1 with probability rho give exactly rho.

    Args:
        activations: `(M, N1)`, one column per hidden unit.

    Returns:
        float64 array, the same pairs in the same order as `pairwise_cosines`.
    """
    array, norms = _columns("activations", activations)
    means = array.mean(axis=0)
    root_mean_squares = norms / np.sqrt(len(array))
    ratio = means / root_mean_squares
    return np.outer(ratio, ratio)[np.triu_indices(array.shape[1], k=1)]


def pairwise_correlations(columns):
    """The Pearson correlation between every pair of columns: their cosine once centred.

    Args:
        columns: `(length, num_units)`, e.g. hidden activations `(M, N1)`.

    Returns:
        float64 array, the same pairs in the same order as `pairwise_cosines`. Independent
        units give about 0, whatever their means; the cosine of positive responses does not.
    """
    array, _ = _columns("columns", columns)
    centred = array - array.mean(axis=0)
    spreads = np.linalg.norm(centred, axis=0)
    if np.any(spreads == 0):
        raise ValueError(
            f"`columns` has a constant column ({int(np.argmax(spreads == 0))}), whose "
            "correlation with anything is undefined."
        )
    unit = centred / spreads
    return (unit.T @ unit)[np.triu_indices(array.shape[1], k=1)]

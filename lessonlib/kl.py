"""Kullback-Leibler divergence: for Bernoulli variables (the sparsity penalty), for discrete
distributions and for Gaussians, in NumPy and in `keras.ops`.

KL(p || q) = sum_i p_i log(p_i / q_i) measures how much q misses of p. It is non-negative, zero
only when p = q, and not symmetric. The sparse autoencoder compares each hidden unit's average
activation rho_hat_j with the target rho, seeing both as the probability that a Bernoulli
variable is 1:

    KL(rho || rho_hat_j) = rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))

The NumPy functions follow SciPy's conventions (`scipy.special.rel_entr`): 0 log 0 = 0, and
p log(p / 0) = inf for p > 0. The `keras.ops` functions are for training, where an infinite
loss is useless: they clip rho_hat into [epsilon, 1 - epsilon] so the penalty and its gradient
stay finite when a unit saturates.
"""

import keras
import numpy as np
from keras import ops


def _probabilities(name, value):
    array = np.asarray(value, dtype=np.float64)
    if np.any(np.isnan(array)) or np.any(array < 0) or np.any(array > 1):
        raise ValueError(f"`{name}` must hold probabilities in [0, 1]. Received: {name}={value!r}")
    return array


def _same_shape(first_name, first, second_name, second):
    try:
        np.broadcast_shapes(np.shape(first), np.shape(second))
    except ValueError:
        raise ValueError(
            f"`{first_name}` and `{second_name}` must have the same shape (or broadcast). "
            f"Received: {first_name} of shape {np.shape(first)}, {second_name} of shape "
            f"{np.shape(second)}"
        ) from None


def _relative_entropy(p, q):
    """p log(p / q) elementwise, 0 where p = 0, inf where q = 0 < p (scipy's rel_entr)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = p * np.log(p / q)
    terms = np.where(p == 0, 0.0, terms)
    return np.where((q == 0) & (p > 0), np.inf, terms)


def bernoulli_kl(rho, rho_hat):
    """KL(rho || rho_hat) between Bernoulli variables with means `rho` and `rho_hat`.

    Args:
        rho: the target probability (the sparsity parameter), a number or an array.
        rho_hat: the estimated probabilities (average activations), same shape or broadcastable.

    Returns:
        float64 array (or number) of the elementwise divergences; `inf` where `rho_hat` is 0
        or 1 and `rho` is not.

    Raises:
        ValueError: if a value is outside [0, 1] or the shapes do not broadcast.

    Example:

    >>> round(float(bernoulli_kl(0.05, 0.2)), 4)
    0.0939
    """
    _same_shape("rho", rho, "rho_hat", rho_hat)
    p, q = _probabilities("rho", rho), _probabilities("rho_hat", rho_hat)
    return _relative_entropy(p, q) + _relative_entropy(1 - p, 1 - q)


def bernoulli_kl_derivative(rho, rho_hat):
    """d KL(rho || rho_hat) / d rho_hat = -rho / rho_hat + (1 - rho) / (1 - rho_hat).

    This is the term the sparsity penalty adds, times beta, to delta_j^(1) in backpropagation.

    Args:
        rho: the target probability.
        rho_hat: the estimates, strictly between 0 and 1.

    Returns:
        float64 array (or number), elementwise.

    Raises:
        ValueError: if `rho` is outside [0, 1], `rho_hat` outside (0, 1), or the shapes do
            not broadcast.
    """
    _same_shape("rho", rho, "rho_hat", rho_hat)
    p, q = _probabilities("rho", rho), _probabilities("rho_hat", rho_hat)
    if np.any(q == 0) or np.any(q == 1):
        raise ValueError(
            "`rho_hat` must be strictly between 0 and 1 for the derivative to be finite. "
            f"Received: rho_hat={rho_hat!r}"
        )
    return -p / q + (1 - p) / (1 - q)


def _distributions(name, value, axis):
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        raise ValueError(
            f"`{name}` must be a distribution: an array of probabilities along axis {axis}. "
            f"Received: {name}={value!r}"
        )
    if np.any(np.isnan(array)) or np.any(array < 0):
        raise ValueError(f"`{name}` must not hold negative values. Received: {name}={value!r}")
    totals = array.sum(axis=axis)
    # 1e-6 lets float32 inputs and rounded tables through and still catches forgotten
    # normalisations, whose totals are off by far more.
    if not np.allclose(totals, 1, atol=1e-6):
        raise ValueError(
            f"`{name}` must sum to 1 along axis {axis}; its sums are {np.round(totals, 6)}. "
            f"Received: {name}={value!r}"
        )
    return array


def discrete_kl(p, q, axis=-1):
    """KL(p || q) = sum_i p_i log(p_i / q_i) between discrete distributions.

    Args:
        p: probabilities that sum to 1 along `axis`.
        q: the same for the second distribution, same shape as `p`.
        axis: the axis that indexes outcomes.

    Returns:
        float64 array with `axis` summed out; `inf` where q misses an outcome that p has.

    Raises:
        ValueError: if the shapes differ, a value is negative, or a distribution does not sum
            to 1.

    Example:

    >>> round(float(discrete_kl([0.5, 0.5], [0.9, 0.1])), 4)
    0.5108
    """
    if np.shape(p) != np.shape(q):
        raise ValueError(
            "`p` and `q` must have the same shape, one probability per outcome. "
            f"Received: p of shape {np.shape(p)}, q of shape {np.shape(q)}"
        )
    p, q = _distributions("p", p, axis), _distributions("q", q, axis)
    return _relative_entropy(p, q).sum(axis=axis)


def gaussian_kl(mean_p, std_p, mean_q, std_q):
    """KL(N(mean_p, std_p^2) || N(mean_q, std_q^2)) in closed form, elementwise.

    log(std_q / std_p) + (std_p^2 + (mean_p - mean_q)^2) / (2 std_q^2) - 1/2.

    Args:
        mean_p, std_p: the first Gaussian's mean and standard deviation (positive).
        mean_q, std_q: the second Gaussian's.

    Returns:
        float64 array (or number).

    Raises:
        ValueError: if a standard deviation is not positive and finite, a mean is not finite,
            or the shapes do not broadcast.
    """
    for name, value in (("std_p", std_p), ("std_q", std_q)):
        array = np.asarray(value, dtype=np.float64)
        if not np.all((array > 0) & np.isfinite(array)):
            raise ValueError(
                f"`{name}` must be positive and finite (a standard deviation). "
                f"Received: {name}={value!r}"
            )
    for name, value in (("mean_p", mean_p), ("mean_q", mean_q)):
        if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
            raise ValueError(f"`{name}` must be finite. Received: {name}={value!r}")
    try:
        np.broadcast_shapes(*(np.shape(v) for v in (mean_p, std_p, mean_q, std_q)))
    except ValueError:
        raise ValueError(
            "The means and standard deviations must have the same shape (or broadcast). "
            f"Received shapes: mean_p {np.shape(mean_p)}, std_p {np.shape(std_p)}, "
            f"mean_q {np.shape(mean_q)}, std_q {np.shape(std_q)}"
        ) from None
    mean_p, std_p, mean_q, std_q = (
        np.asarray(v, dtype=np.float64) for v in (mean_p, std_p, mean_q, std_q)
    )
    return np.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5


# keras.ops versions, for losses and layers on every backend.


def _concrete_probabilities(name, value):
    """Check a number or NumPy array as `bernoulli_kl` does; a backend tensor may be symbolic
    (traced inside a compiled step), so it passes unchecked."""
    if isinstance(value, (int, float, np.generic, np.ndarray)):
        _probabilities(name, value)


def _epsilon(epsilon):
    return keras.config.epsilon() if epsilon is None else epsilon


def _xlogx_over(p, q, epsilon):
    """p log(p / q), 0 where p = 0 (keras.ops has no xlogy); finite gradient there too."""
    return p * ops.log(ops.maximum(p, epsilon) / q)


def bernoulli_kl_ops(rho, rho_hat, epsilon=None):
    """`bernoulli_kl` with `keras.ops`, for training; differentiable on every backend.

    Args:
        rho: the target probability, a number in [0, 1] (or a tensor).
        rho_hat: a tensor of estimates.
        epsilon: `rho_hat` is clipped into [epsilon, 1 - epsilon] so the value and gradient
            stay finite; defaults to `keras.config.epsilon()` (1e-7).

    Returns:
        A tensor shaped like `rho_hat`.

    Raises:
        ValueError: if `rho` or `rho_hat` is a number or NumPy array outside [0, 1] (tensors
            are not checked: inside a compiled step their values are not known).
    """
    _concrete_probabilities("rho", rho)
    _concrete_probabilities("rho_hat", rho_hat)
    epsilon = _epsilon(epsilon)
    rho_hat = ops.clip(rho_hat, epsilon, 1 - epsilon)
    rho = ops.cast(rho, rho_hat.dtype)
    return _xlogx_over(rho, rho_hat, epsilon) + _xlogx_over(1 - rho, 1 - rho_hat, epsilon)


def bernoulli_kl_derivative_ops(rho, rho_hat, epsilon=None):
    """`bernoulli_kl_derivative` with `keras.ops`, rho_hat clipped as in `bernoulli_kl_ops`.

    Raises:
        ValueError: if `rho` or `rho_hat` is a number or NumPy array outside [0, 1].
    """
    _concrete_probabilities("rho", rho)
    _concrete_probabilities("rho_hat", rho_hat)
    epsilon = _epsilon(epsilon)
    rho_hat = ops.clip(rho_hat, epsilon, 1 - epsilon)
    return -rho / rho_hat + (1 - rho) / (1 - rho_hat)


def discrete_kl_ops(p, q, axis=-1, epsilon=None):
    """`discrete_kl` with `keras.ops`; `q` is clipped below at epsilon to stay finite."""
    epsilon = _epsilon(epsilon)
    q = ops.maximum(q, epsilon)
    p = ops.cast(p, q.dtype)
    return ops.sum(_xlogx_over(p, q, epsilon), axis=axis)


def gaussian_kl_ops(mean_p, std_p, mean_q, std_q):
    """`gaussian_kl` with `keras.ops`, elementwise."""
    return (
        ops.log(std_q / std_p)
        + (ops.square(std_p) + ops.square(mean_p - mean_q)) / (2 * ops.square(std_q))
        - 0.5
    )

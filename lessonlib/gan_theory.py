"""The lecture's GAN formulas: the value function, the optimal discriminator, C(G) and the JSD.

Goodfellow et al. (2014) show that for a fixed generator the discriminator that maximises

    V(D, G) = E_{x ~ p_data}[log D(x)] + E_{z ~ p_z}[log(1 - D(G(z)))]

is D*(x) = p_data(x) / (p_data(x) + p_g(x)), and that at D* the game's value is

    C(G) = V(D*, G) = -log 4 + 2 JSD(p_data || p_g),

which is smallest, -log 4, exactly when p_g = p_data. The NumPy functions here evaluate these on
densities sampled on a grid of step `dx` (1-D, or any shape: the integrals are sums times the
cell size). The `*_ops` functions are the losses a GAN trains on, in `keras.ops`, from the
discriminator's logits l (D = sigmoid(l)), so that log D = -softplus(-l) never takes log 0.
"""

import numpy as np
from keras import ops

from lessonlib import _validation

LOG_4 = float(np.log(4.0))

__all__ = [
    "LOG_4",
    "discriminator_loss",
    "discriminator_loss_ops",
    "generator_loss",
    "generator_loss_ops",
    "jensen_shannon",
    "optimal_discriminator",
    "value_function",
    "virtual_training_criterion",
]

_GENERATOR_LOSSES = ("non_saturating", "minimax")


def _densities(p_data, p_g):
    p_data = np.asarray(p_data, dtype=np.float64)
    p_g = np.asarray(p_g, dtype=np.float64)
    if p_data.shape != p_g.shape:
        raise ValueError(
            "`p_data` and `p_g` must be sampled on the same grid. Received: p_data of shape "
            f"{p_data.shape}, p_g of shape {p_g.shape}"
        )
    for name, values in (("p_data", p_data), ("p_g", p_g)):
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(
                f"`{name}` must hold finite densities >= 0. Received: values "
                f"from {np.nanmin(values)} to {np.nanmax(values)}"
            )
    return p_data, p_g


def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), for a fixed generator.

    Where both densities are 0 no sample ever lands, and any D is optimal there; this returns
    1/2 (the value D* takes wherever the two densities agree).

    Args:
        p_data: the data density on a grid.
        p_g: the generator's density on the same grid.

    Returns:
        NumPy array of D* on the grid, values in [0, 1].

    Example:

    >>> optimal_discriminator([0.4, 0.1, 0.0], [0.1, 0.1, 0.0])
    array([0.8, 0.5, 0.5])
    """
    p_data, p_g = _densities(p_data, p_g)
    total = p_data + p_g
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, p_data / safe, 0.5)


def _xlog(weight, value):
    """weight * log(value), 0 where weight is 0 (the convention 0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight > 0, weight * np.log(np.where(weight > 0, value, 1.0)), 0.0)


def value_function(discriminator, p_data, p_g, dx):
    """V(D, G) = integral of p_data log D + p_g log(1 - D), on a grid of cell size `dx`.

    Args:
        discriminator: D on the grid, values in [0, 1].
        p_data, p_g: the two densities on the same grid.
        dx: the grid's cell size (the product of the steps on a 2-D grid).

    Returns:
        float. `-inf` if D is 0 where p_data > 0, or 1 where p_g > 0.
    """
    p_data, p_g = _densities(p_data, p_g)
    dx = _validation.positive_number("dx", dx)
    discriminator = np.asarray(discriminator, dtype=np.float64)
    if discriminator.shape != p_data.shape:
        raise ValueError(
            "`discriminator` must be sampled on the densities' grid. Received: discriminator "
            f"of shape {discriminator.shape}, densities of shape {p_data.shape}"
        )
    if not np.all((discriminator >= 0) & (discriminator <= 1)):  # NaN fails both
        raise ValueError(
            "`discriminator` must hold probabilities in [0, 1]. Received: values "
            f"from {np.min(discriminator)} to {np.max(discriminator)}"
            f"{', with NaN' if np.isnan(discriminator).any() else ''}"
        )
    return float(np.sum(_xlog(p_data, discriminator) + _xlog(p_g, 1.0 - discriminator)) * dx)


def jensen_shannon(p, q, dx):
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2, in nats, on a grid.

    Between 0 (p = q) and log 2 (disjoint supports).
    """
    p, q = _densities(p, q)
    dx = _validation.positive_number("dx", dx)
    middle = (p + q) / 2
    kl_p = np.sum(_xlog(p, p) - _xlog(p, middle))
    kl_q = np.sum(_xlog(q, q) - _xlog(q, middle))
    return float(max((kl_p + kl_q) / 2 * dx, 0.0))


def virtual_training_criterion(p_data, p_g, dx):
    """C(G) = max_D V(D, G) = V(D*, G): what the generator minimises when D is optimal.

    With D* substituted, C(G) = integral of p_data log(p_data / (p_data + p_g)) +
    p_g log(p_g / (p_data + p_g)), computed in that form so that a density that underflows to
    almost nothing where the other is large adds almost nothing (D* itself would round to 0
    there, and log 0 to -inf). Goodfellow et al.'s Theorem 1: it equals
    -log 4 + 2 JSD(p_data || p_g), at least -log 4, with equality only when p_g = p_data.
    """
    p_data, p_g = _densities(p_data, p_g)
    dx = _validation.positive_number("dx", dx)
    total = p_data + p_g
    terms = _xlog(p_data, p_data) - _xlog(p_data, total) + _xlog(p_g, p_g) - _xlog(p_g, total)
    return float(np.sum(terms) * dx)


def _probabilities(name, value):
    value = np.asarray(value, dtype=np.float64)
    if np.any((value < 0) | (value > 1)) or not np.all(np.isfinite(value)):
        raise ValueError(
            f"`{name}` must hold probabilities D(.) in [0, 1]. Received: values "
            f"from {np.nanmin(value)} to {np.nanmax(value)}"
        )
    return value


def discriminator_loss(d_real, d_fake):
    """-(1/m) sum [log D(x_i) + log(1 - D(G(z_i)))]: minus the value the discriminator ascends.

    Args:
        d_real: D(x) on a batch of real samples, probabilities.
        d_fake: D(G(z)) on a batch of generated samples.

    Returns:
        float (NumPy). Its minimum, 0, is a discriminator that is sure and right on every sample.
    """
    d_real = _probabilities("d_real", d_real)
    d_fake = _probabilities("d_fake", d_fake)
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(d_real)) - np.mean(np.log1p(-d_fake)))


def generator_loss(d_fake, kind="non_saturating"):
    """The generator's loss on D(G(z)): `"minimax"` (the notes') or `"non_saturating"`.

    minimax: (1/m) sum log(1 - D(G(z_i))), the value function's second term, which the
    generator minimises. Its slope vanishes where D(G(z)) is near 0, early in training.
    non_saturating: -(1/m) sum log D(G(z_i)), the same fixed point with a steep slope there.

    Returns:
        float (NumPy).
    """
    _validation.one_of("kind", kind, _GENERATOR_LOSSES)
    d_fake = _probabilities("d_fake", d_fake)
    with np.errstate(divide="ignore"):
        if kind == "minimax":
            return float(np.mean(np.log1p(-d_fake)))
        return float(-np.mean(np.log(d_fake)))


def discriminator_loss_ops(real_logits, fake_logits):
    """`discriminator_loss` in `keras.ops`, from logits: mean of softplus(-l_real) and of
    softplus(l_fake)."""
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss_ops(fake_logits, kind="non_saturating"):
    """`generator_loss` in `keras.ops`, from the discriminator's logits on generated samples.

    log(1 - D) = -softplus(l) and -log D = softplus(-l), finite for any logit. The minimax
    loss's gradient is D/(1 - D) times the non-saturating one's, tiny when D -> 0 (lesson 06
    derives it, as an exercise).
    """
    _validation.one_of("kind", kind, _GENERATOR_LOSSES)
    fake_logits = ops.cast(fake_logits, "float32")
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    return ops.mean(ops.softplus(-fake_logits))

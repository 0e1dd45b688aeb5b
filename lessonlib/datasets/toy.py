"""Toy distributions for GANs: 1-D Gaussians and mixtures with their densities, and a ring.

A 1-D distribution lets a lesson compare a trained discriminator with D* on a grid, since its
density is known. The ring of 8 Gaussians (radius 2, standard deviation 0.02; Metz et al. 2017,
Srivastava et al. 2017) is the standard test for mode collapse: a generator that covers only
some of the 8 modes is easy to see and to count (`mode_coverage`).
"""

import dataclasses

import numpy as np

from lessonlib import _validation


@dataclasses.dataclass(frozen=True)
class Mixture1D:
    """A mixture of 1-D Gaussians: `sample(n)` draws from it, `density(x)` evaluates it.

    Attributes:
        means, stds, weights: one entry per component; the weights sum to 1.
    """

    means: tuple
    stds: tuple
    weights: tuple

    def __post_init__(self):
        count = len(self.means)
        if count == 0 or len(self.stds) != count or len(self.weights) != count:
            raise ValueError(
                "`means`, `stds` and `weights` need one entry per component. Received: "
                f"means={self.means}, stds={self.stds}, weights={self.weights}"
            )
        for std in self.stds:
            _validation.positive_number("stds entries", std)
        if any(weight < 0 for weight in self.weights) or not np.isclose(sum(self.weights), 1):
            raise ValueError(
                f"`weights` must be >= 0 and sum to 1. Received: weights={self.weights}"
            )

    def density(self, x):
        """p(x) at each point of `x` (NumPy float64)."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        means, stds = np.asarray(self.means), np.asarray(self.stds)
        gauss = np.exp(-0.5 * ((x - means) / stds) ** 2) / (stds * np.sqrt(2 * np.pi))
        return gauss @ np.asarray(self.weights, dtype=np.float64)

    def sample(self, n, seed=0):
        """`n` samples, shape `(n, 1)`, float32 (ready for a Keras model)."""
        n = _validation.positive_int("n", n)
        rng = np.random.default_rng(_validation.non_negative_int("seed", seed))
        component = rng.choice(len(self.means), size=n, p=np.asarray(self.weights))
        values = rng.normal(np.asarray(self.means)[component], np.asarray(self.stds)[component])
        return values.astype("float32")[:, None]


def gaussian_1d(mean=0.0, std=1.0):
    """A single 1-D Gaussian N(mean, std^2), as a `Mixture1D` with one component."""
    return Mixture1D((float(mean),), (float(std),), (1.0,))


def mixture_1d(means, stds, weights=None):
    """A mixture of 1-D Gaussians; equal weights unless given."""
    means = tuple(float(mean) for mean in means)
    stds = tuple(float(std) for std in stds)
    if weights is None:
        weights = (1.0 / len(means),) * len(means)
    return Mixture1D(means, stds, tuple(float(weight) for weight in weights))


def ring_centers(modes=8, radius=2.0):
    """The centres of the ring's modes, shape `(modes, 2)`, evenly spaced on the circle."""
    modes = _validation.positive_int("modes", modes)
    radius = _validation.positive_number("radius", radius)
    angles = 2 * np.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def ring_of_gaussians(n, modes=8, radius=2.0, std=0.02, seed=0):
    """`n` samples from equal Gaussians (standard deviation `std`) on a ring; `(n, 2)` float32."""
    n = _validation.positive_int("n", n)
    std = _validation.positive_number("std", std)
    rng = np.random.default_rng(_validation.non_negative_int("seed", seed))
    centers = ring_centers(modes, radius)
    chosen = rng.integers(0, len(centers), size=n)
    return (centers[chosen] + rng.normal(0, std, size=(n, 2))).astype("float32")


@dataclasses.dataclass(frozen=True)
class ModeCoverage:
    """How well samples cover the ring's modes.

    Attributes:
        modes_hit: modes with at least `min_count` high-quality samples.
        high_quality_share: the share of samples within `3 std` of some mode.
        counts: high-quality samples per mode.
    """

    modes_hit: int
    high_quality_share: float
    counts: tuple

    @property
    def shares(self):
        """Each mode's share of the high-quality samples (all zeros when there are none)."""
        counts = np.asarray(self.counts, dtype=np.float64)
        return counts / counts.sum() if counts.sum() else counts

    @property
    def unevenness(self):
        """The total variation distance between `shares` and equal shares, 1/modes each.

        0 when the samples on the modes are split evenly, as the data's are (up to sampling
        noise: about 0.02 for 2,000 samples of 8 modes); 1 - 1/modes when they all sit on one
        mode. NaN when no sample is near a mode.
        """
        if not sum(self.counts):
            return float("nan")
        return float(0.5 * np.abs(self.shares - 1 / len(self.counts)).sum())

    def __str__(self):
        return (
            f"{self.modes_hit} of {len(self.counts)} modes hit, "
            f"{self.high_quality_share:.0%} of samples within 3 std of a mode"
        )


def mode_coverage(samples, modes=8, radius=2.0, std=0.02, min_count=None):
    """Count the ring's modes a set of samples covers (Srivastava et al., VEEGAN, 2017).

    A sample is high quality when it lies within 3 standard deviations of the nearest mode's
    centre; a mode is hit when it has at least `min_count` high-quality samples (default: 1 %
    of the samples, at least 1), so that a few stray samples do not count as coverage.

    Args:
        samples: generated points, shape `(n, 2)`.
        modes, radius, std: the ring they should come from.
        min_count: the high-quality samples a mode needs to count as hit.

    Returns:
        ModeCoverage.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(
            f"`samples` must be 2-D points, shape (n, 2). Received: samples of "
            f"shape {samples.shape}"
        )
    std = _validation.positive_number("std", std)
    if min_count is None:
        min_count = max(1, len(samples) // 100)
    min_count = _validation.positive_int("min_count", min_count)
    centers = ring_centers(modes, radius)
    distances = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(samples)), nearest] <= 3 * std
    counts = np.bincount(nearest[close], minlength=len(centers))
    return ModeCoverage(
        int(np.sum(counts >= min_count)), float(close.mean()), tuple(int(count) for count in counts)
    )

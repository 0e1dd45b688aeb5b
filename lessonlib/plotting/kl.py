"""Kullback-Leibler divergence: what a fit by each direction of KL looks like (lesson 05), and
the sparsity penalty's shape (lesson 04).
"""

import numpy as np

from lessonlib.plotting._common import _finish, _subplots


def densities_and_fits(x, target, fits, title=None):
    """A 1-D density with fitted densities over it (e.g. forward and reverse KL fits).

    Args:
        x: the grid, shape `(n,)`.
        target: the density being fitted, on `x`.
        fits: dict of label -> density on `x`.
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    figure, axis = _subplots(figsize=(7, 3.5))
    axis.fill_between(x, target, color="0.85", label="p (target)")
    for label, density in fits.items():
        axis.plot(x, density, linewidth=2, label=label)
    axis.set_xlabel("x")
    axis.set_ylabel("density")
    axis.legend()
    if title:
        axis.set_title(title)
    return _finish(figure)


def bernoulli_kl_curves(sparsity_targets=(0.01, 0.05, 0.2)):
    """KL(rho || rho_hat) against rho_hat for a few targets rho: the sparsity penalty's shape.

    Returns:
        matplotlib.figure.Figure
    """
    from lessonlib.kl import bernoulli_kl

    rho_hat = np.linspace(0.001, 0.999, 999)
    figure, axis = _subplots(figsize=(7, 3.5))
    for rho in sparsity_targets:
        axis.plot(rho_hat, bernoulli_kl(rho, rho_hat), label=f"rho = {rho:g}")
    axis.set_ylim(0, 3)
    axis.set_xlabel(r"$\hat\rho_j$")
    axis.set_ylabel(r"KL($\rho\,\|\,\hat\rho_j$)")
    axis.set_title("zero at rho_hat = rho, steep towards 1, infinite at 0 and 1")
    axis.legend()
    return _finish(figure)

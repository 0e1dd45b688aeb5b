"""Autoencoders: their codes, their errors, and the sparse autoencoder's hidden units.

Lesson 03 draws `latent_planes` (two-dimensional codes, an autoencoder's against PCA's) and
`error_by_code_size`; lesson 04 `sparsity_summary` (also `widgets.sparsity_explorer`) and
`orthogonality`; lesson 05 `sparsity_traces`, each hidden unit's average activation over
training.
"""

import matplotlib
import numpy as np

from lessonlib.plotting._common import _finish, _subplots
from lessonlib.plotting.images import filter_mosaic


def sparsity_summary(rho_hat, weights, sparsity_target, image_shape=None, title=None):
    """The histogram of the hidden units' average activations beside their filters.

    Args:
        rho_hat: average activation of each hidden unit, shape `(num_hidden,)`.
        weights: the encoder's kernel `(num_pixels, num_hidden)`.
        sparsity_target: rho, drawn as a vertical line.
        image_shape: `(height, width)` of a filter; defaults to square.
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    rho_hat = np.asarray(rho_hat, dtype=np.float64)
    figure, (left, right) = _subplots(
        1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1.2, 1]}
    )
    bins = np.linspace(0, max(3 * sparsity_target, rho_hat.max() * 1.05), 30)
    left.hist(rho_hat, bins=bins, color="tab:blue")
    left.axvline(
        sparsity_target, color="tab:red", linestyle="--", label=f"rho = {sparsity_target:g}"
    )
    left.set_xlabel(r"$\hat\rho_j$ (average activation of hidden unit j)")
    left.set_ylabel("hidden units")
    left.set_title(f"mean $\\hat\\rho$ = {rho_hat.mean():.3f}")
    left.legend()
    right.imshow(
        filter_mosaic(weights, image_shape), cmap="gray", vmin=-1, vmax=1, interpolation="nearest"
    )
    right.axis("off")
    right.set_title("filters (encoder weights)")
    if title:
        figure.suptitle(title)
    return _finish(figure)


def sparsity_traces(steps, traces, sparsity_target, title=None):
    """Each hidden unit's rho_hat_j over training, one panel per way of training.

    Args:
        steps: the training steps at which rho_hat was measured, shape `(T,)`.
        traces: dict of label -> rho_hat over the whole data set at those steps, shape
            `(T, num_hidden)`: one line per hidden unit.
        sparsity_target: rho, drawn as a dashed line.
        title: optional title.

    Returns:
        matplotlib.figure.Figure: log-scale panels sharing their axes, so a unit that spikes
        towards 1 or dies towards 0 stands out against the band around rho.
    """
    steps = np.asarray(steps)
    if not isinstance(traces, dict) or not traces:
        raise ValueError(f"`traces` must be a non-empty dict. Received: traces={traces!r}")
    for label, trace in traces.items():
        if np.shape(trace)[:1] != steps.shape or np.ndim(trace) != 2:
            raise ValueError(
                f"Each trace must have shape (len(steps), num_hidden) = ({len(steps)}, ...). "
                f"Received: traces[{label!r}] of shape {np.shape(trace)}"
            )
    figure, axes = _subplots(
        1, len(traces), figsize=(3.2 * len(traces), 3.2), sharex=True, sharey=True, squeeze=False
    )
    floor = 1e-5  # a dead unit's rho_hat underflows towards 0; the log axis stops here
    for axis, (label, trace) in zip(axes.flat, traces.items(), strict=True):
        axis.plot(steps, np.clip(trace, floor, 1), linewidth=0.7, alpha=0.8)
        axis.axhline(sparsity_target, color="black", linestyle="--", linewidth=1)
        axis.set_yscale("log")
        axis.set_ylim(floor, 1)
        axis.set_title(label, fontsize=9)
        axis.set_xlabel("training step")
    axes.flat[0].set_ylabel(r"$\hat\rho_j$ over all the data")
    if title:
        figure.suptitle(title)
    return _finish(figure)


def orthogonality(sparse, references, title=None):
    """How orthogonal sparse autoencoders' hidden units are, against rho.

    Args:
        sparse: dict `{rho: (response_cosines, independent_cosines, filter_cosines)}` for the
            models trained with the penalty: the pairwise cosines between the hidden units'
            responses over the data, what they would be for independent units, and the
            cosines between their filters (`lessonlib.filters`).
        references: dict `{label: (response_cosines, filter_cosines)}`, e.g. no penalty and
            the random initial weights, drawn as horizontal lines.
        title: optional title.

    Returns:
        matplotlib.figure.Figure: left, the mean cosine between responses against rho (log
        scale) with the independent-units curve and the line cosine = rho; right, the median
        |cosine| between filters.
    """
    if not isinstance(sparse, dict) or not sparse:
        raise ValueError(f"`sparse` must be a non-empty dict. Received: sparse={sparse!r}")
    colors = ("tab:red", "tab:gray", "tab:green")
    if not isinstance(references, dict) or len(references) > len(colors):
        raise ValueError(
            f"`references` must be a dict of at most {len(colors)} entries. "
            f"Received: references with keys {list(references)!r}"
        )
    rhos = sorted(sparse)
    figure, (left, right) = _subplots(1, 2, figsize=(10, 3.8))
    left.plot(
        rhos, [np.mean(sparse[rho][0]) for rho in rhos], "o-", color="tab:blue", label="measured"
    )
    left.plot(
        rhos,
        [np.mean(sparse[rho][1]) for rho in rhos],
        "s--",
        color="tab:blue",
        alpha=0.6,
        label="if the units were independent",
    )
    left.plot(rhos, rhos, ":", color="gray", label="cosine = rho (0/1 units)")
    right.plot(
        rhos,
        [np.median(np.abs(sparse[rho][2])) for rho in rhos],
        "o-",
        color="tab:blue",
        label="with the penalty (beta > 0)",
    )
    for (label, (responses, filter_cosines)), color in zip(
        references.items(), colors[: len(references)], strict=True
    ):
        left.axhline(np.mean(responses), color=color, linestyle="-.", label=label)
        right.axhline(np.median(np.abs(filter_cosines)), color=color, linestyle="-.", label=label)
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xlabel(r"sparsity target $\rho$")
        axis.set_ylim(0, 1.02)
        axis.legend(fontsize=8)
    left.set_ylabel("mean cosine")
    left.set_title("between hidden units' responses over the data", fontsize=10)
    right.set_ylabel("median |cosine|")
    right.set_title("between their filters $w^{(1)}_{\\cdot j}$", fontsize=10)
    if title:
        figure.suptitle(title)
    return _finish(figure)


def latent_planes(planes, labels, title=None):
    """Two-dimensional codes side by side, each point coloured by its class.

    Args:
        planes: dict `{name: codes of shape (n, 2)}`, e.g. an autoencoder's and PCA's.
        labels: the class of each point, `(n,)` integers (digits 0-9).
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    if not isinstance(planes, dict) or not planes:
        raise ValueError(f"`planes` must be a non-empty dict. Received: planes={planes!r}")
    labels = np.asarray(labels).ravel()
    for name, codes in planes.items():
        if np.shape(codes) != (len(labels), 2):
            raise ValueError(
                f"Each plane must hold one 2-D code per label, ({len(labels)}, 2). "
                f"Received: planes[{name!r}] of shape {np.shape(codes)}"
            )
    classes = np.unique(labels)
    colors = matplotlib.colormaps["tab10"]
    figure, axes = _subplots(1, len(planes), figsize=(4.6 * len(planes), 4.4), squeeze=False)
    for axis, (name, codes) in zip(axes.flat, planes.items(), strict=True):
        codes = np.asarray(codes)
        for index, label in enumerate(classes):
            chosen = labels == label
            axis.scatter(
                codes[chosen, 0],
                codes[chosen, 1],
                s=4,
                alpha=0.6,
                color=colors(index % 10),
                label=str(label),
            )
        axis.set_title(name, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    axes.flat[-1].legend(
        title="class", fontsize=8, markerscale=3, loc="center left", bbox_to_anchor=(1, 0.5)
    )
    if title:
        figure.suptitle(title)
    return _finish(figure)


def error_by_code_size(sizes, errors, title=None):
    """Reconstruction error against the number of latent variables, one line per method.

    Args:
        sizes: the code sizes N1, `(k,)`.
        errors: dict `{method: error at each size}`.
        title: optional title.

    Returns:
        matplotlib.figure.Figure, both axes logarithmic.
    """
    sizes = np.asarray(sizes)
    if not isinstance(errors, dict) or not errors:
        raise ValueError(f"`errors` must be a non-empty dict. Received: errors={errors!r}")
    for name, values in errors.items():
        if np.shape(values) != sizes.shape:
            raise ValueError(
                f"Each method needs one error per size, {sizes.shape}. "
                f"Received: errors[{name!r}] of shape {np.shape(values)}"
            )
    figure, axis = _subplots(figsize=(6, 3.8))
    for name, values in errors.items():
        axis.plot(sizes, values, "o-", label=name)
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xticks(sizes, [str(size) for size in sizes])
    axis.set_xlabel("latent variables $N^{(1)}$")
    axis.set_ylabel("test MSE")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    return _finish(figure)

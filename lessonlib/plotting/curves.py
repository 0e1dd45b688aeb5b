"""Numbers over training, and runs against runs: curves and scores any lesson may draw.

`training_curves` draws a Keras `History` (lessons 00, 01, 04 and 07); `compare_curves` sets
several runs side by side (lessons 02 and 06); `compare_scores` shows repeated measurements of
a few methods (lesson 04).
"""

import numpy as np

from lessonlib.plotting._common import _finish, _subplots


def training_curves(history, metrics=None, title=None):
    """Plot training (and validation) curves, one panel per metric.

    Args:
        history: the `History` returned by `Model.fit`, or a dict `{name: [value per epoch]}`.
        metrics: names to plot; default: every name that does not start with `val_`.
            `val_<name>` is drawn in the same panel when present.
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            "`history` must be a Keras History or a non-empty dict of lists. "
            f"Received: history={history!r}"
        )
    if metrics is None:
        metrics = [name for name in logs if not name.startswith("val_")]
    missing = [name for name in metrics if name not in logs]
    if missing:
        raise ValueError(
            f"`metrics` names values the history does not hold ({', '.join(missing)}); it "
            f"holds {', '.join(logs)}. Received: metrics={metrics!r}"
        )
    figure, axes = _subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3), squeeze=False)
    for axis, name in zip(axes.flat, metrics, strict=True):
        values = logs[name]
        epochs = np.arange(1, len(values) + 1)
        axis.plot(epochs, values, marker="o", markersize=3, label="training")
        if f"val_{name}" in logs:
            axis.plot(epochs, logs[f"val_{name}"], marker="o", markersize=3, label="validation")
            axis.legend()
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return _finish(figure)


def _check_runs(name, runs, items):
    """Raise a `ValueError` naming `name` unless `runs` maps each run to a non-empty list."""
    if not isinstance(runs, dict) or not runs or not all(len(v) for v in runs.values()):
        raise ValueError(
            f"`{name}` must be a non-empty dict of non-empty lists of {items}. "
            f"Received: {name}={runs!r}"
        )


def compare_curves(
    curves, first_epoch=0, reference=None, reference_label=None, ylabel=None, title=None
):
    """Several runs' curves on one axis, to compare them, with an optional reference line.

    Args:
        curves: dict `{run name: [value per epoch]}`.
        first_epoch: the epoch of each curve's first value (0: measured before training).
        reference: a value to draw as a dashed horizontal line (a bound, an optimum).
        reference_label: its legend entry.
        ylabel, title: optional labels.

    Returns:
        matplotlib.figure.Figure
    """
    _check_runs("curves", curves, "values")
    figure, axis = _subplots(figsize=(7, 3.6))
    for name, values in curves.items():
        axis.plot(
            np.arange(first_epoch, first_epoch + len(values)),
            values,
            marker="o",
            markersize=3,
            label=name,
        )
    if reference is not None:
        axis.axhline(
            reference,
            color="k",
            linestyle="--",
            linewidth=1,
            label=reference_label or f"{reference:.3g}",
        )
    axis.set_xlabel("epoch")
    if ylabel:
        axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _finish(figure)


def compare_scores(scores, ylabel="test accuracy", title=None):
    """Repeated measurements of a few methods: every run as a dot, the mean as a bar.

    Args:
        scores: dict `{method: [score of each run]}`.
        ylabel, title: optional labels.

    Returns:
        matplotlib.figure.Figure
    """
    _check_runs("scores", scores, "scores")
    figure, axis = _subplots(figsize=(1.8 + 2.2 * len(scores), 3.6))
    for index, values in enumerate(scores.values()):
        values = np.asarray(values, dtype=np.float64)
        axis.bar(index, values.mean(), width=0.6, color="tab:blue", alpha=0.35)
        axis.plot(np.full(len(values), index), values, "o", color="tab:blue")
        axis.annotate(
            f"{values.mean():.3f}", (index, values.mean()), ha="center", va="bottom", fontsize=9
        )
    axis.set_xticks(range(len(scores)), [name.replace(" (", "\n(") for name in scores], fontsize=8)
    low = min(min(values) for values in scores.values())
    high = max(max(values) for values in scores.values())
    axis.set_ylim(low - 0.1 * (high - low + 1e-9) - 0.02, high + 0.15 * (high - low + 1e-9))
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3, axis="y")
    if title:
        axis.set_title(title, fontsize=10)
    return _finish(figure)

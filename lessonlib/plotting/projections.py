"""Zeiler & Fergus's projections of a unit's activation back to pixels (lesson 01).

`projection` shows one projection beside its image and receptive field (also
`widgets.projection_explorer`); `projection_grid` is the paper's figure of each layer's
strongest units; `projection_stages` follows one projection down, resolution by resolution;
`measures_by_layer` compares the projections' measures layer by layer, network by network.
"""

import numpy as np

from lessonlib.plotting._common import _finish, _subplots


def _field_outline(field, linewidth):
    """A lime rectangle around a receptive field `(top, bottom, left, right)`, in pixels."""
    from matplotlib.patches import Rectangle

    top, bottom, left, right = field
    return Rectangle(
        (left - 0.5, top - 0.5),
        right - left,
        bottom - top,
        fill=False,
        edgecolor="lime",
        linewidth=linewidth,
    )


def projection(image, result, bgr=False):
    """Show an image, the projected activation in pixel space, and its receptive field.

    Args:
        image: `(height, width[, channels])`.
        result: a `lessonlib.deconvolution.Projection`.
        bgr: the projection's channels are blue, green, red (VGG16's `preprocess_input`).

    Returns:
        matplotlib.figure.Figure: for a grey image, the image and the projection (red
        positive, blue negative); for a colour one, also the projection and the image patch
        inside the receptive field, enlarged, the projection in colour (mid-grey is zero).
    """
    image = np.asarray(image, dtype=np.float64)
    colour = image.ndim == 3 and image.shape[-1] == 3
    pixels = np.asarray(result.pixels, dtype=np.float64)
    top, bottom, left, right = result.receptive_field
    figure, axes = _subplots(1, 4 if colour else 2, figsize=(11 if colour else 6, 3.2))
    if colour:
        image = _as_unit_range(image)
        axes[0].imshow(image)
        axes[1].imshow(_projection_rgb(pixels, bgr))
        axes[2].imshow(_projection_rgb(_crop(pixels, result.receptive_field), bgr))
        axes[3].imshow(_crop(image, result.receptive_field))
        axes[2].set_title("projection, receptive field", fontsize=9)
        axes[3].set_title(f"patch, {bottom - top}x{right - left} px", fontsize=9)
    else:
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else np.abs(pixels).sum(axis=-1)
        axes[0].imshow(image[..., 0] if image.ndim == 3 else image, cmap="gray")
        limit = max(np.abs(pixels).max(), 1e-12)
        axes[1].imshow(pixels, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[0].set_title("image", fontsize=9)
    axes[1].set_title(f"channel {result.channel} at {result.position} in pixels", fontsize=9)
    for index, axis in enumerate(axes):
        if index < 2:
            axis.add_patch(_field_outline(result.receptive_field, linewidth=1.5))
        axis.set_xticks([])
        axis.set_yticks([])
    return _finish(figure)


def _projection_rgb(pixels, bgr):
    """A projection as an image: zero at mid-grey, the largest magnitude at black or white."""
    pixels = np.asarray(pixels, dtype=np.float64)
    if bgr:
        pixels = pixels[..., ::-1]
    limit = max(np.abs(pixels).max(), 1e-12)
    pixels = pixels / (2 * limit) + 0.5
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def _as_unit_range(image):
    """A photograph as floats in [0, 1], whether it came in [0, 255] or already in [0, 1]."""
    image = np.asarray(image, dtype=np.float64)
    return np.clip(image / 255 if image.max() > 1 else image, 0, 1)


def _crop(array, field):
    top, bottom, left, right = field
    return array[top:bottom, left:right]


def projection_grid(image, projections, bgr=False):
    """Zeiler & Fergus's figure: each layer's strongest units, projected, beside their patch.

    Args:
        image: `(height, width, 3)` RGB in [0, 255] (or [0, 1]), as the photograph was.
        projections: dict `{layer name: [Projection, ...]}`, one row per layer.
        bgr: the projections' channels are blue, green, red (VGG16's `preprocess_input`).

    Returns:
        matplotlib.figure.Figure: per unit, its projection cropped to its receptive field
        (mid-grey is zero) and the image patch it saw.
    """
    if not isinstance(projections, dict) or not projections:
        raise ValueError(
            "`projections` must be a non-empty dict {layer: [Projection, ...]}. "
            f"Received: projections={projections!r}"
        )
    image = _as_unit_range(image)
    columns = 2 * max(len(units) for units in projections.values())
    figure, axes = _subplots(
        len(projections), columns, squeeze=False, figsize=(1.3 * columns, 1.45 * len(projections))
    )
    for row, (layer, units) in enumerate(projections.items()):
        for index, result in enumerate(units):
            field = result.receptive_field
            left_axis, right_axis = axes[row, 2 * index], axes[row, 2 * index + 1]
            left_axis.imshow(_projection_rgb(_crop(result.pixels, field), bgr))
            right_axis.imshow(_crop(image, field))
            left_axis.set_title(f"unit {result.channel}", fontsize=7)
            right_axis.set_title(f"{field[1] - field[0]}x{field[3] - field[2]} px", fontsize=7)
        axes[row, 0].set_ylabel(layer, fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        if not axis.images:
            axis.set_frame_on(False)
    return _finish(figure)


def projection_stages(image, result, bgr=False):
    """A projection on its way down, one panel per resolution, coarse to fine.

    Args:
        image: `(height, width, 3)`, the photograph.
        result: a `Projection` made with `stages=True`.
        bgr: the projection's channels are blue, green, red.

    Returns:
        matplotlib.figure.Figure: the image with the receptive field, then at each resolution
        the signal's magnitude (the root of the sum of squares over its channels), and last the
        projection in colour.
    """
    if not result.stages:
        raise ValueError(
            "`result` must be a Projection made with stages=True. "
            "Received: a Projection without stages"
        )
    image = _as_unit_range(image)
    panels = len(result.stages) + 1
    figure, axes = _subplots(1, panels, figsize=(2.0 * panels, 2.3))
    axes[0].imshow(image)
    axes[0].add_patch(_field_outline(result.receptive_field, linewidth=1.2))
    axes[0].set_title("image, receptive field", fontsize=8)
    for axis, (size, signal) in zip(axes[1:-1], result.stages[:-1], strict=True):
        axis.imshow(np.sqrt(np.sum(np.asarray(signal, np.float64) ** 2, axis=-1)), cmap="magma")
        axis.set_title(f"{size}x{size}, {signal.shape[-1]} channels", fontsize=8)
    axes[-1].imshow(_projection_rgb(result.pixels, bgr))
    axes[-1].set_title(f"{result.stages[-1][0]}x{result.stages[-1][0]}, pixels", fontsize=8)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    return _finish(figure)


def measures_by_layer(measures, names=("coherence", "concentration"), titles=None):
    """Per layer, the median and quartiles of projection measures, one line per network.

    Args:
        measures: dict `{network: {layer: [ProjectionMeasures, ...]}}`, the same layers for
            every network.
        names: which attributes of `ProjectionMeasures` to draw, one panel each.
        titles: a title per panel (default: the attribute's name).

    Returns:
        matplotlib.figure.Figure
    """
    if not isinstance(measures, dict) or not measures:
        raise ValueError(
            "`measures` must be a non-empty dict {network: {layer: [...]}}. "
            f"Received: measures={measures!r}"
        )
    titles = titles or names
    figure, axes = _subplots(1, len(names), figsize=(5.5 * len(names), 3.4), squeeze=False)
    for axis, name, title in zip(axes[0], names, titles, strict=True):
        for offset, (network, by_layer) in enumerate(measures.items()):
            layer_names = list(by_layer)
            values = [
                np.array([getattr(m, name) for m in by_layer[layer]]) for layer in layer_names
            ]
            low, middle, high = (
                np.array([np.percentile(v, q) for v in values]) for q in (25, 50, 75)
            )
            positions = np.arange(len(layer_names)) + 0.1 * (offset - (len(measures) - 1) / 2)
            axis.errorbar(
                positions,
                middle,
                yerr=[middle - low, high - middle],
                marker="o",
                capsize=3,
                label=network,
            )
            axis.set_xticks(np.arange(len(layer_names)), layer_names, fontsize=7)
        axis.set_title(title, fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return _finish(figure)

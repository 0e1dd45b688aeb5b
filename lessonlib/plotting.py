"""Figures for the lessons. Every function returns a matplotlib `Figure`.

A returned figure is closed in pyplot, so a notebook shows it exactly once (as the cell's last
expression, or with `display(figure)`), and a script or test that draws hundreds of them does
not accumulate open figures. `figure.savefig(path)` works as usual.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lessonlib import _validation


def _show_figures_as_images_in_notebooks():
    """Make IPython display a returned `Figure` as a PNG whatever matplotlib backend is set.

    The inline backend does this on its own, but a kernel started with `MPLBACKEND=Agg` (or
    any non-inline backend) would show "<Figure size 640x480 with 1 Axes>" instead.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight")
    )


_show_figures_as_images_in_notebooks()


def _finish(figure):
    plt.close(figure)
    return figure


def _columns(count, ncols):
    if ncols is None:
        return max(1, math.ceil(math.sqrt(count)))
    return _validation.positive_int("ncols", ncols)


def _as_images(images, image_shape):
    images = np.asarray(images)
    if image_shape is not None:
        return images.reshape((len(images), *image_shape))
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(
                "Flat images must be square, or `image_shape` must say their shape. "
                f"Received: images of shape {images.shape} and image_shape=None"
            )
        return images.reshape(len(images), side, side)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise ValueError(
            "`images` must have shape (N, H, W), (N, H, W, C) with C in 1, 3, 4, or (N, H*W). "
            f"Received: images of shape {images.shape}"
        )
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


def image_grid(images, ncols=None, titles=None, image_shape=None, cmap="gray", title=None,
               symmetric=False):
    """Show images in a grid, one per cell, without axes.

    Args:
        images: array of shape `(N, H, W)`, `(N, H, W, C)`, or `(N, H*W)` for square images.
        ncols: images per row; defaults to a square-ish grid.
        titles: optional list of N short captions (labels, predictions).
        image_shape: the shape of each image when `images` are flat and not square.
        cmap: colormap for single-channel images.
        title: a title over the whole grid.
        symmetric: for signed single-channel images (basis vectors, filters): each on a scale
            from -max|x| to +max|x|, so that 0 is the middle grey and the sign reads.

    Returns:
        matplotlib.figure.Figure

    Example:

    >>> figure = image_grid(x_train[:16], titles=y_train[:16])  # doctest: +SKIP
    """
    images = _as_images(images, image_shape)
    count = len(images)
    if count == 0:
        raise ValueError("`images` must hold at least one image. Received: 0 images")
    if titles is not None and len(titles) != count:
        raise ValueError(
            f"`titles` must have one entry per image ({count}). Received: {len(titles)} titles"
        )
    ncols = _columns(count, ncols)
    nrows = math.ceil(count / ncols)
    figure, axes = plt.subplots(
        nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + (0.3 if title else 0)), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            limit = None
            if symmetric:
                limit = float(np.max(np.abs(images[index]))) or 1.0  # all zero: any scale
            axis.imshow(images[index], cmap=cmap, vmin=None if limit is None else -limit,
                        vmax=limit)
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _finish(figure)


def filter_mosaic(weights, image_shape=None, ncols=None):
    """Tile filters into one array, as UFLDL's `display_network` does.

    Each filter is scaled by its largest absolute value, so every filter uses the whole range
    [-1, 1] and a weak filter is as visible as a strong one; filters are separated by a
    one-pixel border of -1 (black).

    Args:
        weights: array of shape `(num_pixels, num_filters)`: column j holds the weights
            w_ij of hidden unit j, the layout of a Keras `Dense` kernel.
        image_shape: `(height, width)` of a filter; defaults to square.
        ncols: filters per row; defaults to a square-ish grid.

    Returns:
        float64 array of the mosaic, values in [-1, 1].
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(
            "`weights` must be a 2-D array (num_pixels, num_filters). "
            f"Received: weights of shape {weights.shape}"
        )
    filters = _as_images(weights.T, image_shape)
    count, height, width = filters.shape
    ncols = _columns(count, ncols)
    nrows = math.ceil(count / ncols)
    mosaic = -np.ones((nrows * (height + 1) + 1, ncols * (width + 1) + 1))
    for index, image in enumerate(filters):
        scale = np.abs(image).max()
        row, column = divmod(index, ncols)
        top, left = 1 + row * (height + 1), 1 + column * (width + 1)
        mosaic[top : top + height, left : left + width] = image / scale if scale > 0 else 0
    return mosaic


def filter_grid(weights, image_shape=None, ncols=None, title=None):
    """Show the filters of a layer as a grid of images (see `filter_mosaic`).

    Args:
        weights: `(num_pixels, num_filters)`, e.g. the kernel of the encoder's `Dense` layer.
        image_shape: `(height, width)` of a filter; defaults to square.
        ncols: filters per row.
        title: optional title.

    Returns:
        matplotlib.figure.Figure
    """
    mosaic = filter_mosaic(weights, image_shape, ncols)
    height, width = mosaic.shape
    scale = 6 / max(height, width)
    figure, axis = plt.subplots(figsize=(max(2, width * scale), max(2, height * scale)))
    axis.imshow(mosaic, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    axis.axis("off")
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return _finish(figure)


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
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(3.6 * len(metrics), 3), squeeze=False
    )
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
    figure.tight_layout()
    return _finish(figure)


def compare_curves(curves, first_epoch=0, reference=None, reference_label=None, ylabel=None,
                   title=None):
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
    if not isinstance(curves, dict) or not curves or not all(len(v) for v in curves.values()):
        raise ValueError("`curves` must be a non-empty dict of non-empty lists of values. "
                         f"Received: curves={curves!r}")
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for name, values in curves.items():
        axis.plot(np.arange(first_epoch, first_epoch + len(values)), values, marker="o",
                  markersize=3, label=name)
    if reference is not None:
        axis.axhline(reference, color="k", linestyle="--", linewidth=1,
                     label=reference_label or f"{reference:.3g}")
    axis.set_xlabel("epoch")
    if ylabel:
        axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return _finish(figure)


def _annotate(axis, values, fmt="{:.2g}"):
    if values.size <= 64:
        for (row, column), value in np.ndenumerate(values):
            axis.text(column, row, fmt.format(value), ha="center", va="center", fontsize=7,
                      color="white" if abs(value) < 0.5 * (np.abs(values).max() or 1) else "k")


def transposed_convolution(activations, kernel, strides=1, padding="valid"):
    """Show a transposed convolution as the lecture describes it, for one channel.

    Four panels: the activations, the kernel (the learned receptive field), their basis sum
    (one scaled copy of the kernel per activation, placed `strides` apart) with the crop that
    `padding` makes outlined, and the cropped output.

    Args:
        activations: 2-D array `(height, width)`.
        kernel: 2-D array `(kernel_height, kernel_width)`.
        strides: int or pair.
        padding: `"valid"` or `"same"`.

    Returns:
        matplotlib.figure.Figure
    """
    from matplotlib.patches import Rectangle

    from lessonlib import deconvolution

    activations = np.asarray(activations, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if activations.ndim != 2 or kernel.ndim != 2:
        raise ValueError("`activations` and `kernel` must be 2-D (one channel). Received: "
                         f"shapes {activations.shape} and {kernel.shape}")
    kernel4 = kernel[:, :, None, None]
    full = deconvolution.basis_sum(activations[..., None], kernel4, strides)[..., 0]
    output = deconvolution.transposed_conv2d(activations[..., None], kernel4, strides,
                                             padding)[..., 0]
    stride_h, stride_w = (strides, strides) if isinstance(strides, int) else strides
    top = deconvolution.crop_offset(kernel.shape[0], stride_h, padding)
    left = deconvolution.crop_offset(kernel.shape[1], stride_w, padding)
    figure, axes = plt.subplots(1, 4, figsize=(13, 3.6),
                                gridspec_kw={"width_ratios": [1, 1, 1.6, 1.6]})
    panels = [
        (activations, f"activations {activations.shape[0]}x{activations.shape[1]}"),
        (kernel, f"kernel {kernel.shape[0]}x{kernel.shape[1]}"),
        (full, f"basis sum {full.shape[0]}x{full.shape[1]} (stride {stride_h})"),
        (output, f"cropped output {output.shape[0]}x{output.shape[1]} ({padding})"),
    ]
    limit = max(np.abs(full).max(), np.abs(activations).max(), np.abs(kernel).max(), 1e-12)
    for axis, (values, label) in zip(axes, panels, strict=True):
        axis.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        _annotate(axis, values)
        axis.set_title(label, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[2].add_patch(Rectangle((left - 0.5, top - 0.5), output.shape[1], output.shape[0],
                                fill=False, edgecolor="k", linewidth=2, linestyle="--"))
    figure.tight_layout()
    return _finish(figure)


def pooling_and_unpooling(values, pooled, switches, unpooled):
    """Show max pooling with switches and the unpooling they allow, for one channel.

    Panels: the input with each window's winner circled, the pooled maxima, the switches
    (flat positions), and the unpooled layer, zero except at the switches.

    Args:
        values, unpooled: 2-D arrays of the input's size.
        pooled, switches: 2-D arrays of the pooled size.

    Returns:
        matplotlib.figure.Figure
    """
    values, unpooled = np.asarray(values), np.asarray(unpooled)
    pooled, switches = np.asarray(pooled), np.asarray(switches)
    figure, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    width = values.shape[1]
    limit = max(np.abs(values).max(), 1e-12)
    for axis, data, label in zip(
        axes,
        (values, pooled, switches, unpooled),
        ("input, winners circled", "max-pooled", "switches (y * width + x)", "unpooled"),
        strict=True,
    ):
        if data is switches:
            axis.imshow(np.zeros_like(data, dtype=float), cmap="gray_r", vmin=0, vmax=1)
            _annotate(axis, data, "{:d}")
            for text in axis.texts:
                text.set_color("k")
        else:
            axis.imshow(data, cmap="viridis", vmin=0 if data.min() >= 0 else -limit, vmax=limit)
            _annotate(axis, data)
        axis.set_title(label, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    rows, columns = np.divmod(switches.ravel(), width)
    axes[0].scatter(columns, rows, s=260, facecolors="none", edgecolors="r", linewidths=1.5)
    figure.tight_layout()
    return _finish(figure)


def _label_colors(num_classes, background):
    from matplotlib.colors import ListedColormap

    colors = list(plt.get_cmap("tab10").colors)
    colors = (colors * (num_classes // len(colors) + 1))[:num_classes]
    if background is not None:
        colors[background] = (0.0, 0.0, 0.0)
    return ListedColormap(colors)


def label_maps(images, masks, predictions=None, num_classes=11, background=10, count=6,
               titles=None):
    """Show images with their pixel-wise label maps, and predicted maps when given.

    Args:
        images: `(N, height, width[, 1])`.
        masks: `(N, height, width)` integer labels.
        predictions: optional list of `(name, labels or probabilities)` to add as rows, or
            one array.
        num_classes: number of classes; the colours come from tab10, background black.
        background: the background class, drawn black; `None` for none.
        count: how many images to show.
        titles: optional titles for the columns.

    A legend beside the maps names each class's colour (digits by their value, "background").

    Returns:
        matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    images = _as_images(np.asarray(images)[:count], None)
    rows = [("image", images, "gray"), ("truth", np.asarray(masks)[:count], None)]
    if predictions is not None:
        if not isinstance(predictions, list):
            predictions = [("prediction", predictions)]
        for name, predicted in predictions:
            predicted = np.asarray(predicted)[:count]
            if predicted.ndim == 4:
                predicted = predicted.argmax(axis=-1)
            rows.append((name, predicted, None))
    colors = _label_colors(num_classes, background)
    shown = len(images)
    figure, axes = plt.subplots(len(rows), shown, figsize=(1.6 * shown, 1.6 * len(rows)),
                                squeeze=False)
    for row, (name, data, cmap) in enumerate(rows):
        for column in range(shown):
            axis = axes[row, column]
            if cmap:
                axis.imshow(data[column], cmap=cmap)
            else:
                axis.imshow(data[column], cmap=colors, vmin=-0.5, vmax=num_classes - 0.5,
                            interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name)
            if row == 0 and titles is not None:
                axis.set_title(str(titles[column]), fontsize=8)
    names = ["background" if label == background else str(label) for label in range(num_classes)]
    figure.legend(handles=[Patch(facecolor=colors(label), edgecolor="0.5", label=name)
                           for label, name in enumerate(names)],
                  loc="center right", fontsize=8, title="class", title_fontsize=8)
    figure.tight_layout(rect=(0, 0, 1 - 1.3 / figure.get_figwidth(), 1))
    return _finish(figure)


def activation_scales(image, activations, names):
    """The lecture's bicycle figure: a decoder's activations at every scale, coarse to fine.

    Each panel shows, for one image, the activation map of the channel with the most energy
    at that stage, titled with the layer and its size.

    Args:
        image: `(height, width[, channels])`, shown first.
        activations: list of `(height, width, channels)` arrays, one per stage, for that image.
        names: the stages' layer names.

    Returns:
        matplotlib.figure.Figure
    """
    if len(activations) != len(names):
        raise ValueError(f"`names` must name each of the {len(activations)} activations. "
                         f"Received: {len(names)} names")
    figure, axes = plt.subplots(1, len(activations) + 1,
                                figsize=(2.0 * (len(activations) + 1), 2.4), squeeze=False)
    image = np.asarray(image)
    axes[0, 0].imshow(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image,
                      cmap="gray")
    axes[0, 0].set_title("(a) input", fontsize=9)
    for axis, activation, name in zip(axes[0, 1:], activations, names, strict=True):
        activation = np.asarray(activation, dtype=np.float64)
        channel = int(np.argmax((activation**2).sum(axis=(0, 1))))
        axis.imshow(activation[..., channel], cmap="magma")
        axis.set_title(f"{name}\n{activation.shape[0]}x{activation.shape[1]}", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return _finish(figure)


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
    from matplotlib.patches import Rectangle

    image = np.asarray(image, dtype=np.float64)
    colour = image.ndim == 3 and image.shape[-1] == 3
    pixels = np.asarray(result.pixels, dtype=np.float64)
    top, bottom, left, right = result.receptive_field
    figure, axes = plt.subplots(1, 4 if colour else 2, figsize=(11 if colour else 6, 3.2))
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
            axis.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                     fill=False, edgecolor="lime", linewidth=1.5))
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
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
        raise ValueError("`projections` must be a non-empty dict {layer: [Projection, ...]}. "
                         f"Received: projections={projections!r}")
    image = _as_unit_range(image)
    columns = 2 * max(len(units) for units in projections.values())
    figure, axes = plt.subplots(len(projections), columns, squeeze=False,
                                figsize=(1.3 * columns, 1.45 * len(projections)))
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
    figure.tight_layout()
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
    from matplotlib.patches import Rectangle

    if not result.stages:
        raise ValueError("`result` must be a Projection made with stages=True. "
                         "Received: a Projection without stages")
    image = _as_unit_range(image)
    panels = len(result.stages) + 1
    figure, axes = plt.subplots(1, panels, figsize=(2.0 * panels, 2.3))
    axes[0].imshow(image)
    top, bottom, left, right = result.receptive_field
    axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                fill=False, edgecolor="lime", linewidth=1.2))
    axes[0].set_title("image, receptive field", fontsize=8)
    for axis, (size, signal) in zip(axes[1:-1], result.stages[:-1], strict=True):
        axis.imshow(np.sqrt(np.sum(np.asarray(signal, np.float64) ** 2, axis=-1)),
                    cmap="magma")
        axis.set_title(f"{size}x{size}, {signal.shape[-1]} channels", fontsize=8)
    axes[-1].imshow(_projection_rgb(result.pixels, bgr))
    axes[-1].set_title(f"{result.stages[-1][0]}x{result.stages[-1][0]}, pixels", fontsize=8)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
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
        raise ValueError("`measures` must be a non-empty dict {network: {layer: [...]}}. "
                         f"Received: measures={measures!r}")
    titles = titles or names
    figure, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 3.4), squeeze=False)
    for axis, name, title in zip(axes[0], names, titles, strict=True):
        for offset, (network, by_layer) in enumerate(measures.items()):
            layer_names = list(by_layer)
            values = [np.array([getattr(m, name) for m in by_layer[layer]])
                      for layer in layer_names]
            low, middle, high = (np.array([np.percentile(v, q) for v in values])
                                 for q in (25, 50, 75))
            positions = np.arange(len(layer_names)) + 0.1 * (offset - (len(measures) - 1) / 2)
            axis.errorbar(positions, middle, yerr=[middle - low, high - middle], marker="o",
                          capsize=3, label=network)
            axis.set_xticks(np.arange(len(layer_names)), layer_names, fontsize=7)
        axis.set_title(title, fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return _finish(figure)


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
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6),
                                         gridspec_kw={"width_ratios": [1.2, 1]})
    bins = np.linspace(0, max(3 * sparsity_target, rho_hat.max() * 1.05), 30)
    left.hist(rho_hat, bins=bins, color="tab:blue")
    left.axvline(sparsity_target, color="tab:red", linestyle="--",
                 label=f"rho = {sparsity_target:g}")
    left.set_xlabel(r"$\hat\rho_j$ (average activation of hidden unit j)")
    left.set_ylabel("hidden units")
    left.set_title(f"mean $\\hat\\rho$ = {rho_hat.mean():.3f}")
    left.legend()
    right.imshow(filter_mosaic(weights, image_shape), cmap="gray", vmin=-1, vmax=1,
                 interpolation="nearest")
    right.axis("off")
    right.set_title("filters (encoder weights)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
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
    figure, axes = plt.subplots(1, len(traces), figsize=(3.2 * len(traces), 3.2),
                                sharex=True, sharey=True, squeeze=False)
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
    figure.tight_layout()
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
        raise ValueError(f"`references` must be a dict of at most {len(colors)} entries. "
                         f"Received: references with keys {list(references)!r}")
    rhos = sorted(sparse)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(rhos, [np.mean(sparse[rho][0]) for rho in rhos], "o-", color="tab:blue",
              label="measured")
    left.plot(rhos, [np.mean(sparse[rho][1]) for rho in rhos], "s--", color="tab:blue",
              alpha=0.6, label="if the units were independent")
    left.plot(rhos, rhos, ":", color="gray", label="cosine = rho (0/1 units)")
    right.plot(rhos, [np.median(np.abs(sparse[rho][2])) for rho in rhos], "o-",
               color="tab:blue", label="with the penalty (beta > 0)")
    for (label, (responses, filter_cosines)), color in zip(
            references.items(), colors[:len(references)], strict=True):
        left.axhline(np.mean(responses), color=color, linestyle="-.", label=label)
        right.axhline(np.median(np.abs(filter_cosines)), color=color, linestyle="-.",
                      label=label)
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
    figure.tight_layout()
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
            raise ValueError(f"Each plane must hold one 2-D code per label, ({len(labels)}, 2). "
                             f"Received: planes[{name!r}] of shape {np.shape(codes)}")
    classes = np.unique(labels)
    colors = plt.get_cmap("tab10")
    figure, axes = plt.subplots(1, len(planes), figsize=(4.6 * len(planes), 4.4), squeeze=False)
    for axis, (name, codes) in zip(axes.flat, planes.items(), strict=True):
        codes = np.asarray(codes)
        for index, label in enumerate(classes):
            chosen = labels == label
            axis.scatter(codes[chosen, 0], codes[chosen, 1], s=4, alpha=0.6,
                         color=colors(index % 10), label=str(label))
        axis.set_title(name, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    axes.flat[-1].legend(title="class", fontsize=8, markerscale=3, loc="center left",
                         bbox_to_anchor=(1, 0.5))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
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
            raise ValueError(f"Each method needs one error per size, {sizes.shape}. "
                             f"Received: errors[{name!r}] of shape {np.shape(values)}")
    figure, axis = plt.subplots(figsize=(6, 3.8))
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
    figure.tight_layout()
    return _finish(figure)


def compare_scores(scores, ylabel="test accuracy", title=None):
    """Repeated measurements of a few methods: every run as a dot, the mean as a bar.

    Args:
        scores: dict `{method: [score of each run]}`.
        ylabel, title: optional labels.

    Returns:
        matplotlib.figure.Figure
    """
    if not isinstance(scores, dict) or not scores or not all(len(v) for v in scores.values()):
        raise ValueError("`scores` must be a non-empty dict of non-empty lists of scores. "
                         f"Received: scores={scores!r}")
    figure, axis = plt.subplots(figsize=(1.8 + 2.2 * len(scores), 3.6))
    for index, values in enumerate(scores.values()):
        values = np.asarray(values, dtype=np.float64)
        axis.bar(index, values.mean(), width=0.6, color="tab:blue", alpha=0.35)
        axis.plot(np.full(len(values), index), values, "o", color="tab:blue")
        axis.annotate(f"{values.mean():.3f}", (index, values.mean()), ha="center",
                      va="bottom", fontsize=9)
    axis.set_xticks(range(len(scores)), [name.replace(" (", "\n(") for name in scores],
                    fontsize=8)
    low = min(min(values) for values in scores.values())
    high = max(max(values) for values in scores.values())
    axis.set_ylim(low - 0.1 * (high - low + 1e-9) - 0.02, high + 0.15 * (high - low + 1e-9))
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3, axis="y")
    if title:
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return _finish(figure)


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
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.fill_between(x, target, color="0.85", label="p (target)")
    for label, density in fits.items():
        axis.plot(x, density, linewidth=2, label=label)
    axis.set_xlabel("x")
    axis.set_ylabel("density")
    axis.legend()
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return _finish(figure)


def bernoulli_kl_curves(sparsity_targets=(0.01, 0.05, 0.2)):
    """KL(rho || rho_hat) against rho_hat for a few targets rho: the sparsity penalty's shape.

    Returns:
        matplotlib.figure.Figure
    """
    from lessonlib.kl import bernoulli_kl

    rho_hat = np.linspace(0.001, 0.999, 999)
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for rho in sparsity_targets:
        axis.plot(rho_hat, bernoulli_kl(rho, rho_hat), label=f"rho = {rho:g}")
    axis.set_ylim(0, 3)
    axis.set_xlabel(r"$\hat\rho_j$")
    axis.set_ylabel(r"KL($\rho\,\|\,\hat\rho_j$)")
    axis.set_title("zero at rho_hat = rho, steep towards 1, infinite at 0 and 1")
    axis.legend()
    figure.tight_layout()
    return _finish(figure)


def grid_animation(images_per_epoch, epochs, ncols=None, interval=400):
    """Animate sample grids over epochs (a matplotlib `FuncAnimation`; `.to_jshtml()` for HTML).

    Args:
        images_per_epoch: one array of images per frame, all of the same shape.
        epochs: the epoch each frame was taken after, for the title.
        ncols: images per row.
        interval: milliseconds per frame.
    """
    from matplotlib import animation

    if len(images_per_epoch) == 0 or len(images_per_epoch) != len(epochs):
        raise ValueError("`images_per_epoch` and `epochs` need one entry per frame, at least "
                         f"one. Received: {len(images_per_epoch)} frames, {len(epochs)} epochs")
    frames = [_as_images(images, None) for images in images_per_epoch]
    count = len(frames[0])
    ncols = _columns(count, ncols)
    nrows = math.ceil(count / ncols)
    height, width = frames[0].shape[1:3]
    tiles = np.full((len(frames), nrows * (height + 1) - 1, ncols * (width + 1) - 1), np.nan)
    for frame, images in enumerate(frames):
        for index, image in enumerate(images):
            row, column = divmod(index, ncols)
            tiles[frame, row * (height + 1):row * (height + 1) + height,
                  column * (width + 1):column * (width + 1) + width] = image
    figure, axis = plt.subplots(figsize=(0.45 * ncols + 0.5, 0.45 * nrows + 0.7))
    axis.axis("off")
    shown = axis.imshow(tiles[0], cmap="gray", vmin=0, vmax=1)
    title = axis.set_title(f"after epoch {epochs[0]}")

    def draw(frame):
        shown.set_data(tiles[frame])
        title.set_text(f"after epoch {epochs[frame]}")
        return shown, title

    result = animation.FuncAnimation(figure, draw, frames=len(frames), interval=interval,
                                     blit=False)
    plt.close(figure)
    return result


def discriminator_against_optimal(grid, p_data, p_g, discriminator, optimal, title=None):
    """The two densities, and a trained D(x) over D*(x) = p_data/(p_data + p_g) (lesson 06)."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.plot(grid, p_data, label="p_data")
    top.plot(grid, p_g, label="p_g")
    top.set_ylabel("density")
    top.legend()
    bottom.plot(grid, optimal, color="black", linewidth=3, alpha=0.4,
                label=r"$D^* = p_{data}/(p_{data}+p_g)$")
    bottom.plot(grid, discriminator, color="C3", label="trained D(x)")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_xlabel("x")
    bottom.set_ylabel("D(x)")
    bottom.legend()
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _finish(figure)


def criterion_against_jsd(distances, criteria, jsd, label="mean of p_g"):
    """C(G) and -log 4 + 2 JSD(p_data || p_g) as p_g moves: the minimum -log 4 at p_g = p_data."""
    figure, axis = plt.subplots(figsize=(6, 3.6))
    axis.plot(distances, criteria, marker="o", markersize=4, label=r"$C(G) = V(D^*, G)$")
    axis.plot(distances, -np.log(4) + 2 * np.asarray(jsd), linestyle="--", color="black",
              label=r"$-\log 4 + 2\,JSD(p_{data}\,\|\,p_g)$")
    axis.axhline(-np.log(4), color="gray", linewidth=0.8)
    axis.annotate(r"$-\log 4$", (distances[0], -np.log(4)), textcoords="offset points",
                  xytext=(4, 4), color="gray")
    axis.set_xlabel(label)
    axis.set_ylabel("value")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _finish(figure)


def generator_gradients(d_fake, minimax, non_saturating):
    """Each generated sample's gradient magnitude under both generator losses, against its
    D(G(z)), on log axes: the minimax loss's vanishes as D(G(z)) -> 0 (lesson 06)."""
    figure, axis = plt.subplots(figsize=(6, 3.6))
    axis.scatter(d_fake, minimax, s=6, alpha=0.5, label=r"minimax: $\log(1 - D(G(z)))$")
    axis.scatter(d_fake, non_saturating, s=6, alpha=0.5, marker="s",
                 label=r"non-saturating: $-\log D(G(z))$")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("D(G(z)) of the sample")
    axis.set_ylabel(r"$|\partial\, loss / \partial G(z)|$")
    axis.legend()
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return _finish(figure)


def ring_samples(samples, centers, titles=None):
    """Panels of 2-D samples over the ring's mode centres (mode collapse, lesson 06).

    Args:
        samples: a list of `(n, 2)` arrays, one panel each.
        centers: the modes' centres, `(modes, 2)`.
        titles: one title per panel.
    """
    count = len(samples)
    if count == 0:
        raise ValueError("`samples` must hold at least one set of points. Received: 0 sets")
    figure, axes = plt.subplots(1, count, figsize=(2.6 * count, 2.8), squeeze=False)
    for index, (axis, points) in enumerate(zip(axes.flat, samples, strict=True)):
        points = np.asarray(points)
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.3)
        axis.scatter(centers[:, 0], centers[:, 1], marker="x", color="C3", s=30)
        axis.set_xlim(-3, 3)
        axis.set_ylim(-3, 3)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=9)
    figure.tight_layout()
    return _finish(figure)


def mode_shares(coverages, title=None):
    """Each mode's share of the samples near a mode, epoch by epoch, as an image.

    Args:
        coverages: a list of `toy.ModeCoverage`, one per epoch (epoch 0 first).
        title: optional title.

    Returns:
        matplotlib.figure.Figure: modes down, epochs across; an even split (as the data's) is a
        uniform colour at 1/modes, collapse a few bright cells per column. Epochs with no
        sample near a mode are left blank.
    """
    if not coverages:
        raise ValueError("`coverages` must be a non-empty list of ModeCoverage. Received: "
                         f"coverages={coverages!r}")
    shares = np.array([coverage.shares if sum(coverage.counts) else
                       np.full(len(coverage.counts), np.nan) for coverage in coverages]).T
    figure, axis = plt.subplots(figsize=(min(12, 2 + 0.3 * shares.shape[1]), 3.4))
    image = axis.imshow(shares, aspect="auto", cmap="viridis", vmin=0,
                        vmax=max(0.5, np.nanmax(shares) if np.isfinite(shares).any() else 0.5),
                        interpolation="nearest")
    axis.set_xlabel("epoch")
    axis.set_ylabel("mode")
    axis.set_yticks(range(shares.shape[0]))
    figure.colorbar(image, ax=axis,
                    label=f"share of samples on the modes (even: 1/{shares.shape[0]})")
    if title:
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return _finish(figure)


def frechet_over_epochs(epochs, distances, floor, name, accuracy=None):
    """The Fréchet distance of generated digits per epoch, with the real-vs-real floor."""
    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    axis.plot(epochs, distances, marker="o", label="generated vs real")
    axis.axhline(floor, color="black", linestyle="--", label="real vs real (the floor)")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    caption = name if accuracy is None else f"{name}\n(classifier test accuracy {accuracy:.1%})"
    axis.set_ylabel("Fréchet distance")
    axis.set_title(caption, fontsize=9)
    axis.legend()
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return _finish(figure)

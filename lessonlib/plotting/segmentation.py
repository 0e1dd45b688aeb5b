"""The DeconvNet's segmentation: label maps and the decoder's activations (lesson 02).

`label_maps` sets images beside their true and predicted pixel-wise labels; `activation_scales`
is the lecture's figure of a decoder's activations at every scale, coarse to fine.
"""

import matplotlib
import numpy as np

from lessonlib.plotting._common import _as_images, _finish, _subplots


def _label_colors(num_classes, background):
    from matplotlib.colors import ListedColormap

    colors = list(matplotlib.colormaps["tab10"].colors)
    colors = (colors * (num_classes // len(colors) + 1))[:num_classes]
    if background is not None:
        colors[background] = (0.0, 0.0, 0.0)
    return ListedColormap(colors)


def label_maps(
    images, masks, predictions=None, num_classes=11, background=10, count=6, titles=None
):
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
    figure, axes = _subplots(
        len(rows), shown, figsize=(1.6 * shown, 1.6 * len(rows)), squeeze=False
    )
    for row, (name, data, cmap) in enumerate(rows):
        for column in range(shown):
            axis = axes[row, column]
            if cmap:
                axis.imshow(data[column], cmap=cmap)
            else:
                axis.imshow(
                    data[column],
                    cmap=colors,
                    vmin=-0.5,
                    vmax=num_classes - 0.5,
                    interpolation="nearest",
                )
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name)
            if row == 0 and titles is not None:
                axis.set_title(str(titles[column]), fontsize=8)
    names = ["background" if label == background else str(label) for label in range(num_classes)]
    figure.legend(
        handles=[
            Patch(facecolor=colors(label), edgecolor="0.5", label=name)
            for label, name in enumerate(names)
        ],
        loc="center right",
        fontsize=8,
        title="class",
        title_fontsize=8,
    )
    return _finish(figure, rect=(0, 0, 1 - 1.3 / figure.get_figwidth(), 1))


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
        raise ValueError(
            f"`names` must name each of the {len(activations)} activations. "
            f"Received: {len(names)} names"
        )
    figure, axes = _subplots(
        1, len(activations) + 1, figsize=(2.0 * (len(activations) + 1), 2.4), squeeze=False
    )
    image = np.asarray(image)
    axes[0, 0].imshow(
        image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image, cmap="gray"
    )
    axes[0, 0].set_title("(a) input", fontsize=9)
    for axis, activation, name in zip(axes[0, 1:], activations, names, strict=True):
        activation = np.asarray(activation, dtype=np.float64)
        channel = int(np.argmax((activation**2).sum(axis=(0, 1))))
        axis.imshow(activation[..., channel], cmap="magma")
        axis.set_title(f"{name}\n{activation.shape[0]}x{activation.shape[1]}", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    return _finish(figure)

"""Deconvolution step by step, for one channel (lesson 01, and `widgets`).

`transposed_convolution` draws a transposed convolution as a sum of scaled copies of the
kernel, cropped by the padding (also `widgets.transposed_convolution_explorer`);
`pooling_and_unpooling` draws max pooling with switches and the unpooling they allow.
"""

import numpy as np

from lessonlib.plotting._common import _finish, _subplots


def _annotate(axis, values, fmt="{:.2g}"):
    if values.size <= 64:
        for (row, column), value in np.ndenumerate(values):
            axis.text(
                column,
                row,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if abs(value) < 0.5 * (np.abs(values).max() or 1) else "k",
            )


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
        raise ValueError(
            "`activations` and `kernel` must be 2-D (one channel). Received: "
            f"shapes {activations.shape} and {kernel.shape}"
        )
    kernel4 = kernel[:, :, None, None]
    full = deconvolution.basis_sum(activations[..., None], kernel4, strides)[..., 0]
    output = deconvolution.transposed_conv2d(activations[..., None], kernel4, strides, padding)[
        ..., 0
    ]
    stride_h, stride_w = (strides, strides) if isinstance(strides, int) else strides
    top = deconvolution.crop_offset(kernel.shape[0], stride_h, padding)
    left = deconvolution.crop_offset(kernel.shape[1], stride_w, padding)
    figure, axes = _subplots(
        1, 4, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1, 1, 1.6, 1.6]}
    )
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
    axes[2].add_patch(
        Rectangle(
            (left - 0.5, top - 0.5),
            output.shape[1],
            output.shape[0],
            fill=False,
            edgecolor="k",
            linewidth=2,
            linestyle="--",
        )
    )
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
    figure, axes = _subplots(1, 4, figsize=(13, 3.6))
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
    return _finish(figure)

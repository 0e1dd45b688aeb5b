"""The lessons' ipywidgets explorers redraw their figure when a control moves."""

from matplotlib.figure import Figure

from lessonlib import widgets


def test_the_explorer_redraws_when_a_control_moves():
    explorer = widgets.transposed_convolution_explorer()
    first = explorer.figure
    assert isinstance(first, Figure)
    assert first.axes[2].get_title() == "basis sum 7x7 (stride 2)"  # 3x3 activations
    explorer.controls["strides"].value = 3
    assert explorer.figure is not first
    assert explorer.figure.axes[2].get_title() == "basis sum 9x9 (stride 3)"
    explorer.controls["padding"].value = "same"
    assert explorer.figure.axes[3].get_title() == "cropped output 9x9 (same)"

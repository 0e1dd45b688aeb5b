import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from lessonlib import plotting

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent


def test_image_grid_returns_a_figure_pyplot_does_not_hold_with_one_panel_per_image():
    images = np.random.default_rng(0).random((10, 28, 28))
    before = plt.get_fignums()
    figure = plotting.image_grid(images, ncols=5, titles=list(range(10)))
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == before  # not in pyplot: a notebook shows it once
    shown = [axis for axis in figure.axes if axis.images]
    assert len(shown) == 10
    assert shown[3].get_title() == "3"


def test_image_grid_shows_signed_images_on_a_scale_symmetric_about_zero():
    images = np.array([[[0.5, -2.0], [1.0, 0.0]], [[0.1, 0.3], [0.2, 0.0]]])
    shown = [
        axis.images[0] for axis in plotting.image_grid(images, symmetric=True).axes if axis.images
    ]
    assert [image.get_clim() for image in shown] == [(-2.0, 2.0), (-0.3, 0.3)]
    plain = [axis.images[0] for axis in plotting.image_grid(images).axes if axis.images]
    assert plain[1].get_clim() == (0.0, 0.3)  # matplotlib's own: from min to max


@pytest.mark.parametrize("shape", [(4, 28, 28), (4, 28, 28, 1), (4, 16, 16, 3), (4, 784)])
def test_image_grid_accepts_usual_layouts(shape):
    assert isinstance(plotting.image_grid(np.zeros(shape)), Figure)


def test_image_grid_rejects_what_it_cannot_show():
    with pytest.raises(ValueError, match=r"image_shape"):
        plotting.image_grid(np.zeros((4, 10)))
    with pytest.raises(ValueError, match=r"one entry per image \(4\). Received: 3"):
        plotting.image_grid(np.zeros((4, 8, 8)), titles=[1, 2, 3])
    with pytest.raises(ValueError, match=r"ncols=0"):
        plotting.image_grid(np.zeros((4, 8, 8)), ncols=0)


def test_filter_mosaic_is_ufldls_display_network():
    weights = np.zeros((4, 3))  # three 2x2 filters as columns
    weights[:, 0] = [1, 2, 3, 4]
    weights[:, 1] = [-8, 0, 0, 4]
    mosaic = plotting.filter_mosaic(weights, ncols=2)
    assert mosaic.shape == (2 * 3 + 1, 2 * 3 + 1)
    np.testing.assert_allclose(mosaic[1:3, 1:3], [[0.25, 0.5], [0.75, 1.0]])
    np.testing.assert_allclose(mosaic[1:3, 4:6], [[-1.0, 0.0], [0.0, 0.5]])
    np.testing.assert_allclose(mosaic[4:6, 1:3], 0.0)  # an all-zero filter stays zero
    assert mosaic[0].tolist() == [-1.0] * 7  # borders are black
    assert mosaic.min() >= -1 and mosaic.max() <= 1


def test_filter_grid_and_bad_weights():
    assert isinstance(plotting.filter_grid(np.random.default_rng(0).normal(size=(64, 25))), Figure)
    with pytest.raises(ValueError, match=r"2-D array"):
        plotting.filter_grid(np.zeros(64))


def test_training_curves_from_a_dict_pairs_validation_with_training():
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8]}
    figure = plotting.training_curves(history)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["loss", "accuracy"]
    assert len(figure.axes[0].lines) == 2 and len(figure.axes[1].lines) == 1
    np.testing.assert_array_equal(figure.axes[0].lines[1].get_ydata(), [1.1, 0.7, 0.6])


def test_training_curves_errors():
    with pytest.raises(ValueError, match=r"holds loss"):
        plotting.training_curves({"loss": [1.0]}, metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"history="):
        plotting.training_curves({})


def test_figures_display_as_png_in_ipython_once_asked_whatever_the_backend(ipython_shell):
    figure = plotting.image_grid(np.zeros((2, 8, 8)))
    assert "image/png" not in ipython_shell.display_formatter.format(figure)[0]
    assert plotting.show_figures_in_notebooks() is True  # as runtime.setup does
    assert plotting.show_figures_in_notebooks() is True  # twice changes nothing
    data, _ = ipython_shell.display_formatter.format(figure)
    assert data["image/png"][:4] == b"\x89PNG"


def test_outside_ipython_there_is_no_formatter_to_register():
    assert plotting.show_figures_in_notebooks() is False


def test_compare_curves_draws_every_run_from_epoch_0_on_one_axis_with_the_reference():
    figure = plotting.compare_curves(
        {"a": [3.0, 2.0, 1.0], "b": [3.0, 2.5, 2.0]}, reference=-1.386, reference_label="-log 4"
    )
    (axis,) = figure.axes
    lines = axis.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "-log 4"]
    assert list(lines[0].get_xdata()) == [0, 1, 2]
    assert list(lines[2].get_ydata()) == [-1.386, -1.386]
    with pytest.raises(ValueError, match="curves="):
        plotting.compare_curves({})

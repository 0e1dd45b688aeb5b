"""Figures of the deconvolution lessons."""

import numpy as np
import pytest

from lessonlib import deconvolution, plotting

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent


def test_transposed_convolution_figure_shows_the_four_steps():
    figure = plotting.transposed_convolution(np.eye(2), np.ones((3, 3)), strides=2, padding="same")
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == [
        "activations 2x2",
        "kernel 3x3",
        "basis sum 5x5 (stride 2)",
        "cropped output 4x4 (same)",
    ]
    np.testing.assert_array_equal(
        figure.axes[2].images[0].get_array(),
        deconvolution.basis_sum(np.eye(2)[..., None], np.ones((3, 3, 1, 1)), 2)[..., 0],
    )
    with pytest.raises(ValueError, match=r"2-D"):
        plotting.transposed_convolution(np.zeros((2, 2, 1)), np.ones((3, 3)))


def test_pooling_figure_circles_each_winner():
    values = np.arange(16.0).reshape(4, 4)
    figure = plotting.pooling_and_unpooling(
        values, np.array([[5, 7], [13, 15.0]]), np.array([[5, 7], [13, 15]]), values * 0
    )
    assert len(figure.axes) == 4
    assert len(figure.axes[0].collections[0].get_offsets()) == 4


def test_label_maps_adds_a_row_per_prediction():
    images = np.zeros((3, 8, 8, 1))
    masks = np.full((3, 8, 8), 10)
    figure = plotting.label_maps(images, masks, [("a", masks), ("b", np.zeros((3, 8, 8, 11)))])
    assert len(figure.axes) == 4 * 3
    assert [figure.axes[i * 3].get_ylabel() for i in range(4)] == ["image", "truth", "a", "b"]
    (legend,) = figure.legends  # each class's colour named beside the maps
    assert [text.get_text() for text in legend.get_texts()] == [*map(str, range(10)), "background"]
    black = legend.legend_handles[10].get_facecolor()
    assert tuple(black[:3]) == (0.0, 0.0, 0.0)


def test_activation_scales_titles_every_stage():
    figure = plotting.activation_scales(
        np.zeros((8, 8, 1)), [np.ones((2, 2, 3)), np.ones((4, 4, 2))], ["unpool2", "deconv2"]
    )
    assert [axis.get_title() for axis in figure.axes] == [
        "(a) input",
        "unpool2\n2x2",
        "deconv2\n4x4",
    ]
    with pytest.raises(ValueError, match=r"Received: 1 names"):
        plotting.activation_scales(np.zeros((8, 8)), [np.ones((2, 2, 1))] * 2, ["one"])


def test_projection_figure_outlines_the_receptive_field():
    result = deconvolution.Projection(np.ones((6, 6, 1)), 0, (1, 1), 2.0, (1, 5, 0, 3))
    figure = plotting.projection(np.zeros((6, 6, 1)), result)
    rectangle = figure.axes[1].patches[0]
    assert (rectangle.get_width(), rectangle.get_height()) == (3, 4)


def test_sparsity_traces_draws_every_unit_in_a_panel_per_estimate():
    steps = np.arange(5)
    traces = {"a": np.full((5, 3), 0.01), "b": np.linspace(0, 1, 15).reshape(5, 3)}
    figure = plotting.sparsity_traces(steps, traces, sparsity_target=0.01)
    assert [axis.get_title() for axis in figure.axes] == ["a", "b"]
    assert len(figure.axes[1].lines) == 3 + 1  # three units and the line at rho
    assert figure.axes[1].lines[0].get_ydata().min() == 1e-5  # a dead unit stays on the axis
    with pytest.raises(ValueError, match=r"traces\['a'\] of shape \(4, 3\)"):
        plotting.sparsity_traces(steps, {"a": np.zeros((4, 3))}, 0.01)


def test_latent_planes_colour_each_class():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5)
    figure = plotting.latent_planes(
        {"a": rng.normal(size=(50, 2)), "b": rng.normal(size=(50, 2))}, labels, title="t"
    )
    assert len(figure.axes) == 2
    assert all(len(axis.collections) == 10 for axis in figure.axes)
    with pytest.raises(ValueError, match="\\(50, 2\\)"):
        plotting.latent_planes({"a": np.zeros((50, 3))}, labels)


def test_error_by_code_size_draws_a_line_per_method():
    figure = plotting.error_by_code_size([2, 4, 8], {"PCA": [3, 2, 1], "ae": [2, 1.5, 1.2]})
    assert len(figure.axes[0].lines) == 2
    np.testing.assert_allclose(figure.axes[0].lines[1].get_ydata(), [2, 1.5, 1.2])
    with pytest.raises(ValueError, match="errors\\['ae'\\]"):
        plotting.error_by_code_size([2, 4], {"ae": [1.0]})

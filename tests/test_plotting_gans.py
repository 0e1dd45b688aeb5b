"""Figures of the GAN lessons: each draws what it is given, and refuses what it cannot draw."""

import numpy as np
import pytest

from lessonlib import plotting
from lessonlib.datasets import toy

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent


def test_grid_animation_has_one_frame_per_epoch_and_tiles_the_images():
    frames = [np.full((6, 28, 28, 1), value) for value in (0.0, 0.5, 1.0)]
    animation = plotting.grid_animation(frames, [0, 1, 2], ncols=3)
    html = animation.to_jshtml()
    assert html.count("data:image/png") == 3  # one encoded image per frame
    shown = animation._fig.axes[0].images[0].get_array()
    assert shown.shape == (2 * 29 - 1, 3 * 29 - 1)  # 2 rows x 3 columns, 1-pixel gaps
    with pytest.raises(ValueError, match="one entry per frame"):
        plotting.grid_animation(frames, [0, 1])


def test_discriminator_against_optimal_draws_both_curves():
    grid = np.linspace(-1, 1, 11)
    figure = plotting.discriminator_against_optimal(
        grid, grid**2, 1 - grid**2, grid * 0 + 0.3, grid * 0 + 0.4, title="t"
    )
    top, bottom = figure.axes
    assert len(top.lines) == 2 and len(bottom.lines) == 2
    np.testing.assert_allclose(bottom.lines[1].get_ydata(), 0.3)


def test_criterion_against_jsd_draws_both_sides_of_the_identity():
    distances = np.linspace(0, 1, 5)
    jsd = np.linspace(0, np.log(2), 5)
    figure = plotting.criterion_against_jsd(distances, -np.log(4) + 2 * jsd, jsd)
    axis = figure.axes[0]
    np.testing.assert_allclose(axis.lines[0].get_ydata(), axis.lines[1].get_ydata())


def test_generator_gradients_and_ring_samples_and_frechet_curves():
    figure = plotting.generator_gradients(
        np.array([0.01, 0.1]), np.array([1e-3, 1e-2]), np.array([1.0, 0.9])
    )
    assert figure.axes[0].get_xscale() == "log" and len(figure.axes[0].collections) == 2
    points = toy.ring_of_gaussians(100)
    figure = plotting.ring_samples([points, points[:10]], toy.ring_centers(), titles=["a", "b"])
    assert [axis.get_title() for axis in figure.axes] == ["a", "b"]
    with pytest.raises(ValueError, match="at least one"):
        plotting.ring_samples([], toy.ring_centers())
    figure = plotting.frechet_over_epochs(
        [0, 1, 2], [50.0, 10.0, 5.0], 1.0, "FD in x", accuracy=0.95
    )
    assert "95.0%" in figure.axes[0].get_title()

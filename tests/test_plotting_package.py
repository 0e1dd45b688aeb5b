"""`lessonlib.plotting` as a package: one module per topic, every figure built without pyplot.

The notebooks call `plotting.<figure>(...)`, so every public function of a topic module must be
exported by the package. A figure that pyplot held would stay open after the cell that drew it
(and show again, or pile up in a script), so the package must not use pyplot at all.
"""

import importlib
import inspect
import io
import pathlib
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from lessonlib import deconvolution, plotting
from lessonlib.datasets import toy

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent

PACKAGE = pathlib.Path(plotting.__file__).parent
TOPICS = sorted(path.stem for path in PACKAGE.glob("*.py") if not path.stem.startswith("_"))


def _samples():
    """One call per public figure, with small inputs."""
    rng = np.random.default_rng(0)
    grey, photo = rng.random((4, 8, 8)), rng.random((12, 12, 3))
    pixels = rng.normal(size=(12, 12, 3))
    stages = ((3, rng.normal(size=(3, 3, 4))), (12, pixels))
    coloured = deconvolution.Projection(pixels, 0, (1, 1), 1.0, (1, 11, 0, 10), stages)
    masks = rng.integers(0, 11, (2, 8, 8))
    measures = {"net": {"conv1": [deconvolution.ProjectionMeasures(0.9, 0.2, 0.5)] * 3}}
    steps, traces, x = np.arange(4), np.linspace(0.01, 0.5, 8).reshape(4, 2), np.linspace(-1, 1, 9)
    cosines = (rng.uniform(0, 1, 20), rng.uniform(0, 1, 20), rng.normal(size=20))
    coverage = toy.mode_coverage(toy.ring_of_gaussians(200, seed=0))
    return {
        "image_grid": lambda: plotting.image_grid(grey, title="t"),
        "filter_mosaic": None,  # an array, not a figure
        "filter_grid": lambda: plotting.filter_grid(rng.normal(size=(16, 4))),
        "training_curves": lambda: plotting.training_curves({"loss": [2, 1], "val_loss": [3, 2]}),
        "compare_curves": lambda: plotting.compare_curves({"a": [1, 0]}, reference=0.5),
        "compare_scores": lambda: plotting.compare_scores({"a": [0.8, 0.9], "b": [0.7]}),
        "transposed_convolution": lambda: plotting.transposed_convolution(
            np.eye(2), np.ones((2, 2))
        ),
        "pooling_and_unpooling": lambda: plotting.pooling_and_unpooling(
            np.arange(4.0).reshape(2, 2), np.array([[3.0]]), np.array([[3]]), np.eye(2)
        ),
        "projection": lambda: plotting.projection(photo, coloured, bgr=True),
        "projection_grid": lambda: plotting.projection_grid(photo, {"conv1": [coloured]}),
        "projection_stages": lambda: plotting.projection_stages(photo, coloured),
        "measures_by_layer": lambda: plotting.measures_by_layer(measures),
        "label_maps": lambda: plotting.label_maps(grey[:2], masks, masks),
        "activation_scales": lambda: plotting.activation_scales(
            grey[0], [np.ones((2, 2, 3))], ["deconv"]
        ),
        "sparsity_summary": lambda: plotting.sparsity_summary(
            rng.uniform(0, 0.1, 4), rng.normal(size=(16, 4)), 0.05
        ),
        "sparsity_traces": lambda: plotting.sparsity_traces(steps, {"a": traces}, 0.1),
        "orthogonality": lambda: plotting.orthogonality({0.05: cosines}, {"none": cosines[1:]}),
        "latent_planes": lambda: plotting.latent_planes(
            {"a": rng.normal(size=(6, 2))}, np.arange(6) % 3
        ),
        "error_by_code_size": lambda: plotting.error_by_code_size([2, 4], {"ae": [2.0, 1.0]}),
        "densities_and_fits": lambda: plotting.densities_and_fits(x, np.abs(x), {"q": x**2}),
        "bernoulli_kl_curves": lambda: plotting.bernoulli_kl_curves(),
        "grid_animation": lambda: plotting.grid_animation([grey, grey / 2], [0, 1]),
        "discriminator_against_optimal": lambda: plotting.discriminator_against_optimal(
            x, x**2, 1 - x**2, x * 0 + 0.5, x * 0 + 0.4
        ),
        "criterion_against_jsd": lambda: plotting.criterion_against_jsd(x, x, x),
        "generator_gradients": lambda: plotting.generator_gradients(x + 2, x + 2, x + 3),
        "ring_samples": lambda: plotting.ring_samples(
            [toy.ring_of_gaussians(50)], toy.ring_centers()
        ),
        "mode_shares": lambda: plotting.mode_shares([coverage, coverage]),
        "frechet_over_epochs": lambda: plotting.frechet_over_epochs([0, 1], [9.0, 3.0], 1.0, "FD"),
        "show_figures_in_notebooks": None,  # not a figure: see test_plotting.py
    }


def test_every_public_function_of_a_topic_module_is_exported():
    assert TOPICS == [
        "autoencoders",
        "curves",
        "deconvolution",
        "gans",
        "images",
        "kl",
        "projections",
        "segmentation",
    ]
    for topic in TOPICS:
        module = importlib.import_module(f"lessonlib.plotting.{topic}")
        assert module.__doc__, f"lessonlib.plotting.{topic} says what it draws, for which lesson"
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                assert name in plotting.__all__, f"plotting.{topic}.{name} is not exported"
                assert getattr(plotting, name) is function
    assert sorted(plotting.__all__) == sorted(_samples()), "every figure needs a sample below"


@pytest.mark.parametrize("name", [name for name, draw in _samples().items() if draw])
def test_every_figure_is_drawn_without_pyplot(name):
    plt.close("all")
    drawn = _samples()[name]()
    figure = drawn._fig if isinstance(drawn, FuncAnimation) else drawn
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == []
    if isinstance(drawn, FuncAnimation):
        assert drawn.to_jshtml().count("data:image/png") == 2  # it still plays
    else:
        figure.savefig(io.BytesIO(), format="png")  # it still renders


def test_the_package_never_imports_pyplot():
    for path in sorted(PACKAGE.glob("*.py")):
        for line in path.read_text().splitlines():
            assert not re.match(r"\s*(import|from) matplotlib\.pyplot\b", line), path.name
            assert not re.match(r"\s*from matplotlib import .*\bpyplot\b", line), path.name
            assert "plt." not in line, path.name


def test_importing_drawing_and_showing_in_ipython_loads_no_pyplot_in_a_fresh_process():
    script = """
import sys

import numpy as np
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
from lessonlib import plotting

figure = plotting.image_grid(np.zeros((2, 8, 8)))
assert "image/png" not in shell.display_formatter.format(figure)[0], "shown without setup"
assert plotting.show_figures_in_notebooks()
assert shell.display_formatter.format(figure)[0]["image/png"][:4] == b"\\x89PNG"
plotting.grid_animation([np.zeros((2, 4, 4))], [0]).to_jshtml()
print("matplotlib.pyplot" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parents[1],
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False", "pyplot was imported"

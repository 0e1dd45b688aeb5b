"""Interactive explorers for the lessons: thin ipywidgets wrappers over `lessonlib.plotting`.

Each explorer returns a widget whose figure redraws when a control moves. Where widgets cannot
render (a static export, a terminal), the lessons show the same figure from `plotting` too.
"""

import ipywidgets
import numpy as np
from IPython.display import display

from lessonlib import _validation, deconvolution, plotting


def _figure_output(draw, controls):
    """A VBox of the controls above an Output that shows `draw(**values)`.

    The box keeps its `controls` (by name) and the `figure` it shows now, so a lesson or a
    test can move a control and see what changed.
    """
    output = ipywidgets.Output()

    def redraw(_=None):
        values = {name: control.value for name, control in controls.items()}
        box.figure = draw(**values)
        with output:
            output.clear_output(wait=True)
            display(box.figure)

    box = ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])
    box.controls = controls
    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return box


def transposed_convolution_explorer(activations=None, seed=0):
    """Explore a transposed convolution: kernel size, stride and padding.

    Args:
        activations: 2-D activations to deconvolve; default a 3x3 map with one strong and two
            weaker activations, so the copies of the kernel are easy to tell apart.
        seed: fixes the random kernel.

    Returns:
        ipywidgets.VBox: sliders for the kernel size and the stride, a padding menu, and the
        figure of `plotting.transposed_convolution`.
    """
    if activations is None:
        activations = np.zeros((3, 3))
        activations[0, 0], activations[1, 2], activations[2, 1] = 1.0, 0.5, -0.5
    rng = np.random.default_rng(seed)
    kernels = {size: rng.normal(size=(size, size)).round(1) for size in range(1, 6)}
    controls = {
        "kernel_size": ipywidgets.IntSlider(3, min=1, max=5, description="kernel"),
        "strides": ipywidgets.IntSlider(2, min=1, max=4, description="stride"),
        "padding": ipywidgets.Dropdown(
            options=["valid", "same"], value="valid", description="padding"
        ),
    }

    def draw(kernel_size, strides, padding):
        return plotting.transposed_convolution(activations, kernels[kernel_size], strides, padding)

    return _figure_output(draw, controls)


def sparsity_explorer(results, sparsity_target=None, beta=None, image_shape=None):
    """Explore trained sparse autoencoders by their sparsity target rho and weight beta.

    Args:
        results: dict mapping `(rho, beta)` to `(rho_hat, weights)`, as returned by
            `lessonlib.models.autoencoders.sparsity_sweep`.
        sparsity_target, beta: the starting position of the sliders (default: the first).
        image_shape: `(height, width)` of a filter.

    Returns:
        ipywidgets.VBox: a slider for rho, one for beta, and `plotting.sparsity_summary`.
    """
    targets = sorted({key[0] for key in results})
    betas = sorted({key[1] for key in results})
    controls = {
        "sparsity_target": ipywidgets.SelectionSlider(
            options=targets,
            value=targets[0] if sparsity_target is None else sparsity_target,
            description="rho",
        ),
        "beta": ipywidgets.SelectionSlider(
            options=betas, value=betas[-1] if beta is None else beta, description="beta"
        ),
    }

    def draw(sparsity_target, beta):
        rho_hat, weights = results[(sparsity_target, beta)]
        return plotting.sparsity_summary(
            rho_hat,
            weights,
            sparsity_target,
            image_shape,
            title=f"rho = {sparsity_target:g}, beta = {beta:g}",
        )

    return _figure_output(draw, controls)


def projection_explorer(model, photographs, layers, units=8, preprocess=None, bgr=False):
    """Explore Zeiler & Fergus projections: photograph, layer, and unit.

    Args:
        model: a plain Conv/ReLU/MaxPool network (`lessonlib.pretrained.vgg16_features()`).
        photographs: dict `{name: (height, width, 3) image}` as shown to a person.
        layers: the layer names to choose from.
        units: how many of a layer's strongest units the slider runs through.
        preprocess: turns a photograph into the model's input (for VGG16,
            `keras.applications.vgg16.preprocess_input`); default none.
        bgr: the model's input channels are blue, green, red.

    Returns:
        ipywidgets.VBox: a photograph menu, a layer menu, a slider for the unit (1 is the
        layer's strongest on that photograph), and `plotting.projection`.
    """
    if not isinstance(photographs, dict) or not photographs:
        raise ValueError(
            "`photographs` must be a non-empty dict {name: image}. "
            f"Received: photographs={photographs!r}"
        )
    layers = list(layers)
    units = _validation.positive_int("units", units)
    forward = {}  # one forward pass per photograph and layer, kept for every unit

    def projector(name, layer):
        if (name, layer) not in forward:
            image = np.array(photographs[name], dtype="float32")
            forward[name, layer] = deconvolution.Projector(
                model, image if preprocess is None else preprocess(image), layer
            )
        return forward[name, layer]

    controls = {
        "name": ipywidgets.Dropdown(options=list(photographs), description="photograph"),
        "layer": ipywidgets.Dropdown(options=layers, value=layers[-1], description="layer"),
        "rank": ipywidgets.IntSlider(1, min=1, max=units, description="unit"),
    }

    def draw(name, layer, rank):
        found = projector(name, layer)
        channel = found.strongest_channels(rank)[-1]
        return plotting.projection(photographs[name], found.project(channel), bgr=bgr)

    return _figure_output(draw, controls)

"""Figures for the lessons. Every function returns a matplotlib `Figure`.

The figures are built as `matplotlib.figure.Figure` objects, without pyplot: none is left open
in pyplot, so a notebook shows each exactly once (as the cell's last expression, or with
`display(figure)`), and a script or test that draws hundreds of them accumulates nothing.
`figure.savefig(path)` works as usual. In a notebook, `runtime.setup` (every lesson's first
call) makes IPython show a returned figure as a PNG (`show_figures_in_notebooks`).

The functions live in one module per topic, and all are imported here
(`from lessonlib import plotting; plotting.image_grid(...)`):

- `images`: image and filter grids (most lessons);
- `curves`: training curves, runs and scores compared (most lessons);
- `deconvolution`: transposed convolution, pooling and unpooling (lesson 01);
- `projections`: Zeiler & Fergus's projections to pixels (lesson 01);
- `segmentation`: label maps and a decoder's activations (lesson 02);
- `autoencoders`: codes, errors, and sparse hidden units (lessons 03, 04, 05);
- `kl`: KL fits and the sparsity penalty (lessons 04, 05);
- `gans`: GAN theory, mode collapse and a DCGAN's samples (lessons 06, 07).
"""

from lessonlib.plotting._display import show_figures_in_notebooks
from lessonlib.plotting.autoencoders import (
    error_by_code_size,
    latent_planes,
    orthogonality,
    sparsity_summary,
    sparsity_traces,
)
from lessonlib.plotting.curves import compare_curves, compare_scores, training_curves
from lessonlib.plotting.deconvolution import pooling_and_unpooling, transposed_convolution
from lessonlib.plotting.gans import (
    criterion_against_jsd,
    discriminator_against_optimal,
    frechet_over_epochs,
    generator_gradients,
    grid_animation,
    mode_shares,
    ring_samples,
)
from lessonlib.plotting.images import filter_grid, filter_mosaic, image_grid
from lessonlib.plotting.kl import bernoulli_kl_curves, densities_and_fits
from lessonlib.plotting.projections import (
    measures_by_layer,
    projection,
    projection_grid,
    projection_stages,
)
from lessonlib.plotting.segmentation import activation_scales, label_maps

__all__ = [
    # images
    "image_grid",
    "filter_mosaic",
    "filter_grid",
    # curves
    "training_curves",
    "compare_curves",
    "compare_scores",
    # deconvolution
    "transposed_convolution",
    "pooling_and_unpooling",
    # projections
    "projection",
    "projection_grid",
    "projection_stages",
    "measures_by_layer",
    # segmentation
    "label_maps",
    "activation_scales",
    # autoencoders
    "sparsity_summary",
    "sparsity_traces",
    "orthogonality",
    "latent_planes",
    "error_by_code_size",
    # kl
    "densities_and_fits",
    "bernoulli_kl_curves",
    # gans
    "grid_animation",
    "discriminator_against_optimal",
    "criterion_against_jsd",
    "generator_gradients",
    "ring_samples",
    "mode_shares",
    "frechet_over_epochs",
    # notebooks
    "show_figures_in_notebooks",
]

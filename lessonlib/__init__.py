"""lessonlib: the library behind the course on deconvolution, autoencoders and GANs.

The notebooks import everything from here: `runtime` (backend, device, seeding, fast mode),
`datasets` (MNIST offline, natural image patches, digit scenes), `plotting` (figures),
`checks` (exercise checks and gradient checks), and, by their module names, `layers`
(pooling with switches, unpooling, KL sparsity), `models` (DeconvNet, FCN baseline,
autoencoders, GAN, digit classifier), `training` (callbacks, the GAN's step per backend),
`kl`, `gan_theory`, `backprop`, `filters`, `deconvolution`, `metrics`, `losses`, `autodiff`,
`grading` and `widgets`.
"""

from lessonlib import checks, datasets, plotting, runtime

__version__ = "0.1.0"
__all__ = ["checks", "datasets", "plotting", "runtime"]

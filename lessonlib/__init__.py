"""lessonlib: the library behind the course on deconvolution, autoencoders and GANs.

The notebooks import everything from here: `runtime` (backend, device, seeding, fast mode),
`datasets` (MNIST offline, natural image patches, digit scenes), `plotting` (figures),
`checks` (exercise checks and gradient checks), and, by their module names, `layers`
(pooling with switches, unpooling, KL sparsity), `models` (DeconvNet, FCN baseline,
autoencoders, GAN, digit classifier), `training` (callbacks, the GAN's step per backend),
`kl`, `gan_theory`, `backprop`, `filters`, `deconvolution`, `pretrained` (ImageNet VGG16
offline), `metrics`, `losses`, `autodiff`, `grading` and `widgets`.

Submodules load when first used (`from lessonlib import checks`, or `lessonlib.checks`), so
that importing one, such as the grader, does not import Keras and its backend.
"""

import importlib

__version__ = "0.1.0"
__all__ = ["checks", "datasets", "plotting", "runtime"]


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(f"module 'lessonlib' has no attribute {name!r}")
    try:
        return importlib.import_module(f"lessonlib.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"lessonlib.{name}":
            raise
        raise AttributeError(f"module 'lessonlib' has no attribute {name!r}") from None

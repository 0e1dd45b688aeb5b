"""The one way the library picks code for the running Keras backend: a table keyed by its name.

Keras 3 writes most things once in `keras.ops`; what it cannot (a gradient outside `fit`, the
GAN's two-optimiser step, probing the GPUs, a faster pooling kernel) the library writes per
backend and looks up here, as Keras picks its own `Trainer` from `keras.backend.backend()`.
A backend missing from a table gets a `NotImplementedError` that names what needs it.
"""

import importlib

import keras

BACKENDS = ("tensorflow", "jax", "torch")
_NO_DEFAULT = object()


def select(table, what, default=_NO_DEFAULT):
    """Return `table[backend]` for the running Keras backend.

    Args:
        table: `{backend name: implementation}`.
        what: what needs the implementation, for the error message (e.g. "The GAN's step").
        default: returned for a backend not in `table`; without it, such a backend raises.

    Raises:
        NotImplementedError: for a backend not in `table`, when there is no default.
    """
    backend = keras.backend.backend()
    if backend in table:
        return table[backend]
    if default is not _NO_DEFAULT:
        return default
    raise NotImplementedError(
        f"{what} runs on the {', '.join(table)} backends. Received: KERAS_BACKEND={backend!r}"
    )


def module(prefix, what):
    """Import and return the module `f"{prefix}_{backend}"` for the running backend (Python
    keeps it imported after the first call); only that backend's module is ever imported."""
    return importlib.import_module(select({name: f"{prefix}_{name}" for name in BACKENDS}, what))

"""`lessonlib._backend`: how the library picks per-backend code, and the error elsewhere."""

import keras
import pytest

from lessonlib import _backend, autodiff
from lessonlib.models import GAN


def test_select_picks_the_running_backends_entry_or_the_default():
    table = {name: f"{name} code" for name in _backend.BACKENDS}
    assert _backend.select(table, "test") == f"{keras.backend.backend()} code"
    assert _backend.select({}, "test", default=None) is None


def test_a_backend_without_an_entry_gets_an_error_naming_what_needs_it(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")
    with pytest.raises(
        NotImplementedError,
        match=r"autodiff.gradient runs on the tensorflow, jax, torch backends\. "
        r"Received: KERAS_BACKEND='numpy'",
    ):
        autodiff.gradient(lambda t: keras.ops.sum(t), [1.0])
    with pytest.raises(NotImplementedError, match="The GAN's training step runs on"):
        gan = GAN(
            keras.Sequential([keras.layers.Dense(1)]),
            keras.Sequential([keras.layers.Dense(1)]),
            latent_dim=2,
        )
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())


def test_module_imports_only_the_running_backends_module():
    steps = _backend.module("lessonlib.training.gan", "test")
    assert steps.__name__ == f"lessonlib.training.gan_{keras.backend.backend()}"
    assert _backend.module("lessonlib.training.gan", "test") is steps

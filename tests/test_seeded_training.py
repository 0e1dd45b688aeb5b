"""Library functions that take a seed give the same result whatever the global random state,
and leave it as they found it: `DigitFeatures` and `sparsity_sweep`."""

import random

import keras
import numpy as np

from lessonlib.models import DigitFeatures
from lessonlib.models.autoencoders import sparsity_sweep


def _global_draws():
    return random.random(), float(np.random.rand())  # noqa: NPY002 (the global state is the point)


def _run_after_global_seed(global_seed, function):
    keras.utils.set_random_seed(global_seed)
    result = function()
    return result, _global_draws()


def _assert_seeded(function, compare):
    (first, after_first), (second, _) = (
        _run_after_global_seed(global_seed, function) for global_seed in (1, 2)
    )
    compare(first, second)  # the same whatever the global state
    keras.utils.set_random_seed(1)
    assert after_first == _global_draws(), "the function reseeded or drew from the global state"


def test_digit_features_depend_on_their_seed_alone():
    rng = np.random.default_rng(0)
    digits = rng.uniform(-1, 1, (96, 28, 28, 1)).astype("float32")
    labels = np.arange(96) % 10

    def features():
        space = DigitFeatures(
            digits,
            labels,
            digits[:16],
            labels[:16],
            epochs=2,
            batch_size=32,
            num_features=8,
            seed=0,
        )
        return space.features(digits[:16])

    _assert_seeded(features, lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6))


def test_sparsity_sweep_depends_on_its_seed_alone():
    x = np.random.default_rng(0).uniform(0.1, 0.9, (64, 16)).astype("float32")

    def sweep():
        return sparsity_sweep(x, 4, (0.05,), (0.0, 3.0), epochs=2, batch_size=16, seed=0)

    def compare(first, second):
        assert first.keys() == second.keys()
        for key in first:
            for a, b in zip(first[key], second[key], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-6)

    _assert_seeded(sweep, compare)

"""Library functions that take a seed give the same result whatever the global random state,
and leave it as they found it: `DigitFeatures` and `sparsity_sweep`."""

import random

import keras
import numpy as np
import pytest

from lessonlib import _seeded
from lessonlib._seeded import fit_in_seeded_order
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


def _weights_after(fit_epochs, num_features):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((num_features,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    fit_epochs(model)
    return [keras.ops.convert_to_numpy(weight) for weight in model.weights]


@pytest.mark.parametrize("num_samples", [40, 43])  # batches of 10 divide 40, not 43
def test_seeded_order_trains_as_one_fit_call_per_epoch_would(num_samples):
    # With batches that divide the samples, the epochs go to one `fit` call; the weights must
    # be exactly those of one call per epoch on the same orders.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(num_samples, 4)).astype("float32")
    y = rng.normal(size=(num_samples, 3)).astype("float32")

    def one_call_per_epoch(model):
        order = np.random.default_rng(7)
        for _ in range(3):
            permutation = order.permutation(len(x))
            model.fit(x[permutation], y[permutation], batch_size=10, shuffle=False, verbose=0)

    def seeded(model):
        fit_in_seeded_order(model, x, y, epochs=3, batch_size=10, seed=7)

    for expected, found in zip(
        _weights_after(one_call_per_epoch, 4), _weights_after(seeded, 4), strict=True
    ):
        np.testing.assert_array_equal(found, expected)


class _FitCalls:
    """Stands in for a model: records the samples and `verbose` of each `fit` call."""

    def __init__(self):
        self.calls = []

    def fit(self, x, y, **options):
        self.calls.append((len(x), options["verbose"]))


@pytest.mark.parametrize(
    "num_samples, epochs, verbose, calls",
    [
        (40, 3, 0, [(120, 0)]),  # batches divide the samples: one call
        (43, 3, 0, [(43, 0)] * 3),  # they do not: one call an epoch
        (40, 3, 1, [(40, 1)] * 3),  # a progress bar shows each epoch
        (40, 0, 0, []),
    ],
)
def test_seeded_order_calls_fit_once_only_where_nothing_changes(
    num_samples, epochs, verbose, calls
):
    model = _FitCalls()
    x = np.zeros((num_samples, 2), "float32")
    fit_in_seeded_order(model, x, epochs=epochs, batch_size=10, seed=0, verbose=verbose)
    assert model.calls == calls


def test_seeded_order_copies_at_most_its_limit_into_one_call(monkeypatch):
    monkeypatch.setattr(_seeded, "_MERGED_BYTES", 2 * 40 * 2 * 4)  # two epochs of x
    model = _FitCalls()
    x = np.zeros((40, 2), "float32")
    fit_in_seeded_order(model, x, epochs=5, batch_size=10, seed=0)
    assert model.calls == [(80, 0), (80, 0), (40, 0)]


def test_seeded_order_names_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size=None"):
        fit_in_seeded_order(_FitCalls(), np.zeros((4, 2)), epochs=1, batch_size=None, seed=0)

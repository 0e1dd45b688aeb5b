"""Inputs at the edges of the library's contracts: each fails with a clear error, or gives the
value the mathematics gives, on every backend."""

import keras
import numpy as np
import pytest

from lessonlib import backprop, gan_theory, kl, metrics
from lessonlib.models import SparseAutoencoder


@pytest.mark.parametrize(
    "rho", [1.5, np.float32(1.5), np.array(1.5), np.array([0.1, -0.2]), float("nan")]
)
def test_bernoulli_kl_ops_validate_a_concrete_rho(rho):
    rho_hat = keras.ops.convert_to_tensor(np.array([0.1, 0.2], "float32"))
    with pytest.raises(ValueError, match=r"`rho` must hold probabilities in \[0, 1\]"):
        kl.bernoulli_kl_ops(rho, rho_hat)
    with pytest.raises(ValueError, match=r"`rho` must hold probabilities in \[0, 1\]"):
        kl.bernoulli_kl_derivative_ops(rho, rho_hat)


def test_bernoulli_kl_ops_validate_a_numpy_rho_hat_and_accept_tensors():
    with pytest.raises(ValueError, match=r"`rho_hat` must hold probabilities"):
        kl.bernoulli_kl_derivative_ops(0.1, np.array([0.5, 1.5], "float32"))
    rho_hat = keras.ops.convert_to_tensor(np.array([0.05, 0.2], "float32"))
    # float32 against the float64 NumPy function: 1e-6 relative.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl.bernoulli_kl_ops(0.1, rho_hat)),
        kl.bernoulli_kl(0.1, [0.05, 0.2]),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl.bernoulli_kl_derivative_ops(np.float64(0.1), rho_hat)),
        kl.bernoulli_kl_derivative(0.1, [0.05, 0.2]),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "arguments, pattern",
    [
        ((0.0, np.inf, 0.0, 1.0), r"`std_p` must be positive and finite.*std_p=inf"),
        ((0.0, 1.0, 0.0, np.nan), r"`std_q` must be positive and finite"),
        ((np.nan, 1.0, 0.0, 1.0), r"`mean_p` must be finite.*mean_p=nan"),
        ((0.0, 1.0, [0.0, np.inf], 1.0), r"`mean_q` must be finite"),
    ],
)
def test_gaussian_kl_rejects_what_is_not_a_gaussian(arguments, pattern):
    with pytest.raises(ValueError, match=pattern):
        kl.gaussian_kl(*arguments)


def test_value_function_rejects_a_nan_discriminator():
    grid = np.linspace(-1, 1, 5)
    density = np.full(5, 0.5)
    discriminator = np.array([0.5, np.nan, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with NaN"):
        gan_theory.value_function(discriminator, density, density, grid[1] - grid[0])


def test_frechet_distance_of_one_dimensional_features_is_the_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (400, 1)), rng.normal(2, 3, (500, 1))
    # d^2 = (m_a - m_b)^2 + (s_a - s_b)^2 for 1-D Gaussians; np.cov uses n - 1, as the metric.
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_names_nan_features():
    a = np.ones((4, 3))
    a[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"`features_a` must be finite; 1 of its values"):
        metrics.frechet_distance(a, np.ones((4, 3)))


def test_beta_zero_removes_the_sparsity_term_even_for_a_saturated_unit():
    params = backprop.initialize(4, 2, seed=0)
    params = backprop.Parameters(params.W1, np.array([0.0, 1e3]), params.W2, params.b2)
    X = np.random.default_rng(0).uniform(0.1, 0.9, (6, 4))
    assert backprop.forward(params, X)[0][:, 1].min() == 1.0  # unit 1 saturated at exactly 1
    cost = backprop.cost(params, X, sparsity_target=0.1, beta=0.0, weight_decay=0.0)
    assert cost.sparsity == 0.0 and np.isfinite(cost.total)
    gradient = backprop.gradients(params, X, sparsity_target=0.1, beta=0.0, weight_decay=0.0)
    assert np.all(np.isfinite(gradient.flatten()))
    with pytest.raises(ValueError, match=r"strictly between 0 and 1"):
        backprop.gradients(params, X, sparsity_target=0.1, beta=1.0, weight_decay=0.0)


def test_sparse_autoencoder_rejects_inputs_that_are_not_one_vector_per_sample():
    model = SparseAutoencoder(16, 4)
    with pytest.raises(ValueError, match=r"inputs of shape \(batch_size, 16\).*\(2, 3, 16\)"):
        model(np.zeros((2, 3, 16), "float32"))


def test_mean_iou_of_no_pixels_is_nan_not_a_score():
    mean, per_class = metrics.mean_iou(np.zeros((0, 4, 4), int), np.zeros((0, 4, 4), int), 3)
    assert np.isnan(mean) and np.isnan(per_class).all()
    keras_metric = metrics.MeanIoU(num_classes=3)  # Keras's reading of the same: 0
    assert float(keras_metric.result()) == 0.0

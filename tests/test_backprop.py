"""The lecture's backpropagation in NumPy, against finite differences and autodiff."""

import keras
import numpy as np
import pytest

from lessonlib import backprop
from lessonlib.checks import assert_gradient

SETTINGS = dict(sparsity_target=0.1, beta=3.0, weight_decay=1e-3)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.1, 0.9, size=(12, 8))
    return X, backprop.initialize(8, 5, seed=1)


def test_gradient_matches_finite_differences_at_ufldl_criterion(problem):
    X, params = problem

    def total(theta):
        return backprop.cost_and_gradient(theta, X, 5, **SETTINGS)[0]

    def analytic(theta):
        return backprop.cost_and_gradient(theta, X, 5, **SETTINGS)[1]

    assert assert_gradient(total, params.flatten(), analytic, tolerance=1e-9) < 1e-9


def test_missing_output_derivative_fails_the_check(problem):
    # The lecture's delta^(2) = a^(2) - X leaves out f'(z^(2)); the check must notice.
    X, params = problem
    from lessonlib.checks import CheckFailed

    def wrong(theta):
        p = backprop.Parameters.unflatten(theta, 8, 5)
        a1, a2 = backprop.forward(p, X)
        delta2 = a2 - X
        rho_hat = a1.mean(axis=0)
        term = 3.0 * (-0.1 / rho_hat + 0.9 / (1 - rho_hat))
        delta1 = (delta2 @ p.W2.T + term) * a1 * (1 - a1)
        return backprop.Parameters(
            X.T @ delta1 / 12 + 1e-3 * p.W1,
            delta1.mean(0),
            a1.T @ delta2 / 12 + 1e-3 * p.W2,
            delta2.mean(0),
        ).flatten()

    with pytest.raises(CheckFailed, match="does not match finite differences"):
        assert_gradient(
            lambda t: backprop.cost_and_gradient(t, X, 5, **SETTINGS)[0], params.flatten(), wrong
        )
    # The library's option for the notes' delta^(2), which lesson 05 shows, is that gradient.
    notes = backprop.cost_and_gradient(params.flatten(), X, 5, **SETTINGS, output_derivative=False)
    np.testing.assert_allclose(notes[1], wrong(params.flatten()), rtol=1e-12)


def test_pieces_agree_with_each_other(problem):
    X, params = problem
    value, flat = backprop.cost_and_gradient(params.flatten(), X, 5, **SETTINGS)
    parts = backprop.cost(params, X, **SETTINGS)
    assert value == pytest.approx(parts.total, rel=1e-14)
    assert parts.sparsity > 0 and parts.weight_decay > 0 and parts.reconstruction > 0
    np.testing.assert_array_equal(backprop.gradients(params, X, **SETTINGS).flatten(), flat)
    delta2, delta1 = backprop.deltas(params, X, 0.1, 3.0)
    assert delta2.shape == (12, 8) and delta1.shape == (12, 5)
    restored = backprop.Parameters.unflatten(params.flatten(), 8, 5)
    np.testing.assert_array_equal(restored.W2, params.W2)


def test_sparsity_term_is_zero_when_rho_hat_equals_rho(problem):
    X, params = problem
    a1, _ = backprop.forward(params, X)
    with_target_equal = backprop.deltas(params, X, float(np.clip(a1.mean(), 0.01, 0.99)), 0.0)
    assert np.all(np.isfinite(with_target_equal[1]))
    # beta = 0 removes the term: delta^(1) is then plain backpropagation.
    _, plain = backprop.deltas(params, X, 0.1, 0.0)
    np.testing.assert_allclose(
        plain, (backprop.deltas(params, X, 0.1, 0.0)[0] @ params.W2.T) * a1 * (1 - a1)
    )


def test_gradient_matches_keras_autodiff(problem):
    from lessonlib.autodiff import gradient

    X, params = problem
    dtype = "float64"

    def sigmoid(z):
        return 1 / (1 + keras.ops.exp(-z))

    def matmul(a, b):
        # Not ops.matmul: on PyTorch, Keras 3.15 computes it (and ops.mean) in float32 even
        # for float64 inputs, which would limit this comparison to 1e-7.
        return keras.ops.einsum("ij,jk->ik", a, b)

    def keras_cost(W1):
        ops = keras.ops
        x = ops.convert_to_tensor(X, dtype)
        a1 = sigmoid(matmul(x, W1) + ops.convert_to_tensor(params.b1, dtype))
        a2 = sigmoid(
            matmul(a1, ops.convert_to_tensor(params.W2, dtype))
            + ops.convert_to_tensor(params.b2, dtype)
        )
        rho_hat = ops.sum(a1, axis=0) / 12
        sparsity = ops.sum(0.1 * ops.log(0.1 / rho_hat) + 0.9 * ops.log(0.9 / (1 - rho_hat)))
        return (
            0.5 * ops.sum(ops.square(a2 - x)) / 12
            + 0.5e-3 * (ops.sum(ops.square(W1)) + float(np.sum(params.W2**2)))
            + 3.0 * sparsity
        )

    auto = gradient(keras_cost, params.W1.astype(dtype))
    ours = backprop.gradients(params, X, **SETTINGS).W1
    # Both in float64: they agree to rounding, far below the 1e-9 of a gradient check.
    np.testing.assert_allclose(auto, ours, rtol=1e-10, atol=1e-10 * np.abs(ours).max())


def test_bad_shapes_are_named(problem):
    X, params = problem
    with pytest.raises(ValueError, match=r"`X` must have shape \(M, 8\)"):
        backprop.forward(params, X[:, :5])
    with pytest.raises(ValueError, match="`theta` must be a vector of 93"):
        backprop.Parameters.unflatten(np.zeros(10), 8, 5)
    with pytest.raises(ValueError, match="sparsity_target"):
        backprop.cost(params, X, sparsity_target=0.0, beta=3, weight_decay=0)


def test_lbfgs_lowers_the_cost(problem):
    X, _ = problem
    start = backprop.cost(backprop.initialize(8, 5, seed=0), X, **SETTINGS).total
    params, result = backprop.train_lbfgs(X, 5, max_iterations=50, seed=0, **SETTINGS)
    assert result.fun < 0.5 * start
    assert backprop.cost(params, X, **SETTINGS).total == pytest.approx(result.fun)

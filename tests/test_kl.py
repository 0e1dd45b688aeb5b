"""KL divergence against SciPy and the closed forms, in NumPy and keras.ops."""

import keras
import numpy as np
import pytest
from scipy import special, stats

from lessonlib import kl


def test_bernoulli_matches_scipy_rel_entr():
    rho = np.array([0.01, 0.1, 0.5, 0.9])
    rho_hat = np.array([0.2, 0.05, 0.5, 0.999])
    expected = special.rel_entr(rho, rho_hat) + special.rel_entr(1 - rho, 1 - rho_hat)
    np.testing.assert_allclose(kl.bernoulli_kl(rho, rho_hat), expected, rtol=1e-12)


def test_bernoulli_matches_scipy_kl_div_and_entropy():
    # kl_div(x, y) = x log(x/y) - x + y: the extra terms cancel between the two outcomes.
    rho, rho_hat = 0.05, np.linspace(0.01, 0.99, 7)
    expected = special.kl_div(rho, rho_hat) + special.kl_div(1 - rho, 1 - rho_hat)
    np.testing.assert_allclose(kl.bernoulli_kl(rho, rho_hat), expected, rtol=1e-12)
    np.testing.assert_allclose(
        kl.bernoulli_kl(0.3, 0.6), stats.entropy([0.3, 0.7], [0.6, 0.4]), rtol=1e-12
    )


def test_bernoulli_edge_cases_at_zero_and_one():
    assert kl.bernoulli_kl(0.0, 0.0) == 0.0
    assert kl.bernoulli_kl(1.0, 1.0) == 0.0
    np.testing.assert_allclose(kl.bernoulli_kl(0.0, 0.5), np.log(2), rtol=1e-12)
    assert np.isinf(kl.bernoulli_kl(0.1, 0.0))
    assert np.isinf(kl.bernoulli_kl(0.1, 1.0))
    assert not np.any(np.isnan(kl.bernoulli_kl(np.array([0.0, 1.0]), np.array([1.0, 0.0]))))


def test_bernoulli_properties():
    grid = np.linspace(0.01, 0.99, 50)
    values = kl.bernoulli_kl(0.2, grid)
    assert np.all(values >= 0)
    assert values[np.argmin(values)] == pytest.approx(kl.bernoulli_kl(0.2, grid[np.argmin(values)]))
    assert kl.bernoulli_kl(0.2, 0.2) == pytest.approx(0, abs=1e-15)
    assert kl.bernoulli_kl(0.1, 0.5) != pytest.approx(kl.bernoulli_kl(0.5, 0.1))


def test_bernoulli_derivative_matches_finite_differences():
    rho, rho_hat, step = 0.05, np.array([0.02, 0.05, 0.3, 0.9]), 1e-6
    numerical = (kl.bernoulli_kl(rho, rho_hat + step) - kl.bernoulli_kl(rho, rho_hat - step)) / (
        2 * step
    )
    # Central differences are accurate to O(step^2 * third derivative) ~ 1e-6 relative here.
    # (atol covers the entry where the derivative is 0 and differences leave ~1e-10.)
    np.testing.assert_allclose(
        kl.bernoulli_kl_derivative(rho, rho_hat), numerical, rtol=1e-5, atol=1e-8
    )
    assert kl.bernoulli_kl_derivative(rho, rho) == pytest.approx(0, abs=1e-12)


def test_discrete_matches_scipy_entropy():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=4)
    q = rng.dirichlet(np.ones(6), size=4)
    np.testing.assert_allclose(kl.discrete_kl(p, q), stats.entropy(p, q, axis=-1), rtol=1e-12)
    assert kl.discrete_kl([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) == pytest.approx(np.log(2))
    assert np.isinf(kl.discrete_kl([0.5, 0.5], [1.0, 0.0]))


def test_gaussian_matches_closed_form_and_quadrature():
    value = kl.gaussian_kl(1.0, 0.5, 0.0, 2.0)
    expected = np.log(2.0 / 0.5) + (0.25 + 1.0) / (2 * 4.0) - 0.5
    assert value == pytest.approx(expected, rel=1e-12)
    x = np.linspace(-10, 10, 200_001)
    p, q = stats.norm.pdf(x, 1.0, 0.5), stats.norm.pdf(x, 0.0, 2.0)
    # The trapezoid rule on this fine grid is accurate to ~1e-9 for smooth integrands.
    assert np.trapezoid(special.rel_entr(p, q), x) == pytest.approx(value, rel=1e-7)
    assert kl.gaussian_kl(0.0, 1.0, 0.0, 1.0) == 0.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: kl.bernoulli_kl(1.5, 0.2), "rho=1.5"),
        (lambda: kl.bernoulli_kl(0.1, -0.2), "rho_hat=-0.2"),
        (lambda: kl.bernoulli_kl(np.ones(3) * 0.1, np.ones(4) * 0.1), "same shape"),
        (lambda: kl.bernoulli_kl_derivative(0.1, 0.0), "strictly between 0 and 1"),
        (lambda: kl.discrete_kl([0.5, 0.5], [0.2, 0.3, 0.5]), "same shape"),
        (lambda: kl.discrete_kl([0.5, 0.6], [0.5, 0.5]), "sum to 1"),
        (lambda: kl.discrete_kl([1.5, -0.5], [0.5, 0.5]), "negative"),
        (lambda: kl.gaussian_kl(0, 0.0, 0, 1), "std_p"),
        (lambda: kl.gaussian_kl(np.zeros(2), 1, np.zeros(3), 1), "same shape"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ops_versions_agree_with_numpy():
    rho_hat = np.array([1e-3, 0.01, 0.3, 0.97], dtype="float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl.bernoulli_kl_ops(0.05, rho_hat)),
        kl.bernoulli_kl(0.05, rho_hat.astype(np.float64)),
        rtol=1e-5,  # float32 arithmetic
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl.bernoulli_kl_derivative_ops(0.05, rho_hat)),
        kl.bernoulli_kl_derivative(0.05, rho_hat.astype(np.float64)),
        rtol=1e-5,  # float32 arithmetic
    )
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(5), 3).astype("float32"), rng.dirichlet(np.ones(5), 3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl.discrete_kl_ops(p, q.astype("float32"))),
        kl.discrete_kl(p.astype(np.float64) / p.sum(-1, keepdims=True), q),
        rtol=1e-4,
        atol=1e-6,  # float32 arithmetic on values near 0.1-1
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl.gaussian_kl_ops(1.0, 0.5, 0.0, 2.0)),
        kl.gaussian_kl(1.0, 0.5, 0.0, 2.0),
        rtol=1e-6,
    )


def test_ops_bernoulli_stays_finite_at_zero_and_one():
    from lessonlib.autodiff import gradient

    rho_hat = np.array([0.0, 1.0, 0.5], dtype="float32")
    values = keras.ops.convert_to_numpy(kl.bernoulli_kl_ops(0.1, rho_hat))
    assert np.all(np.isfinite(values))
    slope = gradient(lambda t: keras.ops.sum(kl.bernoulli_kl_ops(0.1, t)), rho_hat)
    assert np.all(np.isfinite(slope))
    zero_target = keras.ops.convert_to_numpy(kl.bernoulli_kl_ops(0.0, rho_hat))
    assert np.all(np.isfinite(zero_target))

import keras
import numpy as np
import pytest

from lessonlib import checks


def test_relative_error():
    assert checks.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert checks.relative_error([0.0, 0.0], [3.0, 4.0]) == pytest.approx(1.0)
    assert checks.relative_error([3.0, 4.5], [3.0, 4.0]) == pytest.approx(0.5 / 5.0)
    assert checks.relative_error(1.0, 0.0) == np.inf


def test_relative_difference_is_ufldls_criterion():
    numerical, analytic = np.array([1.0, 2.0]), np.array([1.0, 2.2])
    expected = np.linalg.norm(numerical - analytic) / np.linalg.norm(numerical + analytic)
    assert checks.relative_difference(numerical, analytic) == pytest.approx(expected)
    assert checks.relative_difference(analytic, numerical) == pytest.approx(expected)
    assert checks.relative_difference([0.0], [0.0]) == 0.0


def test_assert_close_passes_within_tolerance():
    checks.assert_close(1.0 + 1e-9, 1.0, rtol=1e-8)
    checks.assert_close(np.ones((2, 3)), np.ones((2, 3)))
    checks.assert_close(keras.ops.ones((2,)), np.ones(2))  # tensors of any backend


def test_assert_close_scalar_message_says_value_expected_and_hint():
    with pytest.raises(checks.CheckFailed) as failure:
        checks.assert_close(
            0.12, 0.031, name="KL penalty", hint="did you average rho-hat over the batch?"
        )
    message = str(failure.value)
    assert "Your KL penalty is 0.12 but should be 0.031" in message
    assert "relative error 2.87" in message
    assert "Hint: did you average rho-hat over the batch?" in message


def test_assert_close_array_message_points_at_the_worst_entry():
    expected = np.zeros((3, 4))
    actual = expected.copy()
    actual[2, 1], actual[0, 0] = 0.5, 0.1
    with pytest.raises(checks.CheckFailed, match=r"2 of 12 entries.*index \(2, 1\): 0.5 where"):
        checks.assert_close(actual, expected, atol=1e-3, name="delta")


def test_assert_close_reports_shape_and_nan():
    with pytest.raises(checks.CheckFailed, match=r"shape \(3,\) but should have shape \(4,\)"):
        checks.assert_close(np.zeros(3), np.zeros(4))
    with pytest.raises(checks.CheckFailed, match=r"NaN or infinite.*log of 0"):
        checks.assert_close([np.nan, 1.0], [0.5, 1.0])


def test_assert_close_is_an_assertion_error():
    with pytest.raises(AssertionError):
        checks.assert_close(1.0, 2.0)


def test_assert_close_rejects_negative_tolerance():
    with pytest.raises(ValueError, match=r"rtol=-1"):
        checks.assert_close(1.0, 1.0, rtol=-1)


def test_assert_shape_and_dtype():
    checks.assert_shape(np.zeros((5, 3)), (None, 3))
    checks.assert_shape(keras.ops.zeros((5, 3)), (5, 3))
    with pytest.raises(checks.CheckFailed, match=r"shape \(5, 3\) but should .* \(any, 4\)"):
        checks.assert_shape(np.zeros((5, 3)), (None, 4), name="activations")
    checks.assert_dtype(np.zeros(2, np.float32), "float32")
    checks.assert_dtype(np.zeros(2, np.float64), "floating")
    with pytest.raises(checks.CheckFailed, match=r"dtype int64 but should be floating"):
        checks.assert_dtype(np.zeros(2, np.int64), "floating", name="weights")


def cubic(x):
    return float(np.sum(x**3) + np.prod(np.sin(x)))


def cubic_gradient(x):
    sines = np.sin(x)
    products = np.array([np.prod(np.delete(sines, i)) for i in range(len(x))])
    return 3 * x**2 + products * np.cos(x)


def test_numerical_gradient_matches_a_known_gradient():
    x = np.array([0.3, -1.2, 2.0])
    # Central differences err by O(epsilon^2) = 1e-8 relative to the third derivative (~6).
    np.testing.assert_allclose(checks.numerical_gradient(cubic, x), cubic_gradient(x), rtol=1e-7)
    assert x.tolist() == [0.3, -1.2, 2.0]  # the point is not modified


MATRIX = np.random.default_rng(1).normal(size=(6, 6))
MATRIX = MATRIX @ MATRIX.T


def smooth(x):
    """Quadratic plus a small sine: a cost as smooth as UFLDL's, whose third derivative is
    small, so central differences are accurate to about 1e-10 relative."""
    return float(0.5 * x @ MATRIX @ x + 0.1 * np.sum(np.sin(x)))


def smooth_gradient(x):
    return MATRIX @ x + 0.1 * np.cos(x)


def test_assert_gradient_accepts_a_right_gradient_below_ufldls_threshold():
    x = np.random.default_rng(0).normal(size=6)
    difference = checks.assert_gradient(smooth, x, smooth_gradient)
    assert difference < 1e-9
    assert checks.assert_gradient(smooth, x, smooth_gradient(x)) == difference


def test_assert_gradient_rejects_a_wrong_gradient_with_the_worst_entry():
    x = np.array([0.5, 1.0, -0.5])
    wrong = cubic_gradient(x)
    wrong[1] *= 2
    with pytest.raises(checks.CheckFailed, match=r"relative difference .* index \(1,\)"):
        checks.assert_gradient(cubic, x, wrong, name="gradient of the cost")
    with pytest.raises(checks.CheckFailed, match=r"one entry per parameter"):
        checks.assert_gradient(cubic, x, wrong[:2])


def test_failure_message():
    assert checks.failure_message(checks.assert_close, 1.0, 1.0) is None
    message = checks.failure_message(checks.assert_close, 2.0, 1.0, name="x")
    assert message.startswith("Your x is 2 but should be 1")

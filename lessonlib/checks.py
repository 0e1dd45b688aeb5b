"""Checks for exercises and for the claims a lesson makes.

A check either passes silently or raises `CheckFailed` (an `AssertionError`, so pytest, nbval
and graders treat it as a failed assertion) with a message a student can act on: what the value
is, what it should be, how far off it is, and, when the exercise gives one, a hint about the
usual mistake.

    >>> assert_close(kl_penalty, 0.031, name="KL penalty",  # doctest: +SKIP
    ...              hint="did you average rho-hat over the batch?")
    CheckFailed: Your KL penalty is 0.12 but should be 0.031 (relative error 2.87, tolerance
    rtol=1e-06).
    Hint: did you average rho-hat over the batch?
"""

import numpy as np

from lessonlib import _validation

__all__ = [
    "CheckFailed",
    "assert_close",
    "assert_dtype",
    "assert_gradient",
    "assert_shape",
    "failure_message",
    "numerical_gradient",
    "relative_difference",
    "relative_error",
]


class CheckFailed(AssertionError):
    """A check did not pass; the message says what is off and what to look at."""


def _to_numpy(value):
    """Convert a number, list, NumPy array or backend tensor to a NumPy array."""
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU
        value = value.detach().cpu().numpy()
    elif not isinstance(value, (np.ndarray, np.generic, int, float, complex, list, tuple)):
        import keras

        value = keras.ops.convert_to_numpy(value)
    return np.asarray(value)


def _fail(message, hint):
    if hint:
        message = f"{message}\nHint: {hint}"
    raise CheckFailed(message)


def _format(value):
    return np.array2string(np.asarray(value), precision=4, threshold=8, edgeitems=2)


def relative_error(actual, expected):
    """Return `||actual - expected|| / ||expected||` (Euclidean norms over all entries).

    Zero when they are equal; 1 when `actual` is zero; infinite only when `expected` is zero
    and `actual` is not.
    """
    actual = _to_numpy(actual).astype(np.float64)
    expected = _to_numpy(expected).astype(np.float64)
    difference = np.linalg.norm((actual - expected).ravel())
    if difference == 0:
        return 0.0
    scale = np.linalg.norm(expected.ravel())
    return float(difference / scale) if scale > 0 else float("inf")


def relative_difference(numerical, analytic):
    """Return UFLDL's gradient-check criterion `||num - ana|| / ||num + ana||`.

    Symmetric in its arguments; about 1e-9 or smaller when an analytic gradient is right
    (UFLDL), and of order 1 when it is wrong. Zero when both are zero.
    """
    numerical = _to_numpy(numerical).astype(np.float64).ravel()
    analytic = _to_numpy(analytic).astype(np.float64).ravel()
    difference = np.linalg.norm(numerical - analytic)
    if difference == 0:
        return 0.0
    scale = np.linalg.norm(numerical + analytic)
    return float(difference / scale) if scale > 0 else float("inf")


def assert_shape(value, expected, name="value", hint=None):
    """Check the shape of an array or tensor; `None` in `expected` matches any size.

    Raises:
        CheckFailed: naming both shapes.
    """
    shape = tuple(_to_numpy(value).shape) if not hasattr(value, "shape") else tuple(value.shape)
    expected = tuple(expected)
    matches = len(shape) == len(expected) and all(
        want is None or want == have for have, want in zip(shape, expected, strict=True)
    )
    if not matches:
        wanted = "(" + ", ".join("any" if size is None else str(size) for size in expected) + ")"
        _fail(f"Your {name} has shape {shape} but should have shape {wanted}.", hint)


def assert_dtype(value, expected, name="value", hint=None):
    """Check a dtype: an exact one (`"float32"`) or a kind (`"floating"`, `"integer"`).

    Raises:
        CheckFailed: naming both dtypes.
    """
    dtype = np.dtype(getattr(value, "dtype", None) or _to_numpy(value).dtype)
    kinds = {"floating": np.floating, "integer": np.integer, "bool": np.bool_}
    if expected in kinds:
        ok = np.issubdtype(dtype, kinds[expected])
    else:
        ok = dtype == np.dtype(expected)
    if not ok:
        _fail(f"Your {name} has dtype {dtype} but should be {expected}.", hint)


def assert_close(actual, expected, rtol=1e-6, atol=0.0, name="value", hint=None):
    """Check that `actual` equals `expected` within `atol + rtol * |expected|`, entry by entry.

    Args:
        actual: the student's (or the lesson's) value: number, array or tensor.
        expected: the reference value.
        rtol: relative tolerance; say in a comment at the call site why it is the right one.
        atol: absolute tolerance, for references that are zero or close to it.
        name: what the value is, in the student's words ("KL penalty", "gradient of W1").
        hint: the usual mistake, shown when the check fails.

    Raises:
        CheckFailed: with the value, the expected value, the relative error and the tolerance;
            for arrays, how many entries are off and the worst one.
    """
    rtol = _validation.non_negative_number("rtol", rtol)
    atol = _validation.non_negative_number("atol", atol)
    actual_array = _to_numpy(actual)
    expected_array = _to_numpy(expected)
    if actual_array.shape != expected_array.shape:
        _fail(
            f"Your {name} has shape {actual_array.shape} but should have shape "
            f"{expected_array.shape}.",
            hint,
        )
    actual_array = actual_array.astype(np.float64)
    expected_array = expected_array.astype(np.float64)
    not_finite = ~np.isfinite(actual_array) & np.isfinite(expected_array)
    if not_finite.any():
        _fail(
            f"Your {name} holds {int(not_finite.sum())} NaN or infinite value(s) where the "
            "answer is finite: look for a log of 0, a division by zero or an overflow.",
            hint,
        )
    tolerance = atol + rtol * np.abs(expected_array)
    wrong = ~(np.abs(actual_array - expected_array) <= tolerance)
    if not wrong.any():
        return
    error = relative_error(actual_array, expected_array)
    limits = f"relative error {error:.3g}, tolerance rtol={rtol:g}" + (
        f", atol={atol:g}" if atol else ""
    )
    if actual_array.size == 1:
        _fail(
            f"Your {name} is {actual_array.item():.6g} but should be "
            f"{expected_array.item():.6g} ({limits}).",
            hint,
        )
    worst = np.unravel_index(
        np.argmax(np.where(wrong, np.abs(actual_array - expected_array), -1)), wrong.shape
    )
    _fail(
        f"Your {name} differs from the expected values at {int(wrong.sum())} of "
        f"{wrong.size} entries ({limits}). The worst is at index {tuple(map(int, worst))}: "
        f"{actual_array[worst]:.6g} where it should be {expected_array[worst]:.6g}.",
        hint,
    )


def numerical_gradient(function, x, epsilon=1e-4):
    """Estimate the gradient of a scalar function by central differences, in float64.

    `(f(x + epsilon e_i) - f(x - epsilon e_i)) / (2 epsilon)` for each entry i, as in UFLDL's
    `computeNumericalGradient`. Its error is of order epsilon^2.

    Args:
        function: maps an array shaped like `x` to a number.
        x: the point, any shape; it is not modified.
        epsilon: the step (UFLDL uses 1e-4).

    Returns:
        float64 array shaped like `x`.
    """
    epsilon = _validation.positive_number("epsilon", epsilon)
    point = np.array(_to_numpy(x), dtype=np.float64)
    gradient = np.zeros_like(point)
    flat_point, flat_gradient = point.reshape(-1), gradient.reshape(-1)
    for index in range(flat_point.size):
        original = flat_point[index]
        flat_point[index] = original + epsilon
        above = float(function(point))
        flat_point[index] = original - epsilon
        below = float(function(point))
        flat_point[index] = original
        flat_gradient[index] = (above - below) / (2 * epsilon)
    return gradient


def assert_gradient(
    function, x, gradient, tolerance=1e-9, epsilon=1e-4, name="gradient", hint=None
):
    """Check an analytic gradient against central differences, with UFLDL's criterion.

    Args:
        function: the scalar function, taking an array shaped like `x`.
        x: the point to check at; use float64 values so rounding does not hide a mistake.
        gradient: the analytic gradient at `x` (an array), or a function computing it from `x`.
        tolerance: the largest accepted `||num - ana|| / ||num + ana||`. UFLDL's 1e-9 suits
            smooth functions of a few hundred float64 parameters.
        epsilon: the finite-difference step.
        name: what the gradient is of, in the student's words.
        hint: the usual mistake, shown when the check fails.

    Returns:
        float: the relative difference, for the lesson to show.

    Raises:
        CheckFailed: with the relative difference and the entry that is furthest off.
    """
    tolerance = _validation.positive_number("tolerance", tolerance)
    if callable(gradient):
        gradient = gradient(np.array(_to_numpy(x), dtype=np.float64))
    analytic = _to_numpy(gradient).astype(np.float64)
    numerical = numerical_gradient(function, x, epsilon)
    if analytic.shape != numerical.shape:
        _fail(
            f"Your {name} has shape {analytic.shape} but the parameters have shape "
            f"{numerical.shape}: a gradient has one entry per parameter.",
            hint,
        )
    difference = relative_difference(numerical, analytic)
    if not difference <= tolerance:
        worst = np.unravel_index(np.argmax(np.abs(numerical - analytic)), numerical.shape)
        _fail(
            f"Your {name} does not match finite differences: relative difference "
            f"||num - ana|| / ||num + ana|| = {difference:.3g}, above the tolerance "
            f"{tolerance:g}. The worst entry is at index {tuple(map(int, worst))}: yours is "
            f"{analytic[worst]:.6g}, finite differences give {numerical[worst]:.6g}.",
            hint,
        )
    return difference


def failure_message(check, *args, **kwargs):
    """Run a check and return its failure message, or None if it passes.

    Lets a lesson show what a failing check says without stopping the notebook.

    Example:

    >>> failure_message(assert_close, 0.12, 0.031, name="KL penalty")
    'Your KL penalty is 0.12 but should be 0.031 (relative error 2.87, tolerance rtol=1e-06).'
    """
    try:
        check(*args, **kwargs)
    except CheckFailed as failure:
        return str(failure)
    return None

"""Argument checks shared by the library, so every bad argument gets the same kind of message.

Each helper raises `ValueError(f"... Received: {name}={value!r}")`, the form Keras's own layers
use, and returns the value so that a check can sit inside an assignment.
"""

import numbers


def positive_int(name, value):
    """Return `value` if it is an integer >= 1, else raise a `ValueError` naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def non_negative_int(name, value):
    """Return `value` if it is an integer >= 0 (a seed, an index), else raise a `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def positive_number(name, value):
    """Return `value` as a float if it is a finite number > 0, else raise a `ValueError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
        or value == float("inf")
    ):
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    return float(value)


def non_negative_number(name, value):
    """Return `value` as a float if it is a finite number >= 0, else raise a `ValueError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0
        or value == float("inf")
    ):
        raise ValueError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")
    return float(value)


def one_of(name, value, allowed):
    """Return `value` if it is one of `allowed`, else raise a `ValueError` listing them."""
    if value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"`{name}` must be one of {options}. Received: {name}={value!r}")
    return value


def open_unit_interval(name, value):
    """Return `value` as a float if 0 < value < 1 (a target probability), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(
            f"`{name}` must be a number strictly between 0 and 1. Received: {name}={value!r}"
        )
    return float(value)


def unit_interval(name, value):
    """Return `value` as a float if 0 <= value <= 1, else raise a `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}")
    return float(value)

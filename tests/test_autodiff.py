import numpy as np
import pytest
from keras import ops

from lessonlib import autodiff


def test_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5], dtype="float32")
    gradient = autodiff.gradient(lambda t: ops.sum(t**2 + ops.sin(t)), x)
    np.testing.assert_allclose(gradient, 2 * x + np.cos(x), rtol=1e-6)  # float32 rounding
    assert gradient.shape == x.shape


def test_gradient_needs_a_scalar():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        autodiff.gradient(lambda t: t * 2, np.ones(3, "float32"))

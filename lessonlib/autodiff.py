"""The gradient of a scalar function of one tensor, on whichever backend Keras runs.

Keras 3 computes gradients inside `fit`, but has no public `grad` for a lesson that wants to
compare a formula with autodiff. Each backend has its own way (TensorFlow's `GradientTape`,
`jax.grad`, PyTorch's `backward`); this module holds the three, picked by
`lessonlib._backend.select`, so lessons and tests call one function.
"""

import keras
import numpy as np

from lessonlib import _backend


def _tensor(x):
    # Keep the caller's dtype: Keras would otherwise cast float64 arrays to floatx.
    dtype = getattr(x, "dtype", None)
    return keras.ops.convert_to_tensor(x, dtype=None if dtype is None else str(dtype))


def _tensorflow_gradient(function, x):
    import tensorflow as tf

    tensor = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = function(tensor)
    return tape.gradient(value, tensor)


def _jax_gradient(function, x):
    import jax

    if str(getattr(x, "dtype", "")) != "float64":
        return jax.grad(function)(_tensor(x))
    # JAX computes in float32 unless 64-bit mode is on; turn it on for this gradient only.
    if hasattr(jax, "enable_x64"):
        scope = jax.enable_x64(True)
    else:  # JAX before 0.8
        from jax.experimental import enable_x64 as scope_factory

        scope = scope_factory()
    with scope:
        return np.asarray(jax.grad(function)(_tensor(x)))


def _torch_gradient(function, x):

    tensor = _tensor(x).detach().clone().requires_grad_(True)
    function(tensor).backward()
    return tensor.grad


_GRADIENTS = {
    "tensorflow": _tensorflow_gradient,
    "jax": _jax_gradient,
    "torch": _torch_gradient,
}


def gradient(function, x):
    """Return d function / d x at `x`, as a NumPy array, by the backend's autodiff.

    Args:
        function: maps a tensor shaped like `x` to a scalar tensor, using `keras.ops`
            (or the layers and models built on them).
        x: the point; a NumPy array or a tensor. Its dtype is kept (use float64 for checks;
            on JAX, float64 turns on 64-bit mode while this gradient is computed, so tensors
            the function creates should be float64 too).

    Returns:
        NumPy array shaped like `x`.

    Raises:
        ValueError: if the function's value is not a scalar.
        NotImplementedError: on a Keras backend other than TensorFlow, JAX and PyTorch.

    Example:

    >>> gradient(lambda t: keras.ops.sum(t**2), np.array([1.0, 2.0]))
    array([2., 4.])
    """
    backend_gradient = _backend.select(_GRADIENTS, "autodiff.gradient")

    def scalar(tensor):
        value = function(tensor)
        if tuple(value.shape) != ():
            raise ValueError(
                "`function` must return a scalar to take its gradient. "
                f"Received: a value of shape {tuple(value.shape)}"
            )
        return value

    return np.asarray(keras.ops.convert_to_numpy(backend_gradient(scalar, x)))

"""Fixtures for the library tests (the lessons run through nbval, configured in ../conftest.py)."""

import keras
import pytest

from lessonlib import _keras_internals


@pytest.fixture(autouse=True)
def keras_globals_restored():
    """Each test starts from the global Keras state the one before it found, as Keras's own
    `TestCase` does: the dtype policy, floatx, the `tf.data` autotuner setting that
    `runtime.setup` changes, and a cleared session (layer names, random seed state).

    The session is cleared without Python's garbage collection (`free_memory=False`), as in
    Keras's `TestCase`: a full collection with a Keras backend loaded took about 0.7 s a test,
    more than half of the library tests' time (benchmarks/RESULTS.md)."""
    policy, floatx = keras.mixed_precision.global_policy(), keras.config.floatx()
    adapter = _keras_internals.array_adapter() if keras.backend.backend() == "tensorflow" else None
    pipeline = adapter.get_tf_dataset if adapter is not None else None
    yield
    keras.mixed_precision.set_global_policy(policy)
    keras.config.set_floatx(floatx)
    if adapter is not None:
        adapter.get_tf_dataset = pipeline
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def ipython_shell():
    """An IPython shell running, as in a notebook's kernel: `get_ipython()` returns it."""
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()

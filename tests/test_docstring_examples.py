"""The `>>>` examples in lessonlib's docstrings run and print what they show.

An example that needs what only a lesson has (a trained GAN, a model, MNIST) is marked
`# doctest: +SKIP`; every other one runs here, on each backend.
"""

import doctest
import importlib
import pkgutil

import keras
import pytest

import lessonlib

# Each backend's GAN step imports that backend; only the running one's can load.
OTHER_BACKENDS = {"tensorflow", "jax", "torch"} - {keras.backend.backend()}
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(lessonlib.__path__, "lessonlib.")
    if info.name != "lessonlib.__main__"
    and not any(info.name.endswith(f"gan_{backend}") for backend in OTHER_BACKENDS)
)


def test_the_modules_hold_examples_that_run():
    runnable = [
        example
        for name in MODULES
        for test in doctest.DocTestFinder().find(importlib.import_module(name))
        for example in test.examples
        if not example.options.get(doctest.SKIP)
    ]
    assert len(runnable) >= 15, len(runnable)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    results = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE, report=False, verbose=False
    )
    assert results.failed == 0, (
        f"{results.failed} of {results.attempted} examples in {name} failed (printed above)"
    )

"""Test configuration for the whole course: `pytest` runs the library tests and the lessons.

Fast mode is set here, before any notebook kernel starts, so the kernels nbval launches inherit
it and every lesson runs on its small budget. Set LESSONLIB_FAST=0 to test the full lessons.
"""

import os

import pytest

NBVAL_DEFAULT_CELL_TIMEOUT = 2000  # nbval's own, meaning none was given

os.environ.setdefault("LESSONLIB_FAST", "1")
# TensorFlow's start-up messages about missing CUDA drivers and CPU instructions would bury
# the lessons' own output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    """Run the lessons through nbval, lax: every cell must run, and the lessons' own assertions
    judge (nbval's output comparison is left to the cells marked for it); in a kernel of this
    environment; 600 s a cell. Options given on the command line win. Set here, not in
    pyproject's `addopts`, so that `pytest tests` carries no notebook options."""
    option = config.option
    if not hasattr(option, "nbval_lax"):
        return  # no nbval: pytest_collect_file below refuses the lessons with a reason
    if not option.nbval:  # --nbval, nbval's strict output comparison, chosen by hand
        option.nbval_lax = True
    if option.nbval_kernel_name is None:
        option.nbval_current_env = True
    if option.nbval_cell_timeout == NBVAL_DEFAULT_CELL_TIMEOUT:
        option.nbval_cell_timeout = 600


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".ipynb" and not hasattr(parent.config.option, "nbval_lax"):
        raise pytest.UsageError(
            f"{file_path.name} is a lesson, run by nbval, which is not installed: install "
            "the test tools with `python -m pip install -e \".[test]\"`")

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
            'the test tools with `python -m pip install -e ".[test]"`'
        )


@pytest.hookimpl(trylast=True)  # after -k and -m: only a judge that will run counts
def pytest_collection_modifyitems(config, items):
    """Run each lesson once in fast mode. The grader's judge (tests/test_grading_lessons.py)
    runs the instructor's version of every lesson with exercises, in fast mode, every cell (in a
    sandboxed kernel, 900 s a cell), and fails on any error: nbval's fast-mode run of those
    lessons would repeat it, so it is left out where the judge runs. In full mode nbval runs
    every lesson."""
    judge = next(
        (item for item in items if item.name == "test_every_instructor_version_scores_full_marks"),
        None,
    )
    from lessonlib import runtime

    if judge is None or not runtime.fast_mode():
        return
    lessons = set(judge.module.judged_lessons()[0])
    judged = [item for item in items if item.path in lessons]
    if judged:
        config.hook.pytest_deselected(items=judged)
        items[:] = [item for item in items if item.path not in lessons]
        config.lessons_run_by_the_judge = sorted(path.name for path in lessons)


def pytest_report_collectionfinish(config):
    lessons = getattr(config, "lessons_run_by_the_judge", None)
    if lessons:
        return (
            f"fast mode: {', '.join(lessons)} run once, through the grader's judge "
            "(tests/test_grading_lessons.py), not again through nbval"
        )

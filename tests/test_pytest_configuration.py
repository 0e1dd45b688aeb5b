"""The README's `pytest`: the lessons run through nbval with conftest.py's options."""

import os
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

pytestmark = pytest.mark.backend_independent
ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSON = "notebooks/00_getting_started.ipynb"


def _pytest(*arguments, path=None, fast="1"):
    environment = dict(os.environ, LESSONLIB_FAST=fast)
    environment.pop("PYTEST_ADDOPTS", None)  # CI's options for its own run, not this one's
    if path is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(path), *filter(None, [environment.get("PYTHONPATH")])]
        )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _at_once(*runs):
    """Call each run (a `partial` of `_pytest`) at the same time and return their results in
    order: each spends seconds importing Keras, and they are independent."""
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        return list(pool.map(lambda run: run(), runs))


def test_the_lessons_are_collected_with_conftests_nbval_options(tmp_path):
    # A plugin prints the options nbval will run the lesson with.
    (tmp_path / "options_probe.py").write_text(
        "def pytest_collection_finish(session):\n"
        "    o = session.config.option\n"
        "    print('OPTIONS', o.nbval_lax, o.nbval_current_env, o.nbval_cell_timeout)\n"
    )
    default, chosen = _at_once(
        partial(_pytest, "-p", "options_probe", LESSON, path=tmp_path),
        partial(_pytest, "-p", "options_probe", "--nbval-cell-timeout=1800", LESSON, path=tmp_path),
    )
    assert default.returncode == 0, default.stdout[-2000:] + default.stderr[-2000:]
    assert "OPTIONS True True 600" in default.stdout
    assert "::Cell 0" in default.stdout  # the lesson's cells are collected
    assert "OPTIONS True True 1800.0" in chosen.stdout  # the command line wins


def test_without_nbval_the_lessons_are_refused_with_how_to_install_it():
    result = _pytest("-p", "no:nbval", LESSON)
    assert result.returncode != 0
    assert "run by nbval, which is not installed" in result.stdout + result.stderr
    assert 'pip install -e ".[test]"' in result.stdout + result.stderr


def test_fast_mode_runs_each_lesson_the_grader_judges_once():
    # The judge's lessons depend on the sandbox; the probe asks the same function the grading
    # fixture asks, for the fast-mode run it makes (this run may be in full mode).
    from tests.test_grading_lessons import judged_lessons

    lessons = judged_lessons(fast=True)[0]
    selections = (["-k", "not grading"], ["-m", "not grades_lessons"])
    lessons_and_judge = ("notebooks", "tests/test_grading_lessons.py")
    fast, full, *without_judge = _at_once(
        partial(_pytest, *lessons_and_judge),
        partial(_pytest, *lessons_and_judge, fast="0"),
        *(partial(_pytest, *lessons_and_judge, *selection) for selection in selections),
    )
    assert "deselected" not in full.stdout, full.stdout[-1000:]
    collected = {line.split("::")[0] for line in fast.stdout.splitlines() if "::Cell" in line}
    assert collected == {
        f"notebooks/{path.name}"
        for path in sorted(set((ROOT / "notebooks").glob("[0-9]*.ipynb")) - set(lessons))
    }, fast.stdout[-2000:]
    if lessons:
        assert "run once, through the grader's judge" in fast.stdout
    # A judge that -k or -m leaves out runs nothing: nbval keeps every lesson.
    every_lesson = {f"notebooks/{path.name}" for path in (ROOT / "notebooks").glob("[0-9]*.ipynb")}
    for selection, result in zip(selections, without_judge, strict=True):
        assert {
            line.split("::")[0] for line in result.stdout.splitlines() if "::Cell" in line
        } == every_lesson, (selection, result.stdout[-1000:])

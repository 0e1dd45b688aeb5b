"""The README's `pytest`: the lessons run through nbval with conftest.py's options."""

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.backend_independent
ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSON = "notebooks/00_getting_started.ipynb"


def _pytest(*arguments, path=None):
    environment = dict(os.environ)
    if path is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(path), *filter(None, [environment.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *arguments],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


def test_the_lessons_are_collected_with_conftests_nbval_options(tmp_path):
    # A plugin prints the options nbval will run the lesson with.
    (tmp_path / "options_probe.py").write_text(
        "def pytest_collection_finish(session):\n"
        "    o = session.config.option\n"
        "    print('OPTIONS', o.nbval_lax, o.nbval_current_env, o.nbval_cell_timeout)\n")
    default = _pytest("-p", "options_probe", LESSON, path=tmp_path)
    chosen = _pytest("-p", "options_probe", "--nbval-cell-timeout=1800", LESSON, path=tmp_path)
    assert default.returncode == 0, default.stdout[-2000:] + default.stderr[-2000:]
    assert "OPTIONS True True 600" in default.stdout
    assert "::Cell 0" in default.stdout  # the lesson's cells are collected
    assert "OPTIONS True True 1800.0" in chosen.stdout  # the command line wins


def test_without_nbval_the_lessons_are_refused_with_how_to_install_it():
    result = _pytest("-p", "no:nbval", LESSON)
    assert result.returncode != 0
    assert "run by nbval, which is not installed" in result.stdout + result.stderr
    assert 'pip install -e ".[test]"' in result.stdout + result.stderr

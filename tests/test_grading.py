"""Student versions and grading: full marks, zero, planted mistakes and hostile submissions.

The hostile cases run on a two-exercise lesson written here (seconds per run); the real
lessons are graded in `test_grading_lessons.py`.
"""

import hashlib
import json
import os
import pathlib

import nbformat
import pytest

from lessonlib.grading import cli, find_exercises, grade_notebook, student_version
from lessonlib.grading.exercises import NotebookError, read_notebook, split_hidden_tests

SETUP = "import numpy as np\n\nfrom lessonlib import checks, runtime\n\nruntime.setup(seed=0)"
DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
CHECK_DOUBLE = """\
checks.assert_close(double(np.arange(3.0)), [0.0, 2.0, 4.0], name="double")
print("Correct: double.")
### BEGIN HIDDEN TESTS
checks.assert_close(double(-1.5), -3.0, name="double of a negative number")
### END HIDDEN TESTS"""
CHECK_SQUARE = """\
checks.assert_close(square(np.arange(3.0)), [0.0, 1.0, 4.0], name="square")
print("Correct: square.")
### BEGIN HIDDEN TESTS
checks.assert_close(square(-2.0), 4.0, name="square of a negative number")
### END HIDDEN TESTS"""


def _meta(grade_id, solution=False, points=None):
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": points is not None,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _lesson():
    code = nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A small lesson\n\n## Setup"),
        code(SETUP),
        code(DOUBLE, metadata=_meta("double", solution=True)),
        code(CHECK_DOUBLE, metadata=_meta("check_double", points=2)),
        code(SQUARE, metadata=_meta("square", solution=True)),
        code(CHECK_SQUARE, metadata=_meta("check_square", points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def _with_solution(grade_id, source):
    notebook = _lesson()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return notebook


def _renamed(grade_id, new_id):
    notebook = _lesson()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.metadata["nbgrader"]["grade_id"] = new_id
    return notebook


HOSTILE = {
    "correct": _lesson(),
    "wrong_double": _with_solution("double", "def double(x):\n    return 3 * x"),
    "exception": _with_solution("double", "raise ValueError('oops')"),
    "infinite_loop": _with_solution("double", "while True:\n    pass"),
    "exit": _with_solution("double", "import os\nos._exit(3)"),
    "segfault": _with_solution("double", "import ctypes\nctypes.string_at(0)"),
    "killed": _with_solution("double", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
    "patched_checks": _with_solution("double", """\
import lessonlib.checks
def double(x):
    return 3 * x
lessonlib.checks.assert_close = lambda *args, **kwargs: None
checks.assert_close = lambda *args, **kwargs: None
checks = None"""),
    "deleted_names": _with_solution("double", "def double(x):\n    return 2 * x\ndel np, checks"),
    "renamed": _renamed("double", "my_double"),
    "writes_files": _with_solution("double", """\
def double(x):
    return 2 * x
open("grades.csv", "w").write("everyone,100")
open("lessonlib_was_here.txt", "w").write("x")"""),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grading")
    source = folder / "source"
    source.mkdir()
    nbformat.write(_lesson(), source / "small_lesson.ipynb")
    submissions = folder / "submissions"
    submissions.mkdir()
    for name, notebook in HOSTILE.items():
        nbformat.write(notebook, submissions / f"{name}.ipynb")
    deleted = _lesson()
    deleted.cells = [cell for cell in deleted.cells
                     if cell.metadata.get("nbgrader", {}).get("grade_id") != "double"]
    nbformat.write(deleted, submissions / "deleted_cell.ipynb")
    nbformat.write(student_version(_lesson()), submissions / "student_version.ipynb")
    (submissions / "not_json.ipynb").write_text("{ this is not a notebook")
    paths = sorted(submissions.glob("*.ipynb"))
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}
    out = folder / "grades.csv"
    cwd = os.getcwd()
    os.chdir(folder)  # a submission writing "grades.csv" must not touch the real one
    try:
        # 30 s per cell: the Setup cell imports Keras and its backend, which can take 10 s
        # on a loaded machine; the infinite loop costs that much once.
        rows = cli.grade(paths, out, source, lesson="small_lesson", jobs=2, cell_timeout=30,
                         notebook_timeout=120)
    finally:
        os.chdir(cwd)
    by_student = {}
    for row in rows:
        by_student.setdefault(row["student"], {})[(row["exercise"], row["part"])] = row
    return {"rows": by_student, "out": out, "before": before, "folder": folder}


def _points(results, exercise):
    return sum(row["points"] for (name, _), row in results.items() if name == exercise)


def test_the_instructor_version_gets_full_marks(graded):
    results = graded["rows"]["correct"]
    assert _points(results, "double") == 2 and _points(results, "square") == 2
    assert results[("double", "visible")]["message"] == "Correct: double."


def test_the_student_version_scores_zero_with_not_implemented(graded):
    results = graded["rows"]["student_version"]
    assert all(row["points"] == 0 for row in results.values())
    assert all("NotImplementedError" in row["message"] for row in results.values())


def test_a_wrong_exercise_loses_exactly_its_points(graded):
    results = graded["rows"]["wrong_double"]
    assert _points(results, "double") == 0 and _points(results, "square") == 2
    assert "Your double differs" in results[("double", "visible")]["message"]


@pytest.mark.parametrize("case, words", [
    ("exception", "ValueError: oops"),
    ("infinite_loop", "more than 30 s"),
    ("exit", "kernel died"),
    ("segfault", "kernel died"),
    ("killed", "kernel died"),
    ("deleted_cell", "missing from the submission"),
    ("renamed", "missing from the submission"),
])
def test_a_broken_exercise_costs_only_its_own_points(graded, case, words):
    results = graded["rows"][case]
    assert _points(results, "double") == 0
    assert _points(results, "square") == 2, f"{case}: the other exercise must still be graded"
    assert words in results[("double", "visible")]["message"]


def test_patching_the_checks_does_not_help(graded):
    results = graded["rows"]["patched_checks"]
    assert _points(results, "double") == 0, "the checks ran on the patched lessonlib"
    assert _points(results, "square") == 2


def test_deleting_names_the_checks_need_does_not_break_them(graded):
    results = graded["rows"]["deleted_names"]
    assert _points(results, "double") == 2 and _points(results, "square") == 2


def test_an_unreadable_submission_gets_a_message_and_no_crash(graded):
    results = graded["rows"]["not_json"]
    assert all(row["points"] == 0 for row in results.values())
    assert "cannot be read as a notebook" in results[("double", "visible")]["message"]


def test_grading_writes_nothing_outside_its_outputs(graded):
    for path, digest in graded["before"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} changed"
    assert not (graded["folder"] / "lessonlib_was_here.txt").exists()
    rows = list(csv_rows(graded["out"]))
    assert rows and not any("everyone" in str(row) for row in rows)
    assert _points(graded["rows"]["writes_files"], "double") == 2
    saved = json.loads(graded["out"].with_suffix(".json").read_text())
    assert len(saved) == sum(len(results) for results in graded["rows"].values())


def csv_rows(path):
    import csv

    with open(path, newline="") as file:
        yield from csv.DictReader(file)


def test_exercises_and_hidden_tests_are_found():
    exercises = find_exercises(_lesson())
    assert [(e.name, e.check_id, e.points, e.has_hidden_tests) for e in exercises] == [
        ("double", "check_double", 2.0, True), ("square", "check_square", 2.0, True)]
    visible, hidden = split_hidden_tests(CHECK_DOUBLE)
    assert "-1.5" in hidden and "-1.5" not in visible and "arange" in visible


def test_student_version_clears_solutions_and_hidden_tests():
    student = student_version(_lesson())
    sources = "\n".join(cell.source for cell in student.cells)
    assert "return 2 * x" not in sources and "BEGIN HIDDEN TESTS" not in sources
    assert "# YOUR CODE HERE" in sources and "raise NotImplementedError()" in sources
    assert student.cells[3].metadata["tags"] == ["raises-exception"]
    assert student.cells[2].metadata["nbgrader"]["solution"] is True


def test_release_refuses_to_write_into_the_instructor_folder(tmp_path):
    nbformat.write(_lesson(), tmp_path / "lesson.ipynb")
    with pytest.raises(ValueError, match="outside the instructor notebooks"):
        cli.release(tmp_path, tmp_path / "release")
    assert cli.main(["release", str(tmp_path / "lesson.ipynb"), "--out",
                     str(tmp_path.parent / (tmp_path.name + "_release"))]) == 0


def test_read_notebook_names_the_problem(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("[1, 2]")
    with pytest.raises(NotebookError, match="bad.ipynb"):
        read_notebook(bad)


def test_grade_notebook_on_a_correct_lesson_directly(tmp_path):
    path = tmp_path / "small_lesson.ipynb"
    nbformat.write(_lesson(), path)
    results = grade_notebook(_lesson(), pathlib.Path(path), cell_timeout=30, notebook_timeout=60)
    assert [result.passed for result in results] == [True] * 4


def test_the_notebook_time_limit_stops_grading_with_a_reason(tmp_path):
    slow = _with_solution("double", "import time\ntime.sleep(8)\ndef double(x):\n    return 2 * x")
    path = tmp_path / "slow.ipynb"
    nbformat.write(slow, path)
    # The cell limit (20 s) lets the sleep finish; the notebook limit (5 s) does not.
    results = grade_notebook(_lesson(), path, cell_timeout=20, notebook_timeout=5)
    assert not any(result.passed for result in results[2:])
    assert all("time limit" in result.message for result in results[2:])


def test_check_tells_a_student_which_exercises_pass(tmp_path, capsys):
    path = tmp_path / "mine.ipynb"
    nbformat.write(_with_solution("square", "def square(x):\n    return x + x"), path)
    assert cli.main(["check", str(path), "--cell-timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert "2 of 4 checks pass." in out
    assert "Your square differs" in out

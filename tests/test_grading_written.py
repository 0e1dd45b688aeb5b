"""Questions answered in words: released empty, reported "to be graded by hand" with the
student's text, never graded automatically, and accepted by nbgrader."""

import csv
import json
import subprocess
import sys

import nbformat
import pytest

from lessonlib.grading import cli, grader, sandbox, student_version
from lessonlib.grading.exercises import ANSWER_STUB, find_written_answers
from tests.test_grading import CHECK_DOUBLE, DOUBLE, GIVEN, SETUP, _meta

pytestmark = pytest.mark.backend_independent  # the small lesson imports no Keras
needs_sandbox = pytest.mark.skipif(
    not sandbox.available()[0], reason=f"grading needs a sandbox: {sandbox.available()[1]}"
)
QUESTION = "**Before you run it:** what will the doubled values do when x is negative?"
MODEL = "They stay negative: doubling keeps the sign."
RUBRIC = "Rubric: 1 point for the sign, 1 for saying why."


def _lesson():
    code = nbformat.v4.new_code_cell
    written = nbformat.v4.new_markdown_cell(
        f"{QUESTION}\n\n### BEGIN SOLUTION\n{MODEL}\n\n{RUBRIC}\n### END SOLUTION"
    )
    written.metadata = _meta("predict_sign", solution=True, points=2)
    return nbformat.v4.new_notebook(
        cells=[
            code(SETUP),
            code(GIVEN, metadata={"tags": ["given"]}),
            code(DOUBLE, metadata=_meta("double", solution=True)),
            code(CHECK_DOUBLE, metadata=_meta("check_double", points=2)),
            written,
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )


def _answered(text):
    notebook = student_version(_lesson())
    notebook.cells[2].source = DOUBLE  # the code exercise solved
    notebook.cells[4].source = notebook.cells[4].source.replace(ANSWER_STUB, text)
    return notebook


def _as_code(notebook):
    cell = notebook.cells[4]  # the answer cell, turned into a code cell in Jupyter ("y")
    notebook.cells[4] = nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
    return notebook


def test_the_student_version_keeps_the_question_and_drops_the_model_answer():
    released = student_version(_lesson())
    text = released.cells[4].source
    assert text.startswith(QUESTION) and ANSWER_STUB in text
    assert MODEL not in text and "Rubric" not in text
    assert find_written_answers(_lesson())[0].points == 2.0


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not sandbox.available()[0]:
        pytest.skip(f"grading needs a sandbox: {sandbox.available()[1]}")
    folder = tmp_path_factory.mktemp("written")
    source = folder / "source" / "small_lesson.ipynb"
    source.parent.mkdir()
    nbformat.write(_lesson(), source)
    submissions = {
        "alice": _answered("Negative, since 2 * x has the sign of x."),
        "bob": student_version(_lesson()),  # nothing written, the exercise unsolved
        "carol": _answered('=HYPERLINK("http://example.com")'),
        "dave": _as_code(_answered("Negative: the sign is kept.")),  # a cell type changed
    }
    paths = []
    for name, notebook in submissions.items():
        (folder / name).mkdir()
        nbformat.write(notebook, folder / name / "small_lesson.ipynb")
        paths.append(folder / name / "small_lesson.ipynb")
    out = folder / "grades.csv"
    rows = cli.grade(paths, out, source.parent, jobs=2, cell_timeout=30)
    return {(row["student"], row["exercise"], row["part"]): row for row in rows}, out


def test_a_written_answer_is_to_be_graded_by_hand_with_the_students_text(graded):
    rows, out = graded
    alice = rows[("alice", "predict_sign", grader.BY_HAND)]
    assert (alice["part"], alice["points"], alice["max_points"], alice["passed"]) == (
        grader.BY_HAND,
        None,
        2.0,
        None,
    )
    assert alice["message"] == "to be graded by hand"
    assert alice["answer"] == "Negative, since 2 * x has the sign of x."  # no question, no stub
    assert rows[("alice", "double", "hidden")]["points"] == 1.0  # the code, graded as ever
    table = {
        row["student"]: row
        for row in csv.DictReader(out.open())
        if row["exercise"] == "predict_sign"
    }
    assert table["alice"]["points"] == "" and table["alice"]["passed"] == ""
    assert table["alice"]["answer"] == alice["answer"]
    assert table["carol"]["answer"].startswith("'=HYPERLINK")  # shown as text, not a formula
    saved = {
        (row["student"], row["exercise"]): row
        for row in json.loads(out.with_suffix(".json").read_text())
    }
    assert saved[("alice", "predict_sign")]["points"] is None


def test_an_answer_cell_turned_into_code_is_still_read(graded):
    rows, _ = graded
    dave = rows[("dave", "predict_sign", grader.BY_HAND)]
    assert (dave["message"], dave["answer"]) == (
        "to be graded by hand",
        "Negative: the sign is kept.",
    )


def test_an_empty_written_answer_scores_zero_and_says_so(graded):
    rows, _ = graded
    bob = rows[("bob", "predict_sign", grader.BY_HAND)]
    assert (bob["points"], bob["passed"], bob["message"], bob["answer"]) == (
        0.0,
        False,
        "no answer written",
        "",
    )


def test_totals_say_what_is_still_to_be_graded_by_hand(graded):
    rows, _ = graded
    totals = cli._totals(rows.values())
    assert totals["alice"] == (2.0, 4.0, 2.0)
    assert totals["bob"] == (0.0, 4.0, 0.0)


@needs_sandbox
def test_check_tells_the_student_written_answers_are_graded_by_hand(tmp_path, capsys):
    source = tmp_path / "source" / "small_lesson.ipynb"
    source.parent.mkdir()
    nbformat.write(_lesson(), source)
    path = tmp_path / "mine_small_lesson.ipynb"
    nbformat.write(student_version(_lesson()), path)
    cli.main(["check", str(path), "--source", str(source.parent), "--cell-timeout", "30"])
    out = capsys.readouterr().out
    assert "0 of 1 checks pass." in out
    assert "1 written answers (predict_sign) are graded by hand by your instructor" in out
    assert "still empty: predict_sign" in out


def test_nbgrader_accepts_a_lesson_with_a_written_answer(tmp_path):
    folder = tmp_path / "source" / "small"
    folder.mkdir(parents=True)
    nbformat.write(_lesson(), folder / "small_lesson.ipynb")
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "lessons"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "small", "--force"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    released = nbformat.read(tmp_path / "release" / "small" / "small_lesson.ipynb", as_version=4)
    assert MODEL not in released.cells[4].source and ANSWER_STUB in released.cells[4].source

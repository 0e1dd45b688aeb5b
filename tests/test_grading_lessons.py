"""Grading the course's own lessons: full marks, zero, a planted mistake, nbgrader, nbval."""

import os
import pathlib
import subprocess
import sys

import keras
import nbformat
import pytest

from lessonlib.grading import cli, find_exercises, student_version

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_every_lesson_with_exercises_has_well_formed_ones(path):
    notebook = nbformat.read(path, as_version=4)
    exercises = find_exercises(notebook)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells
           if "nbgrader" in cell.metadata]
    assert len(ids) == len(set(ids)), f"{path.name}: grade_ids must be unique"
    for exercise in exercises:
        assert exercise.points > 0 and exercise.has_hidden_tests, exercise
    student = student_version(notebook)
    text = "\n".join(cell.source for cell in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lessons")
    released = folder / "release"
    cli.release(NOTEBOOKS / "01_deconvolution.ipynb", released)
    wrong = nbformat.read(NOTEBOOKS / "01_deconvolution.ipynb", as_version=4)
    for cell in wrong.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "unpool":
            # A classic slip: rows and columns swapped when decoding the switch.
            cell.source = cell.source.replace("output[switches.ravel()] = pooled.ravel()",
                                              "output[(switches % width) * height + switches "
                                              "// width] = pooled.ravel()")
    submissions = {
        "instructor": NOTEBOOKS / "01_deconvolution.ipynb",
        "student": released / "01_deconvolution.ipynb",
        "wrong_unpool": folder / "wrong_unpool_01_deconvolution.ipynb",
    }
    nbformat.write(wrong, submissions["wrong_unpool"])
    copies = []
    for name, path in submissions.items():
        copy = folder / name / "01_deconvolution.ipynb"
        copy.parent.mkdir()
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    rows = cli.grade(copies, folder / "grades.csv", NOTEBOOKS, jobs=2)
    totals = {}
    for row in rows:
        totals.setdefault(row["student"], {}).setdefault(row["exercise"], 0.0)
        totals[row["student"]][row["exercise"]] += row["points"]
    return totals, rows


def test_the_instructor_version_scores_full_marks(graded):
    totals, _ = graded
    assert totals["instructor"] == {"basis_sum": 2.0, "unpool": 2.0}


def test_the_released_version_scores_zero_without_crashing(graded):
    totals, rows = graded
    assert totals["student"] == {"basis_sum": 0.0, "unpool": 0.0}
    assert all("NotImplementedError" in row["message"] for row in rows
               if row["student"] == "student")


def test_a_planted_mistake_loses_exactly_that_exercise(graded):
    totals, _ = graded
    assert totals["wrong_unpool"] == {"basis_sum": 2.0, "unpool": 0.0}


def _environment():
    bin_folder = os.path.dirname(sys.executable)
    return dict(os.environ, PATH=bin_folder + os.pathsep + os.environ.get("PATH", ""),
                LESSONLIB_FAST="1")


def test_nbgrader_generates_the_assignment_from_the_lessons(tmp_path):
    source = tmp_path / "source" / "lesson05"
    source.mkdir(parents=True)
    (source / "05_kl_divergence.ipynb").write_bytes(
        (NOTEBOOKS / "05_kl_divergence.ipynb").read_bytes())
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "lessons"\n')
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment",
                             "lesson05", "--force"], cwd=tmp_path, env=_environment(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    released = nbformat.read(tmp_path / "release" / "lesson05" / "05_kl_divergence.ipynb",
                             as_version=4)
    text = "\n".join(cell.source for cell in released.cells)
    assert text.count("raise NotImplementedError()") == 3
    assert "BEGIN HIDDEN TESTS" not in text and "return -rho / rho_hat" not in text


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the lessons run through nbval under TensorFlow (tests/ covers the "
                           "library on the other backends)")
def test_released_lessons_run_through_nbval(tmp_path):
    # The exercises (and their checks) are tagged to raise until they are filled in; every
    # other cell of every lesson must run.
    released = tmp_path / "release"
    cli.release(NOTEBOOKS, released)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600", str(released)],
        cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "passed" in result.stdout

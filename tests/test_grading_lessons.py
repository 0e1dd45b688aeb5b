"""Grading the course's own lessons: full marks, zero, a planted mistake, nbgrader, nbval."""

import ast
import os
import pathlib
import subprocess
import sys

import keras
import nbformat
import pytest

from lessonlib.grading import cli, find_exercises, grader, sandbox, student_version

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


def _solution_regions(source):
    lines, regions, start = source.splitlines(), [], None
    for number, line in enumerate(lines, 1):
        if line.strip() == "### BEGIN SOLUTION":
            start = number
        elif line.strip() == "### END SOLUTION" and start is not None:
            regions.append((start, number))
    return regions


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_given_helpers_do_not_sit_inside_solution_cells(path):
    # Grading replays a check with the student's answers for what the solution cells define:
    # a helper the lesson gives must sit in a `given` cell, or a student could redefine it.
    for cell in nbformat.read(path, as_version=4).cells:
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        regions = _solution_regions(cell.source)
        for node in ast.parse(cell.source).body:
            assert any(node.lineno <= end and start <= node.end_lineno
                       for start, end in regions), (
                f"{path.name}, {cell.metadata['nbgrader']['grade_id']}: line {node.lineno} is "
                "given code in a solution cell; move it to a cell tagged `given`")


def test_every_reference_is_withheld_from_the_students_lessonlib(tmp_path):
    references = sorted({reference for path in LESSONS
                         for exercise in find_exercises(nbformat.read(path, as_version=4))
                         for reference in exercise.references})
    assert len(references) >= 15, references
    copy = grader.withheld_copy(references, tmp_path)
    probe = ("import importlib, sys\n"
             "from lessonlib.grading.kernel import ReferenceWithheld\n"
             "for reference in sys.argv[1:]:\n"
             "    module, _, name = reference.rpartition('.')\n"
             "    try:\n"
             "        getattr(importlib.import_module(module), name)()\n"
             "    except ReferenceWithheld:\n"
             "        continue\n"
             "    sys.exit(f'{reference} ran')\n"
             "import lessonlib.layers, lessonlib.models  # the packages still import\n")
    # Run from tmp_path: `python -c` puts the working folder first on sys.path.
    result = subprocess.run([sys.executable, "-c", probe, *references], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path,
                            env=dict(_environment(), PYTHONPATH=str(copy.parent)))
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not sandbox.available()[0]:
        pytest.skip(f"grading needs a sandbox: {sandbox.available()[1]}")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the lessons run through nbval under TensorFlow; test_grading.py grades "
                    "its own lesson on every backend")
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
    nbformat.write(wrong, folder / "wrong_unpool.ipynb")
    calls_reference = nbformat.read(NOTEBOOKS / "06_gan_minmax.ipynb", as_version=4)
    for cell in calls_reference.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "optimal_discriminator":
            cell.source = "from lessonlib.gan_theory import optimal_discriminator"
    nbformat.write(calls_reference, folder / "calls_reference.ipynb")
    submissions = {
        "student": released / "01_deconvolution.ipynb",
        "wrong_unpool": folder / "wrong_unpool.ipynb",
        "calls_reference": folder / "calls_reference.ipynb",
    }
    copies = []
    for path in LESSONS:
        if find_exercises(nbformat.read(path, as_version=4)):
            submissions[f"instructor{path.name[:2]}"] = path
    for name, path in submissions.items():
        lesson = "06_gan_minmax" if name == "calls_reference" else \
            "01_deconvolution" if not name.startswith("instructor") else path.stem
        copy = folder / name / f"{lesson}.ipynb"
        copy.parent.mkdir()
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    rows = cli.grade(copies, folder / "grades.csv", NOTEBOOKS, jobs=2)
    totals = {}
    for row in rows:
        totals.setdefault(row["student"], {}).setdefault(row["exercise"], 0.0)
        totals[row["student"]][row["exercise"]] += row["points"]
    return totals, rows


def test_every_instructor_version_scores_full_marks(graded):
    totals, rows = graded
    for path in LESSONS:
        exercises = find_exercises(nbformat.read(path, as_version=4))
        if exercises:
            expected = {exercise.name: exercise.points for exercise in exercises}
            assert totals[f"instructor{path.name[:2]}"] == expected, [
                row["message"] for row in rows if not row["passed"]]


def test_the_released_version_scores_zero_without_crashing(graded):
    totals, rows = graded
    assert totals["student"] == {"basis_sum": 0.0, "unpool": 0.0}
    assert all("NotImplementedError" in row["message"] for row in rows
               if row["student"] == "student")


def test_a_planted_mistake_loses_exactly_that_exercise(graded):
    totals, _ = graded
    assert totals["wrong_unpool"] == {"basis_sum": 2.0, "unpool": 0.0}


def test_calling_the_librarys_answer_scores_zero_for_that_exercise(graded):
    totals, rows = graded
    assert totals["calls_reference"] == {"optimal_discriminator": 0.0, "gan_losses": 3.0}
    assert any("library's own answer" in row["message"] for row in rows
               if row["student"] == "calls_reference")


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

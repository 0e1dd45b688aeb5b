"""Grading the course's own lessons: full marks, zero, a planted mistake, nbgrader, and the
released lessons' cells that must run before their exercises are done."""

import ast
import os
import pathlib
import subprocess
import sys

import keras
import nbformat
import pytest

from lessonlib.grading import cli, find_exercises, grader, sandbox, student_version
from lessonlib.grading.exercises import ANSWER_STUB, find_written_answers
from lessonlib.grading.release import RAISES_TAG

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_every_lesson_with_exercises_has_well_formed_ones(path):
    notebook = nbformat.read(path, as_version=4)
    exercises = find_exercises(notebook)
    ids = [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in notebook.cells
        if "nbgrader" in cell.metadata
    ]
    assert len(ids) == len(set(ids)), f"{path.name}: grade_ids must be unique"
    for exercise in exercises:
        assert exercise.points > 0 and exercise.has_hidden_tests, exercise
    student = student_version(notebook)
    text = "\n".join(cell.source for cell in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    for answer in find_written_answers(notebook):
        assert answer.points > 0 and answer.question, answer
        released = next(
            cell.source
            for cell in student.cells
            if cell.metadata.get("nbgrader", {}).get("grade_id") == answer.name
        )
        # The question and an empty answer, nothing of the model answer or its rubric.
        assert released == f"{answer.question}\n\n{ANSWER_STUB}", released


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
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        regions = _solution_regions(cell.source)
        for node in ast.parse(cell.source).body:
            assert any(node.lineno <= end and start <= node.end_lineno for start, end in regions), (
                f"{path.name}, {cell.metadata['nbgrader']['grade_id']}: line {node.lineno} is "
                "given code in a solution cell; move it to a cell tagged `given`"
            )


def test_every_reference_is_withheld_from_the_students_lessonlib(tmp_path):
    references = sorted(
        {
            reference
            for path in LESSONS
            for exercise in find_exercises(nbformat.read(path, as_version=4))
            for reference in exercise.references
        }
    )
    assert len(references) >= 15, references
    copy = grader.withheld_copy(references, tmp_path)
    probe = (
        "import importlib, sys\n"
        "from lessonlib.grading.kernel import ReferenceWithheld\n"
        "for reference in sys.argv[1:]:\n"
        "    module, _, name = reference.rpartition('.')\n"
        "    try:\n"
        "        getattr(importlib.import_module(module), name)()\n"
        "    except ReferenceWithheld:\n"
        "        continue\n"
        "    sys.exit(f'{reference} ran')\n"
        "import lessonlib.layers, lessonlib.models  # the packages still import\n"
    )
    # Run from tmp_path: `python -c` puts the working folder first on sys.path.
    result = subprocess.run(
        [sys.executable, "-c", probe, *references],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(_environment(), PYTHONPATH=str(copy.parent)),
    )
    assert result.returncode == 0, result.stderr[-2000:]


def judged_lessons():
    """`(lessons, reason)`: the lessons the `graded` fixture's judge runs, every cell of the
    instructor's version in fast mode, failing on any error; none, and why, where it cannot.

    In fast mode the root conftest.py leaves these lessons out of nbval's run: the judge's
    run is the same run.
    """
    if not sandbox.available()[0]:
        return [], f"grading needs a sandbox: {sandbox.available()[1]}"
    if keras.backend.backend() != "tensorflow":
        return [], (
            "the lessons are graded under TensorFlow; test_grading.py grades its own "
            "lesson on every backend"
        )
    return [path for path in LESSONS if find_exercises(nbformat.read(path, as_version=4))], ""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    lessons, reason = judged_lessons()
    if not lessons:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("lessons")
    released = folder / "release"
    cli.release(NOTEBOOKS / "01_deconvolution.ipynb", released)
    wrong = nbformat.read(NOTEBOOKS / "01_deconvolution.ipynb", as_version=4)
    for cell in wrong.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "unpool":
            # A classic slip: rows and columns swapped when decoding the switch.
            cell.source = cell.source.replace(
                "output[switches.ravel()] = pooled.ravel()",
                "output[(switches % width) * height + switches // width] = pooled.ravel()",
            )
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
    for path in lessons:
        submissions[f"instructor{path.name[:2]}"] = path
    for name, path in submissions.items():
        lesson = (
            "06_gan_minmax"
            if name == "calls_reference"
            else "01_deconvolution"
            if not name.startswith("instructor")
            else path.stem
        )
        copy = folder / name / f"{lesson}.ipynb"
        copy.parent.mkdir()
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    rows = cli.grade(copies, folder / "grades.csv", NOTEBOOKS, jobs=2)
    totals = {}  # the auto-graded points of each student's exercises
    for row in rows:
        if row["part"] != grader.BY_HAND:
            totals.setdefault(row["student"], {}).setdefault(row["exercise"], 0.0)
            totals[row["student"]][row["exercise"]] += row["points"]
    return totals, rows


def test_every_instructor_version_scores_full_marks(graded):
    totals, rows = graded
    for path in LESSONS:
        notebook = nbformat.read(path, as_version=4)
        exercises = find_exercises(notebook)
        if exercises:
            expected = {exercise.name: exercise.points for exercise in exercises}
            assert totals[f"instructor{path.name[:2]}"] == expected, [
                row["message"] for row in rows if row["passed"] is False
            ]
        # Written answers: the model answer is there, to be graded by hand, never scored.
        written = {
            row["exercise"]: (row["points"], row["max_points"], row["message"])
            for row in rows
            if row["student"] == f"instructor{path.name[:2]}" and row["part"] == grader.BY_HAND
        }
        assert written == {
            answer.name: (None, answer.points, "to be graded by hand")
            for answer in find_written_answers(notebook)
        }


def test_the_released_version_scores_zero_without_crashing(graded):
    totals, rows = graded
    assert totals["student"] == {"basis_sum": 0.0, "unpool": 0.0}
    assert all(
        "NotImplementedError" in row["message"] for row in rows if row["student"] == "student"
    )


def test_a_planted_mistake_loses_exactly_that_exercise(graded):
    totals, _ = graded
    assert totals["wrong_unpool"] == {"basis_sum": 2.0, "unpool": 0.0}


def test_calling_the_librarys_answer_scores_zero_for_that_exercise(graded):
    totals, rows = graded
    assert totals["calls_reference"] == {"optimal_discriminator": 0.0, "gan_losses": 3.0}
    assert any(
        "library's own answer" in row["message"]
        for row in rows
        if row["student"] == "calls_reference"
    )


def _environment():
    bin_folder = os.path.dirname(sys.executable)
    return dict(
        os.environ, PATH=bin_folder + os.pathsep + os.environ.get("PATH", ""), LESSONLIB_FAST="1"
    )


def test_nbgrader_generates_the_assignment_from_the_lessons(tmp_path):
    # Every lesson as one nbgrader assignment: nbgrader's own checks of the cells' metadata.
    source = tmp_path / "source" / "lessons"
    source.mkdir(parents=True)
    for path in LESSONS:
        (source / path.name).write_bytes(path.read_bytes())
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "lessons"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "lessons", "--force"],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for path in LESSONS:
        released = nbformat.read(tmp_path / "release" / "lessons" / path.name, as_version=4)
        text = "\n".join(cell.source for cell in released.cells)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path.name
        assert text.count(ANSWER_STUB) == len(
            find_written_answers(nbformat.read(path, as_version=4))
        ), path.name
        if path.name == "05_kl_divergence.ipynb":
            assert text.count("raise NotImplementedError()") == 3
            assert "return -rho / rho_hat" not in text


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _bound(statement):
    """The names a top-level statement binds in the notebook's namespace."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    names, stack = set(), [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if node is statement or not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return names


def _loaded(statement):
    names = {
        node.id
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    if isinstance(statement, (ast.For, ast.With, ast.While, ast.If, ast.Try)):
        names -= _bound(statement)  # a loop's or a block's own names, bound before their use
    return names


def _raises_not_implemented(statement):
    return any(
        isinstance(node, ast.Raise)
        and node.exc is not None
        and "NotImplementedError" in ast.unparse(node.exc)
        for node in ast.walk(statement)
    )


def _needs_an_exercise(notebook):
    """`(cell index, names)` for each untagged cell of the released `notebook` that would use a
    name an unfinished exercise leaves undefined, or call an exercise's unwritten function.

    It follows the released lesson's run statement by statement: a tagged cell (an exercise or
    its check) stops at its `raise NotImplementedError()` or at its first use of an unwritten
    function, leaving undefined every name the instructor's version of the cell binds after
    that point.
    """
    released = student_version(notebook)
    missing, raising, problems = set(), set(), []
    for index, (cell, instructor) in enumerate(zip(released.cells, notebook.cells, strict=True)):
        if cell.cell_type != "code":
            continue
        tagged = RAISES_TAG in cell.metadata.get("tags", [])
        ran, stopped = set(), False
        for statement in ast.parse(cell.source).body:
            uses = _loaded(statement) & (missing | raising)
            if tagged and (
                uses & raising
                or (isinstance(statement, ast.Raise) and _raises_not_implemented(statement))
            ):
                stopped = True
                break
            if uses:
                problems.append((index, sorted(uses)))
            bound = _bound(statement)
            missing, raising, ran = missing - bound, raising - bound, ran | bound
            if isinstance(statement, ast.FunctionDef) and _raises_not_implemented(statement):
                raising.add(statement.name)
        if stopped:
            for statement in ast.parse(instructor.source).body:
                missing |= _bound(statement) - ran
    return problems


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_no_cell_of_a_released_lesson_needs_an_unfinished_exercise(path):
    # A student runs every cell of the released lesson before finishing its exercises: those
    # cells and their checks raise (tagged for nbval), and no other cell may need them. This
    # follows the names; the instructor's version of every cell runs through nbval or the
    # grader's judge.
    assert _needs_an_exercise(nbformat.read(path, as_version=4)) == []


def test_the_released_lesson_check_finds_a_cell_that_needs_an_exercise():
    notebook = nbformat.read(NOTEBOOKS / "00_getting_started.ipynb", as_version=4)
    check = next(
        index
        for index, cell in enumerate(notebook.cells)
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "check_sigmoid_derivative"
    )
    # The check binds `z` before it calls the exercise, and `difference` with that call.
    notebook.cells.insert(check + 1, nbformat.v4.new_code_cell("print(z.shape)"))
    assert _needs_an_exercise(notebook) == []
    notebook.cells.insert(check + 1, nbformat.v4.new_code_cell("print(difference)"))
    notebook.cells.insert(
        check + 1, nbformat.v4.new_code_cell("def slope(z):\n    return sigmoid_derivative(z)")
    )
    assert _needs_an_exercise(notebook) == [
        (check + 1, ["sigmoid_derivative"]),
        (check + 2, ["difference"]),
    ]

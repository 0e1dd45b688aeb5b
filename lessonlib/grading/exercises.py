"""Exercises in a lesson notebook, found from nbgrader's cell metadata.

An exercise is one or more solution cells (`nbgrader.solution`) followed by a graded check cell
(`nbgrader.grade` with `points`). The check cell may hold hidden tests between
`### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`; they are removed from the student version
and run only when grading. The check cell's metadata may name, under `lessonlib.references`,
the library's own answers to the exercise (e.g. `lessonlib.gan_theory.optimal_discriminator`,
by the module that defines it): they are withheld from the student's sandbox while grading.
Code cells tagged `given` hold helpers the solutions may use; the grader runs them, with the
Setup cell (the first code cell), before the solutions.

Writing a check that grading can replay: the check calls the exercise's functions (what its
solution cells define) and judges what they return with `lessonlib.checks`, computing whatever
it likes around those calls. When grading, the arguments of each call travel to the student's
sandbox as data, and the check runs again in the judge with the student's return values. So the
arguments must be data (numbers, strings, NumPy arrays, lists, tuples, dicts, `lessonlib`
dataclasses; backend tensors arrive as NumPy arrays, functions and models cannot travel), and
the check must make the same calls each time it runs from the same state: a call's arguments
cannot depend on what the student's function returned before (no state handed back). A helper
(defined in the check, or in a cell) calls an exercise's function only if given it as an
argument: reached through the helper's globals, it would be the instructor's function when
grading. The grader refuses a lesson whose own solutions do not pass, whose checks replay
differently, or whose checks reach an exercise's function other than through their own code or
an argument.
"""

import ast
import dataclasses
import json

import nbformat

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
ANSWER_STUB = "YOUR ANSWER HERE"  # what nbgrader's ClearSolutions leaves in a markdown answer


class NotebookError(ValueError):
    """A file that cannot be read as a notebook (not JSON, not nbformat)."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: the cells a student fills in and the check that grades them."""

    name: str
    solution_ids: tuple
    check_id: str
    points: float
    has_hidden_tests: bool
    references: tuple = ()


@dataclasses.dataclass(frozen=True)
class WrittenAnswer:
    """A question answered in words and graded by hand: a markdown cell with nbgrader's
    `solution` and `grade` set and its `points` (nbgrader's "manually graded answer", which
    formgrader shows to the instructor).

    The instructor's cell holds the question, then a model answer and a rubric between
    `### BEGIN SOLUTION` and `### END SOLUTION`; the student version keeps the question and
    replaces the rest with `YOUR ANSWER HERE`.
    """

    name: str
    points: float
    question: str  # the cell's text before the solution region
    after: str = ""  # and after it, if any


def nbgrader_metadata(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def read_notebook(path):
    """Read a notebook, raising `NotebookError` with the reason if it is not one."""
    try:
        with open(path, encoding="utf-8") as file:
            return nbformat.read(file, as_version=4)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotebookError(f"{path} cannot be read as a notebook: {error}") from None
    except Exception as error:  # nbformat's own validation and reader errors
        raise NotebookError(f"{path} cannot be read as a notebook: {error}") from None


def split_hidden_tests(source):
    """Return `(visible, hidden)`: the check's source without and within the hidden region."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        elif line.strip() == END_HIDDEN:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


def find_exercises(notebook):
    """List the notebook's exercises, in order.

    Raises:
        ValueError: if a graded check has no solution cell before it.
    """
    exercises, pending = [], []
    for cell in notebook.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution") and not meta.get("grade"):
            pending.append(meta["grade_id"])
        elif meta.get("grade") and meta.get("points"):
            if not pending:
                raise ValueError(
                    f"The graded cell {meta.get('grade_id')!r} has no solution cell before it."
                )
            exercises.append(
                Exercise(
                    name=pending[0] if len(pending) == 1 else "+".join(pending),
                    solution_ids=tuple(pending),
                    check_id=meta["grade_id"],
                    points=float(meta["points"]),
                    has_hidden_tests=BEGIN_HIDDEN in cell.source,
                    references=tuple(cell.metadata.get("lessonlib", {}).get("references", ())),
                )
            )
            pending = []
    return exercises


def _outside_solution(source):
    """`(before, after)`: a markdown answer's text before and after its solution region."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN_SOLUTION]
    ends = [i for i, line in enumerate(lines) if line.strip() == END_SOLUTION]
    if not starts or not ends or ends[-1] < starts[0]:
        return "", ""  # the whole cell is the model answer
    return "\n".join(lines[: starts[0]]).strip(), "\n".join(lines[ends[-1] + 1 :]).strip()


def find_written_answers(notebook):
    """List the notebook's questions answered in words (`WrittenAnswer`), in order."""
    answers = []
    for cell in notebook.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type == "markdown" and meta.get("solution") and meta.get("grade"):
            before, after = _outside_solution(cell.source)
            answers.append(
                WrittenAnswer(meta["grade_id"], float(meta.get("points", 0)), before, after)
            )
    return answers


def written_text(notebook, answer):
    """What a student wrote for `answer` (a `WrittenAnswer`) in `notebook`: the text of the
    first cell with its `grade_id` (a markdown cell, or one the student turned into code or
    raw text by mistake), without the question; "" if none was written."""
    for cell in notebook.cells if notebook is not None else ():
        if nbgrader_metadata(cell).get("grade_id") == answer.name:
            text = cell.source.strip()
            if answer.question and text.startswith(answer.question):  # the question, if kept
                text = text[len(answer.question) :].strip()
            if answer.after and text.endswith(answer.after):
                text = text[: -len(answer.after)].strip()
            return "" if text in ("", ANSWER_STUB) else text
    return ""


GIVEN_TAG = "given"


def is_given(cell):
    """Whether a code cell holds helpers the solutions may use (tagged `given`)."""
    return cell.cell_type == "code" and GIVEN_TAG in cell.get("metadata", {}).get("tags", [])


def defined_names(source):
    """The names a cell's code defines at its top level (functions, classes, assignments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.extend(name.id for name in ast.walk(target) if isinstance(name, ast.Name))
    return list(dict.fromkeys(names))

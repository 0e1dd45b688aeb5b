"""Grade a submitted notebook against the instructor's version, whatever the submission does.

The grading notebook is built from the instructor's notebook: every cell is the instructor's,
except the solution cells, which come from the submission (matched by nbgrader's `grade_id`).
So a student cannot change a check, a hidden test or the lesson's other code. Each check runs
in two parts (visible, then hidden tests) worth half the points each, and each part runs on a
fresh import of `lessonlib`, so a submission that patched `lessonlib.checks` or rebound `checks`
grades with the real ones.

The notebook runs in a fresh Jupyter kernel, in fast mode, in a temporary working directory.
A cell that runs past the cell time limit, or kills the kernel (`os._exit`, a segfault, the
out-of-memory killer), is recorded, and the notebook runs again from the top in a new kernel
with that cell replaced by an error, so one broken exercise costs only its own points. The
submission file is only ever read.
"""

import copy
import dataclasses
import os
import subprocess
import tempfile
import time

import nbformat

from lessonlib.grading.exercises import (
    NotebookError,
    find_exercises,
    nbgrader_metadata,
    read_notebook,
    split_hidden_tests,
)

CELL_TIMEOUT = 300
NOTEBOOK_TIMEOUT = 1200

# Runs a check part on fresh copies of the lessonlib modules: defined and called in the same
# cell, so nothing the submission ran earlier can have replaced it.
_CHECK_TEMPLATE = '''\
def __lessonlib_run_check(namespace, code, imports):
    import importlib
    import sys
    import types

    old = {name: module for name, module in sys.modules.items()
           if name == "lessonlib" or name.startswith("lessonlib.")}
    for name in old:
        del sys.modules[name]
    scope = dict(namespace)
    try:
        fresh = {name: importlib.import_module(name) for name in sorted(old)}
        exec(compile(imports, "<setup imports>", "exec"), scope)  # np, checks, ... afresh
    finally:
        sys.modules.update(old)  # the submission's objects keep their own modules
    for key, value in namespace.items():
        if (isinstance(value, types.ModuleType) and value.__name__ in fresh
                and scope.get(key) is value):
            scope[key] = fresh[value.__name__]
    exec(compile(code, "<check>", "exec"), scope)
    for key, value in scope.items():
        if not isinstance(value, types.ModuleType) and not key.startswith("__"):
            namespace[key] = value


__lessonlib_run_check(globals(), __CODE__, __IMPORTS__)
'''


@dataclasses.dataclass
class PartResult:
    """One graded part of an exercise (its visible or its hidden tests)."""

    exercise: str
    part: str
    points: float
    max_points: float
    passed: bool
    message: str


def _setup_imports(source):
    """The import statements of the lesson's Setup cell (its first code cell)."""
    for cell in source.cells:
        if cell.cell_type == "code":
            return "\n".join(line for line in cell.source.splitlines()
                             if line.startswith(("import ", "from ")))
    return ""


def _stub(message):
    return f"raise RuntimeError({message!r})"


def build_grading_notebook(source, submission):
    """Return `(notebook, parts, solutions)`: the notebook to run; `(cell index, exercise,
    part, points)` for each graded cell in it; and `{cell index: exercise}` for the solution
    cells. `submission` may be None (nothing readable was submitted)."""
    submitted = {}
    if submission is not None:
        for cell in submission.cells:
            meta = nbgrader_metadata(cell)
            if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id"):
                submitted[meta["grade_id"]] = cell.source
    exercises = {exercise.check_id: exercise for exercise in find_exercises(source)}
    owner = {grade_id: exercise.name for exercise in exercises.values()
             for grade_id in exercise.solution_ids}
    cells, parts, solutions = [], [], {}
    imports = _setup_imports(source)
    for cell in source.cells:
        meta = nbgrader_metadata(cell)
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            grade_id = meta["grade_id"]
            solutions[len(cells)] = owner.get(grade_id, grade_id)
            if grade_id in submitted:
                cell.source = submitted[grade_id]
            else:
                cell.source = _stub(f"The cell for exercise {grade_id!r} is missing from the "
                                    "submission (deleted, or its nbgrader metadata changed).")
        if cell.cell_type == "code" and meta.get("grade_id") in exercises:
            exercise = exercises[meta["grade_id"]]
            visible, hidden = split_hidden_tests(cell.source)
            halves = [("visible", visible)] + ([("hidden", hidden)] if exercise.has_hidden_tests
                                               else [])
            for part, code in halves:
                source_code = _CHECK_TEMPLATE.replace("__CODE__", repr(code)).replace(
                    "__IMPORTS__", repr(imports))
                part_cell = nbformat.v4.new_code_cell(source_code)
                parts.append((len(cells), exercise.name, part, exercise.points / len(halves)))
                cells.append(part_cell)
            continue
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    return notebook, parts, solutions


def _error_message(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip()
            return f"{output.get('ename', 'Error')}: {value}"[:500]
    return None


def _last_line(cell):
    text = "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "passed"


def _run(notebook, skipped, cell_timeout, deadline, workdir):
    """Execute the notebook once; return `(executed notebook, failed cell index or None,
    reason)`. Cells in `skipped` are replaced by the recorded error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook = copy.deepcopy(notebook)
    for index, reason in skipped.items():
        notebook.cells[index].source = _stub(reason)
    client = NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3",
                            allow_errors=True, resources={"metadata": {"path": workdir}})
    environment = dict(os.environ, LESSONLIB_FAST="1", TF_CPP_MIN_LOG_LEVEL="2",
                       MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    failed, reason = None, None
    # The kernel's own stderr (TensorFlow's start-up lines, shutdown noise) is not the
    # student's output: cells report through Jupyter's messages, which are kept.
    with client.setup_kernel(env=environment, cwd=workdir, stderr=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            if time.monotonic() > deadline:
                failed, reason = index, "the notebook ran past its time limit before this cell"
                break
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                failed = index
                reason = f"this cell ran for more than {cell_timeout} s and was stopped"
                break
            except DeadKernelError:
                failed = index
                reason = ("the kernel died while this cell ran (os._exit, a crash, or running "
                          "out of memory)")
                break
    return notebook, failed, reason


def grade_notebook(source, submission_path, cell_timeout=CELL_TIMEOUT,
                   notebook_timeout=NOTEBOOK_TIMEOUT):
    """Grade one submission against the instructor's notebook `source` (a NotebookNode).

    Returns:
        list of `PartResult`, one per graded part of each exercise.
    """
    try:
        submission = read_notebook(submission_path)
        problem = None
    except NotebookError as error:
        submission, problem = None, str(error)
    notebook, parts, solutions = build_grading_notebook(source, submission)
    if problem is not None:
        return [PartResult(exercise, part, 0.0, points, False, problem)
                for _, exercise, part, points in parts]

    deadline = time.monotonic() + notebook_timeout
    skipped = {}
    part_cells = {index for index, *_ in parts}
    with tempfile.TemporaryDirectory(prefix="lessonlib-grading-") as workdir:
        while True:
            executed, failed, reason = _run(notebook, skipped, cell_timeout, deadline, workdir)
            if failed is None:
                break
            if time.monotonic() > deadline or failed in skipped:
                # Out of time: every graded part not reached gets the reason.
                for index in part_cells:
                    if index >= failed:
                        executed.cells[index].outputs = [nbformat.v4.new_output(
                            "error", ename="NotGraded", evalue=reason, traceback=[])]
                break
            skipped[failed] = f"Not run: {reason}."
    results = []
    for index, exercise, part, points in parts:
        cell = executed.cells[index]
        error = _error_message(cell)
        if index in skipped:
            error = skipped[index]
        results.append(PartResult(exercise, part, 0.0 if error else points, points,
                                  error is None, error or _last_line(cell)))
    # What went wrong in a solution cell explains its exercise's failure better than the
    # NameError its check raised afterwards.
    for index, exercise in solutions.items():
        if index in skipped:
            problem = f"Your solution cell was stopped: {skipped[index][len('Not run: '):]}"
        else:
            error = _error_message(executed.cells[index])
            problem = error and f"Your solution cell raised {error}"
        if problem:
            for result in results:
                if result.exercise == exercise and not result.passed:
                    result.message = problem
    return results

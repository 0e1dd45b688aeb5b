"""Grade submitted notebooks: the student's code runs in a sandbox, and a judge that never ran
it decides the points from the values it returned.

For a lesson, one judge kernel runs the instructor's notebook once, in its own sandbox. At each
check (its visible tests, then its hidden tests, each worth half the points) it records the
calls the check makes to the exercise's functions: their arguments, as data
(`lessonlib.grading.kernel`). Each submission then runs in a sandbox of its own
(`lessonlib.grading.sandbox`): the lesson's Setup cell, its `given` helpers and the student's
solution cells, and at each check's place, the student's functions called with the recorded
arguments. What they return goes back as data (never pickle, size-capped). The judge replays
each check's own code from the state it had, with the student's answers in place of the
functions: the lesson's assertions, tolerances and messages decide. No check, hidden test or
expected value ever enters the student's sandbox; nothing the student's code does there
(patching NumPy, IPython, builtins or the import machinery, threads, signal handlers, tracing)
reaches the judge except through the values it returns. The library's own answers to the
lesson's exercises are withheld from the student's copy of `lessonlib`.

A cell that runs past the cell time limit, or kills the kernel (`os._exit`, a segfault, the
sandbox's memory limit), is recorded, and the student's notebook runs again from the top in a
new sandbox without it, so one broken exercise costs only its own points.
"""

import ast
import contextlib
import copy
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import nbformat

from lessonlib.grading import kernel, sandbox
from lessonlib.grading.exercises import (
    defined_names,
    find_exercises,
    find_written_answers,
    is_given,
    nbgrader_metadata,
    split_hidden_tests,
    written_text,
)
from lessonlib.grading.sandbox import Limits

CELL_TIMEOUT = 300
NOTEBOOK_TIMEOUT = 1200
JUDGE_TIMEOUT = 900  # a cell of an instructor's notebook, in fast mode
ANSWER_BYTES = kernel.MAX_ANSWER_BYTES + 2**20
MESSAGE_BYTES = 64 * 2**20  # a larger message from a student's kernel breaks its connection
LESSONLIB = pathlib.Path(__file__).resolve().parents[1]
START_FAILED = -1
NOTEBOOKS = LESSONLIB.parent / "notebooks"  # the course's instructor notebooks, if beside it


class GradingError(RuntimeError):
    """The lesson itself cannot be graded (its own checks fail, or a check cannot be judged)."""


BY_HAND = "by hand"  # the part of a written answer


@dataclasses.dataclass
class PartResult:
    """One graded part of an exercise (its visible or its hidden tests), or a written answer
    (part `"by hand"`): its points and `passed` are None until the instructor grades it, and
    `answer` holds what the student wrote."""

    exercise: str
    part: str
    points: float | None
    max_points: float
    passed: bool | None
    message: str
    answer: str = ""


@dataclasses.dataclass(frozen=True)
class Options:
    """How grading runs: in sandboxes or not, time limits, and each sandbox's limits."""

    sandbox: bool = True
    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = NOTEBOOK_TIMEOUT
    limits: Limits = Limits()
    hidden: tuple = ()  # paths no kernel may see (submissions, outputs, instructor files)
    visible_only: bool = False  # `check`: a student's own run, without the hidden tests


@dataclasses.dataclass(frozen=True)
class Part:
    index: int
    exercise: str
    kind: str  # "visible" or "hidden"
    points: float
    code: str
    names: tuple  # what the solutions define up to this check
    cell: int  # the check cell's index in the source


@dataclasses.dataclass
class Plan:
    """What grading needs from the instructor's notebook."""

    source: object
    parts: list
    solutions: dict  # grade_id -> exercise name
    references: tuple

    @classmethod
    def of(cls, source, visible_only=False):
        exercises = {exercise.check_id: exercise for exercise in find_exercises(source)}
        solutions = {
            grade_id: exercise.name
            for exercise in exercises.values()
            for grade_id in exercise.solution_ids
        }
        parts, names = [], []
        for position, cell in enumerate(source.cells):
            meta = nbgrader_metadata(cell)
            if cell.cell_type != "code":
                continue
            if meta.get("grade_id") in solutions and not meta.get("grade"):
                names += [name for name in defined_names(cell.source) if name not in names]
            exercise = exercises.get(meta.get("grade_id"))
            if exercise is None:
                continue
            visible, hidden = split_hidden_tests(cell.source)
            halves = [("visible", visible)]
            if exercise.has_hidden_tests:
                halves.append(("hidden", hidden))
            for kind, code in halves:
                if visible_only and kind == "hidden":
                    continue
                parts.append(
                    Part(
                        len(parts),
                        exercise.name,
                        kind,
                        exercise.points / len(halves),
                        code,
                        tuple(names),
                        position,
                    )
                )
        references = tuple(
            sorted(
                {reference for exercise in exercises.values() for reference in exercise.references}
            )
        )
        return cls(source, parts, solutions, references)

    def check_cells(self):
        """{index of a check cell in the source: its parts}."""
        cells = {}
        for part in self.parts:
            cells.setdefault(part.cell, []).append(part)
        return cells


def _cell_error(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip()
            return f"{output.get('ename', 'Error')}: {value}"[:500]
    return None


def _payloads(cell, mime=kernel.MIME):
    texts = []
    for output in cell.get("outputs", []):
        data = output.get("data", {}) if output.get("output_type") == "display_data" else {}
        if isinstance(data.get(mime), str):
            texts.append(data[mime])
    return texts


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """A notebook client that keeps at most `output_bytes` of a run's messages, whatever
        their kind (streams, displays, display updates; widgets' are ignored); the rest is
        dropped, not held. A grading payload counts apart, at most `ANSWER_BYTES`, one per
        cell listed in `answer_cells` (None: any cell, for the judge)."""

        output_bytes = 2**20
        answer_cells = None
        kept = 0

        def process_message(self, msg, cell, cell_index):
            kind = msg.get("msg_type")
            content = msg.get("content")
            if str(kind).startswith("comm"):
                # Widgets are not graded: their messages are ignored, so the client never
                # plays a widget front end (which sends messages back to the kernel).
                return None
            if kind in ("status", "execute_input", "clear_output") or not isinstance(content, dict):
                return super().process_message(msg, cell, cell_index)
            if kind == "error":  # kept, cut: the grader reads its name and value
                content["evalue"] = str(content.get("evalue", ""))[:2000]
                content["traceback"] = []
                return super().process_message(msg, cell, cell_index)
            data = content.get("data")
            if kind == "display_data" and isinstance(data, dict) and kernel.MIME in data:
                allowed = self.answer_cells is None or (
                    cell_index in self.answer_cells and not _payloads(cell)
                )
                if (
                    allowed
                    and len(data) == 1
                    and isinstance(data[kernel.MIME], str)
                    and (self.answer_cells is None or len(data[kernel.MIME]) <= ANSWER_BYTES)
                ):
                    return super().process_message(msg, cell, cell_index)
                return None
            size = len(json.dumps(content, default=str))
            self.kept += size
            if self.kept <= self.output_bytes:
                return super().process_message(msg, cell, cell_index)
            if self.kept - size <= self.output_bytes:
                cell.setdefault("outputs", []).append(
                    nbformat.v4.new_output(
                        "stream",
                        name="stderr",
                        text=f"[output past {self.output_bytes // 1024} KiB dropped by the grader]",
                    )
                )
            return None

    return CappedClient


def _kernel_client_class(max_bytes):
    """An asynchronous kernel client whose sockets refuse a message over `max_bytes` (none if
    None): ZeroMQ drops the connection instead of handing the grader a message it would have
    to hold."""
    import zmq
    from jupyter_client.asynchronous import AsyncKernelClient
    from traitlets import default

    if max_bytes is None:
        return AsyncKernelClient

    class CappedKernelClient(AsyncKernelClient):
        @default("context")
        def _context_default(self):
            self._created_context = True
            context = zmq.asyncio.Context()
            context.setsockopt(zmq.MAXMSGSIZE, max_bytes)
            return context

    return CappedKernelClient


def _shut_down(manager):
    """Stop a kernel the grader started, and with it its sandbox: killing Bubblewrap ends the
    sandbox's PID namespace, and every process inside with it."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    if manager.watchdog is not None:
        manager.watchdog.stop()
    if process is not None:
        pids = sandbox.tree(process.pid) if not manager.sandbox else [process.pid]
        for pid in reversed(pids):  # without a sandbox, the whole tree
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _kernel_manager(options, folder, readable=(), overlay=None, max_message_bytes=MESSAGE_BYTES):
    """A kernel manager for a sandbox whose sockets, working folder and home live in `folder`
    (a new, empty host folder the grader owns)."""
    ipc = folder / "ipc"
    ipc.mkdir()
    manager = sandbox.SandboxedKernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=str(ipc / "k"),
        connection_file=str(ipc / "kernel.json"),
    )
    manager.client_factory = _kernel_client_class(max_message_bytes)
    manager.sandbox, manager.limits = options.sandbox, options.limits
    hidden = tuple(options.hidden) + (str(NOTEBOOKS),)
    if options.sandbox:
        overlays = [(overlay or LESSONLIB, LESSONLIB)]
        manager.sandbox_options = {
            "writable": [ipc],
            "readable": list(readable),
            "overlays": overlays,
            "hidden": hidden,
        }
        manager.kernel_env = sandbox.kernel_environment()
    else:
        home = folder / "home"
        home.mkdir()
        extra = {"PYTHONPATH": str((overlay or LESSONLIB).parent)}
        manager.kernel_env = sandbox.kernel_environment(str(home), str(folder), extra)
    return manager


class Judge:
    """The instructor's notebook, run once in a kernel of its own: it records what each check
    asks of the exercise's functions, then judges each student's answers."""

    def __init__(self, plan, folder, options):
        self.plan, self.folder, self.options = plan, pathlib.Path(folder), options
        self.calls_folder = self.folder / "calls"
        self.answers_folder = self.folder / "answers"
        self.calls_folder.mkdir()
        self.answers_folder.mkdir()
        self._stack = contextlib.ExitStack()
        self._client = None
        self._count = 0

    def _execute(self, source, timeout):
        cell = nbformat.v4.new_code_cell(source)
        self._client.nb.cells.append(cell)
        self._client.timeout = timeout
        self._client.execute_cell(cell, len(self._client.nb.cells) - 1)
        return cell

    def _payload(self, cell, what):
        payloads = _payloads(cell)
        if not payloads:
            raise GradingError(
                f"The judge could not {what}: {_cell_error(cell) or 'it gave no result'}"
            )
        return json.loads(payloads[-1])

    def start(self, tries=2):
        """Run the instructor's notebook, recording its checks; a run that times out or
        dies (a lost message, the machine's memory) is tried again, `tries` times in all."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        for attempt in range(tries):
            try:
                return self._start()
            except (CellTimeoutError, DeadKernelError) as error:
                self.close()
                if attempt == tries - 1:
                    raise GradingError(f"The instructor's notebook did not run: {error}") from None

    def _start(self):
        folder = pathlib.Path(tempfile.mkdtemp(prefix="kernel-", dir=self.folder))
        manager = _kernel_manager(
            self.options, folder, readable=[self.answers_folder], max_message_bytes=None
        )  # the judge's kernel is trusted
        notebook = nbformat.v4.new_notebook(metadata=copy.deepcopy(self.plan.source.metadata))
        self._client = _client_class()(
            notebook, km=manager, timeout=JUDGE_TIMEOUT, allow_errors=True
        )
        self._client.output_bytes = 64 * 2**20
        try:
            self._stack.enter_context(
                self._client.setup_kernel(
                    cwd=str(folder), stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
                )
            )
        except RuntimeError as error:
            raise GradingError(f"The judge's kernel did not start: {error}") from None
        checks = self.plan.check_cells()
        for index, cell in enumerate(self.plan.source.cells):
            if cell.cell_type != "code":
                continue
            if index not in checks:
                ran = self._execute(cell.source, JUDGE_TIMEOUT)
                if _cell_error(ran):
                    raise GradingError(
                        f"The instructor's notebook fails at cell {index}: {_cell_error(ran)}"
                    )
                continue
            for part in checks[index]:
                self._record(part)
        problems = self._payload(
            self._execute(
                "import lessonlib.grading.kernel as __judge\n__judge.self_test()", JUDGE_TIMEOUT
            ),
            "test itself",
        )["self_test"]
        if problems:
            raise GradingError(
                f"The judge gives the instructor's own answers another verdict "
                f"on replay: {problems}"
            )
        return self

    def _record(self, part):
        source = (
            f"import lessonlib.grading.kernel as __judge\n"
            f"__judge.record(globals(), {part.index}, {part.code!r}, {list(part.names)!r})"
        )
        payload = self._payload(
            self._execute(source, JUDGE_TIMEOUT),
            f"record the check of {part.exercise!r} ({part.kind})",
        )
        if not payload["passed"]:
            raise GradingError(
                f"The instructor's solution fails its own check of "
                f"{part.exercise!r} ({part.kind}): {payload['message']}"
            )
        path = self.calls_folder / f"{part.index}.json"
        temporary = path.with_suffix(".tmp")  # students may be reading it (judge restarted)
        temporary.write_text(json.dumps(payload["calls"]), encoding="utf-8")
        os.replace(temporary, path)

    def calls_path(self, part):
        return self.calls_folder / f"{part.index}.json"

    def judge(self, answers):
        """{part index: (passed, message)} for the parts with an answer in `answers`."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        verdicts = {}
        for part in self.plan.parts:
            text = answers.get(part.index)
            if text is None:
                continue
            self._count += 1
            path = self.answers_folder / f"{self._count}.json"
            path.write_text(text, encoding="utf-8")
            try:
                cell = self._execute(
                    f"import lessonlib.grading.kernel as __judge\n"
                    f"__judge.replay({part.index}, {str(path)!r})",
                    300,
                )
                payload = self._payload(cell, f"judge {part.exercise!r}")
                verdicts[part.index] = (bool(payload["passed"]), str(payload["message"]))
            except GradingError as error:
                verdicts[part.index] = (False, f"Your answers could not be judged: {error}")
            except (CellTimeoutError, DeadKernelError):
                # The judge is shared by every submission of the lesson: start it again.
                verdicts[part.index] = (
                    False,
                    "Your answers stopped the judge (too large or too deep to read); they score 0.",
                )
                self.close()
                self.start()
            finally:
                path.unlink()
        return verdicts

    def close(self):
        try:
            self._stack.close()
        finally:
            if self._client is not None and self._client.km is not None:
                _shut_down(self._client.km)
            self._stack = contextlib.ExitStack()


def withheld_copy(references, folder):
    """Copy `lessonlib` into `folder`, each of `references` (dotted paths to top-level
    functions or classes) replaced by a stub that raises `ReferenceWithheld`.

    Returns:
        the copy's package folder.
    """
    target = pathlib.Path(folder) / "lessonlib"
    shutil.copytree(LESSONLIB, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for reference in references:
        module, _, name = reference.rpartition(".")
        parts = module.split(".")
        if parts[0] != "lessonlib":
            raise GradingError(f"A reference must be in lessonlib. Received: {reference!r}")
        path = target.joinpath(*parts[1:]).with_suffix(".py")
        if not path.exists():
            path = target.joinpath(*parts[1:], "__init__.py")
        if not path.exists():
            raise GradingError(f"No module {module} for the reference {reference!r}")
        lines = path.read_text(encoding="utf-8").splitlines()
        nodes = [
            node
            for node in ast.parse("\n".join(lines)).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name
        ]
        if not nodes:
            raise GradingError(
                f"{module} defines no function or class {name!r} (reference {reference!r})"
            )
        node = nodes[0]
        start = min([node.lineno] + [item.lineno for item in node.decorator_list]) - 1
        message = (
            f"{reference} is the library's own answer to this exercise, so it is "
            "withheld while grading: a solution that calls it scores 0 for the "
            "exercise. Write it yourself."
        )
        stub = [
            f"def {name}(*args, **kwargs):",
            "    from lessonlib.grading.kernel import ReferenceWithheld",
            f"    raise ReferenceWithheld({message!r})",
        ]
        if isinstance(node, ast.ClassDef):
            stub = [
                f"class {name}:",
                "    def __init__(self, *args, **kwargs):",
                "        from lessonlib.grading.kernel import ReferenceWithheld",
                f"        raise ReferenceWithheld({message!r})",
            ]
        lines[start : node.end_lineno] = stub
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _stub(message):
    return f"raise RuntimeError({message!r})"


def student_notebook(plan, submission, judge):
    """The notebook run in the student's sandbox: the Setup cell, the given helpers, the
    student's solution cells, and at each check's place a cell that answers it.

    Returns:
        `(notebook, answer cells {cell index: part}, solution cells {cell index: exercise})`.
    """
    submitted = {}
    if submission is not None:
        for cell in submission.cells:
            meta = nbgrader_metadata(cell)
            if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id"):
                submitted.setdefault(meta["grade_id"], cell.source)
    checks = plan.check_cells()
    cells, answers, solutions = [], {}, {}
    first = True
    for index, cell in enumerate(plan.source.cells):
        if cell.cell_type != "code":
            continue
        meta = nbgrader_metadata(cell)
        grade_id = meta.get("grade_id")
        if first or is_given(cell):
            cells.append(nbformat.v4.new_code_cell(cell.source))
        elif grade_id in plan.solutions and not meta.get("grade"):
            solutions[len(cells)] = plan.solutions[grade_id]
            source = submitted.get(grade_id)
            if source is None:
                source = _stub(
                    f"The cell for exercise {grade_id!r} is missing from the "
                    "submission (deleted, or its nbgrader metadata changed)."
                )
            cells.append(nbformat.v4.new_code_cell(source))
        elif index in checks:
            for part in checks[index]:
                answers[len(cells)] = part
                cells.append(
                    nbformat.v4.new_code_cell(
                        f"__import__('lessonlib.grading.kernel', fromlist=['answer']).answer("
                        f"globals(), {str(judge.calls_path(part))!r})"
                    )
                )
        first = False
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(plan.source.metadata))
    return notebook, answers, solutions


def _run(notebook, skipped, options, deadline, folder, readable, overlay, answer_cells=()):
    """Execute the student's notebook once, in a new sandbox; return `(executed notebook,
    failed cell index or None, reason)`. Cells in `skipped` are replaced by the recorded
    error."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook = copy.deepcopy(notebook)
    for index, reason in skipped.items():
        notebook.cells[index].source = _stub(reason)
    run_folder = pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=folder))
    manager = _kernel_manager(options, run_folder, readable=readable, overlay=overlay)
    client = _client_class()(notebook, km=manager, timeout=options.cell_timeout, allow_errors=True)
    client.output_bytes = options.limits.output_kb * 1024
    client.answer_cells = answer_cells
    failed, reason = None, None
    try:
        with client.setup_kernel(
            cwd=str(run_folder), stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        ):
            for index, cell in enumerate(notebook.cells):
                if time.monotonic() > deadline:
                    failed, reason = index, "the notebook ran past its time limit before this cell"
                    break
                try:
                    client.execute_cell(cell, index)
                    # What a cell leaves behind (processes, memory, files) is its own doing.
                    why = manager.watchdog.check() if manager.watchdog else None
                    if why:
                        failed, reason = index, f"the sandbox was stopped because {why}"
                        break
                except CellTimeoutError:
                    failed = index
                    reason = f"this cell ran for more than {options.cell_timeout} s and was stopped"
                    break
                except DeadKernelError:
                    failed = index
                    why = manager.watchdog.reason if manager.watchdog else None
                    reason = (
                        f"the sandbox was stopped because {why}"
                        if why
                        else "the kernel died while this cell ran (os._exit, a crash, or "
                        "running out of memory)"
                    )
                    break
    except RuntimeError as error:  # the kernel did not start: no cell is to blame
        failed, reason = START_FAILED, f"the sandbox's kernel did not start: {str(error)[:200]}"
    finally:
        _shut_down(manager)
        shutil.rmtree(run_folder, ignore_errors=True)
    return notebook, failed, reason


@dataclasses.dataclass
class StudentRun:
    """What a student's sandbox gave back: answers per part (JSON text) or why there is none,
    and what went wrong in each exercise's solution cells."""

    answers: dict
    reasons: dict
    solution_errors: dict


def run_student(plan, submission, judge, options, overlay):
    """Run a submission's solutions and answers in a sandbox (again without a cell that
    stopped it, as often as needed)."""
    notebook, answer_cells, solution_cells = student_notebook(plan, submission, judge)
    deadline = time.monotonic() + options.notebook_timeout
    skipped = {}
    readable = [judge.calls_folder]
    starts = 0
    with tempfile.TemporaryDirectory(prefix="lessonlib-student-") as folder:
        while True:
            executed, failed, reason = _run(
                notebook,
                skipped,
                options,
                deadline,
                pathlib.Path(folder),
                readable,
                overlay,
                set(answer_cells),
            )
            if failed is None:
                break
            if failed == START_FAILED:
                starts += 1
                if starts < 3 and time.monotonic() < deadline:
                    continue
                for index in answer_cells:
                    skipped.setdefault(index, f"Not run: {reason}.")
                break
            if time.monotonic() > deadline or failed in skipped:
                for index in answer_cells:
                    if index >= failed:
                        skipped.setdefault(index, f"Not run: {reason}.")
                break
            skipped[failed] = f"Not run: {reason}."
    answers, reasons = {}, {}
    for index, part in answer_cells.items():
        cell = executed.cells[index]
        payloads = _payloads(cell)
        if index in skipped:
            reasons[part.index] = skipped[index]
        elif payloads and len(payloads[0]) <= ANSWER_BYTES:
            answers[part.index] = payloads[0]
        else:
            reasons[part.index] = (
                f"Your answers were not sent back: {_cell_error(cell) or 'the cell printed none'}"
            )
    solution_errors = {}
    for index, exercise in solution_cells.items():
        if index in skipped:
            problem = f"Your solution cell was stopped: {skipped[index][len('Not run: ') :]}"
        else:
            error = _cell_error(executed.cells[index])
            problem = error and f"Your solution cell raised {error}"
        if problem:
            solution_errors.setdefault(exercise, problem)
    return StudentRun(answers, reasons, solution_errors)


def results(plan, run, verdicts):
    """One `PartResult` per part, from the judge's verdicts and what the run says."""
    out = []
    for part in plan.parts:
        passed, message = verdicts.get(
            part.index, (False, run.reasons.get(part.index, "not graded"))
        )
        if not passed and part.exercise in run.solution_errors:
            message = run.solution_errors[part.exercise]
        out.append(
            PartResult(
                part.exercise,
                part.kind,
                part.points if passed else 0.0,
                part.points,
                passed,
                message,
            )
        )
    return out


def written_results(source, submission):
    """One `PartResult` per question of `source` answered in words: to be graded by hand, with
    what the student wrote; 0 points where nothing was (or `submission` is None)."""
    out = []
    for answer in find_written_answers(source):
        text = written_text(submission, answer)
        if text:
            out.append(
                PartResult(
                    answer.name, BY_HAND, None, answer.points, None, "to be graded by hand", text
                )
            )
        else:
            out.append(
                PartResult(answer.name, BY_HAND, 0.0, answer.points, False, "no answer written")
            )
    return out


def unreadable(plan, problem):
    return [
        PartResult(part.exercise, part.kind, 0.0, part.points, False, problem)
        for part in plan.parts
    ]


@contextlib.contextmanager
def judging(source, options, folder):
    """A started `Judge` for the instructor notebook `source`, and the private copy of
    `lessonlib` (references withheld) for the students' sandboxes."""
    folder = pathlib.Path(folder)
    plan = Plan.of(source, visible_only=options.visible_only)
    (folder / "judge").mkdir()
    judge = Judge(plan, folder / "judge", options)
    try:
        judge.start()
        overlay = withheld_copy(plan.references, folder / "student-lessonlib")
        yield plan, judge, overlay
    finally:
        judge.close()


def grade_notebook(source, submission, options=Options()):
    """Grade one submission (a NotebookNode, or None if it could not be read) against the
    instructor's notebook `source`.

    Returns:
        list of `PartResult`, one per graded part of each exercise, then one per written
        answer.
    """
    with (
        tempfile.TemporaryDirectory(prefix="lessonlib-grading-") as folder,
        judging(source, options, folder) as (plan, judge, overlay),
    ):
        run = run_student(plan, submission, judge, options, overlay)
        return results(plan, run, judge.judge(run.answers)) + written_results(source, submission)

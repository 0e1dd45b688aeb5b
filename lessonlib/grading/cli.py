"""`python -m lessonlib release | check | grade`: student versions, self-checks and grading."""

import argparse
import concurrent.futures
import csv
import dataclasses
import io
import json
import multiprocessing
import os
import pathlib
import stat
import sys
import tempfile
import time

import nbformat

from lessonlib.grading import grader, sandbox
from lessonlib.grading.exercises import NotebookError, find_exercises, read_notebook
from lessonlib.grading.release import release

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_NOTEBOOK_MB = 20
MAX_MESSAGE = 500
MAX_ANSWER = 10_000  # characters of a written answer kept for the instructor
FIELDS = [
    "student",
    "submission",
    "lesson",
    "exercise",
    "part",
    "points",
    "max_points",
    "passed",
    "message",
    "sandbox",
    "answer",
]


def read_submission(path, max_mb=MAX_NOTEBOOK_MB):
    """Read a submitted notebook safely: a regular file (not a link, FIFO or device) of at
    most `max_mb` megabytes, opened without following links and without blocking.

    Raises:
        NotebookError: saying what the file is and why it is refused.
    """
    path = pathlib.Path(path)
    try:
        info = os.lstat(path)
    except OSError as error:
        raise NotebookError(f"{path} cannot be read: {error.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise NotebookError(f"{path} is a symbolic link; only regular files are graded")
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else "a folder"
            if stat.S_ISDIR(info.st_mode)
            else "a device or socket"
        )
        raise NotebookError(f"{path} is {kind}; only regular files are graded")
    limit = max_mb * 2**20
    if info.st_size > limit:
        raise NotebookError(
            f"{path} is {info.st_size / 2**20:.0f} MB, above the limit of "
            f"{max_mb} MB for a notebook"
        )
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise NotebookError(f"{path} cannot be read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise NotebookError(f"{path} changed while it was read; only regular files are graded")
        raw = file.read(limit + 1)
    if len(raw) > limit:
        raise NotebookError(f"{path} is above the limit of {max_mb} MB for a notebook")
    try:
        return nbformat.read(io.StringIO(raw.decode("utf-8")), as_version=4)
    except Exception as error:  # JSON, encoding and nbformat's own errors
        raise NotebookError(f"{path} cannot be read as a notebook: {str(error)[:200]}") from None


def _lesson_for(submission, notebook, sources):
    """The instructor notebook a submission answers: by file name, else by its exercises."""
    for path in sources:
        if path.stem in submission.name or path.stem == submission.parent.name:
            return path
    if notebook is None:
        return None
    ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells}
    scores = {
        path: len(
            ids
            & {
                grade_id
                for exercise in find_exercises(read_notebook(path))
                for grade_id in exercise.solution_ids
            }
        )
        for path in sources
    }
    best = max(scores, key=scores.get, default=None)
    return best if best is not None and scores[best] > 0 else None


def _student(submission, lesson):
    """alice.ipynb -> alice; alice/04_x.ipynb -> alice; alice_04_x.ipynb -> alice."""
    if lesson is not None and submission.stem == lesson.stem:
        return submission.parent.name
    name = submission.stem
    if lesson is not None:
        name = name.replace(lesson.stem, "").strip("_- .")
    return name or submission.stem


def clean(value, limit=MAX_MESSAGE):
    """Text safe to print, store and encode: at most `limit` characters, no control
    characters (terminal escapes included), no bidirectional overrides, and no unencodable
    characters (lone surrogates)."""
    text = str(value)[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(
        " "
        if (ord(char) < 32 and char != "\n")
        or 127 <= ord(char) < 160
        or 0x202A <= ord(char) <= 0x202E
        or 0x2066 <= ord(char) <= 0x2069
        else char
        for char in text
    )


def csv_safe(value):
    """A cell a spreadsheet shows as text: a leading =, +, -, @ (a formula) gets a leading
    apostrophe."""
    text = clean(value, limit=10_000)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _row(student, submission, lesson, result, mode):
    row = {
        "student": clean(student, 200),
        "submission": clean(submission, 1000),
        "lesson": lesson,
        **dataclasses.asdict(result),
        "sandbox": mode,
    }
    row["message"] = clean(row["message"])
    row["answer"] = clean(row["answer"], limit=MAX_ANSWER)
    return row


def _table(rows):
    lines = [f"{'student':<16}{'exercise':<24}{'part':<9}{'points':>8}  {'':4}message"]
    for row in rows:
        mark = "hand" if row["passed"] is None else "ok" if row["passed"] else "FAIL"
        points = "   -" if row["points"] is None else f"{row['points']:>4.1f}"
        message = row["message"].replace("\n", " ")
        lines.append(
            f"{row['student'][:15]:<16}{row['exercise'][:23]:<24}{row['part']:<9}"
            f"{points}/{row['max_points']:<3.1f}  {mark:4} "
            f"{message[:90]}"
        )
    return "\n".join(lines)


def _totals(rows):
    """{student: (points, maximum, points still to be graded by hand)}."""
    totals = {}
    for row in rows:
        points, maximum, pending = totals.get(row["student"], (0.0, 0.0, 0.0))
        if row["points"] is None:
            pending += row["max_points"]
        else:
            points += row["points"]
        totals[row["student"]] = (points, maximum + row["max_points"], pending)
    return totals


def _student_task(task):
    """In a worker process: run one submission's sandbox; return what it answered."""
    plan, notebook, calls_folder, options, overlay = task

    class Calls:  # what `student_notebook` needs of the judge, without its kernel
        def calls_path(self, part):
            return calls_folder / f"{part.index}.json"

    calls = Calls()
    calls.calls_folder = calls_folder
    return grader.run_student(plan, notebook, calls, options, overlay)


def _write_atomically(path, text):
    path = pathlib.Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _sandbox_mode(no_sandbox):
    if no_sandbox:
        print(
            "warning: grading WITHOUT a sandbox (--no-sandbox): the students' code runs "
            "with your user's files and environment; the results record it.",
            file=sys.stderr,
        )
        return False, "none (--no-sandbox)"
    ok, why = sandbox.available()
    if not ok:
        raise ValueError(
            f"No sandbox is available: {why}. Install Bubblewrap, or pass "
            "--no-sandbox to grade without one (trusted submissions only)."
        )
    return True, "bubblewrap"


def grade(
    submissions,
    out,
    source,
    lesson=None,
    jobs=None,
    cell_timeout=grader.CELL_TIMEOUT,
    notebook_timeout=grader.NOTEBOOK_TIMEOUT,
    no_sandbox=False,
    limits=None,
    max_notebook_mb=MAX_NOTEBOOK_MB,
):
    """Grade submissions, each in a sandbox; write `out` (CSV) and the same rows as JSON
    beside it, once every sandbox is gone.

    Returns:
        list of result rows (dicts), one per graded part of each exercise of each submission.
    """
    for name, value in (
        ("jobs", jobs),
        ("cell_timeout", cell_timeout),
        ("notebook_timeout", notebook_timeout),
        ("max_notebook_mb", max_notebook_mb),
    ):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(
                f"`--{name.replace('_', '-')}` must be a positive integer. Received: {value!r}"
            )
    source = pathlib.Path(source)
    if not source.exists():
        raise ValueError(
            f"`--source` must be a notebook or a folder of notebooks. Received: --source={source}"
        )
    sources = sorted(source.glob("*.ipynb")) if source.is_dir() else [source]
    if lesson is not None:
        matches = [path for path in sources if path.stem == lesson or path.name == lesson]
        if not matches:
            raise ValueError(
                f"`--lesson` must name a notebook in {source}. Received: --lesson={lesson!r}"
            )
        sources = matches
    out = pathlib.Path(out)
    paths = [pathlib.Path(path) for path in submissions]
    if out.suffix.lower() in (".json", ".ipynb") or any(
        os.path.abspath(item) in (os.path.abspath(out), os.path.abspath(out.with_suffix(".json")))
        for item in paths + sources
    ):
        raise ValueError(
            f"`--out` must be a new CSV file, not a notebook, a submission or "
            f"the JSON file written beside it. Received: --out={out}"
        )
    use_sandbox, mode = _sandbox_mode(no_sandbox)
    hidden = tuple(str(pathlib.Path(path).resolve().parent) for path in paths) + (
        str(out.resolve().parent),
        str(source.resolve()),
    )
    options = grader.Options(
        use_sandbox, cell_timeout, notebook_timeout, limits or sandbox.Limits(), hidden
    )

    start = time.perf_counter()
    entries = []  # (path, student, lesson path or None, notebook or problem)
    for path in paths:
        notebook, problem = None, None
        try:
            if any(
                os.path.abspath(path) == os.path.abspath(item)
                or (path.exists() and os.path.samefile(path, item))
                for item in sources
            ):
                raise NotebookError(f"{path} is an instructor notebook, not a submission")
            notebook = read_submission(path, max_notebook_mb)
        except NotebookError as error:
            problem = str(error)
        match = sources[0] if lesson else _lesson_for(path, notebook, sources)
        entries.append([path, _student(path, match), match, notebook, problem])
    owners = {}
    for entry in entries:
        owners.setdefault(entry[1], []).append(entry)
    for student, owned in owners.items():
        if len(owned) > 1:
            print(
                f"warning: {len(owned)} submissions map to student {student!r} "
                f"({', '.join(str(entry[0]) for entry in owned)}); each is listed under "
                "its file name",
                file=sys.stderr,
            )
            for entry in owned:
                entry[1] = f"{student} [{entry[0]}]"

    rows = []
    jobs = max(1, jobs or os.cpu_count() or 1)
    for match in sorted({entry[2] for entry in entries if entry[2] is not None}):
        rows += _grade_lesson(
            match, [entry for entry in entries if entry[2] == match], options, jobs, mode
        )
    for path, student, match, _, problem in entries:
        if match is None:
            rows.append(
                {
                    "student": clean(student, 200),
                    "submission": clean(path, 1000),
                    "lesson": "",
                    "exercise": "(all)",
                    "part": "-",
                    "points": 0.0,
                    "max_points": 0.0,
                    "passed": False,
                    "sandbox": mode,
                    "message": clean(
                        problem or "Cannot tell which lesson this answers; pass --lesson."
                    ),
                }
            )
    order = {clean(entry[0], 1000): index for index, entry in enumerate(entries)}
    rows.sort(key=lambda row: order.get(row["submission"], len(order)))
    seconds = time.perf_counter() - start

    out.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(
        {key: csv_safe(value) if isinstance(value, str) else value for key, value in row.items()}
        for row in rows
    )
    _write_atomically(out, text.getvalue())
    _write_atomically(out.with_suffix(".json"), json.dumps(rows, indent=1))
    print(_table(rows))
    print()
    for student, (points, maximum, pending) in _totals(rows).items():
        by_hand = f", {pending:.1f} of them to be graded by hand" if pending else ""
        print(f"{student:<16}{points:>6.1f} / {maximum:.1f}{by_hand}")
    rate = len(paths) / seconds * 60 if seconds else float("inf")
    print(
        f"\ngraded {len(paths)} submissions in {seconds:.1f} s ({rate:.1f} per minute, "
        f"{jobs} in parallel, sandbox: {mode}); wrote {out} and {out.with_suffix('.json')}"
    )
    return rows


def _grade_lesson(lesson, entries, options, jobs, mode):
    """Grade the submissions of one lesson: one judge, then each submission's sandbox."""
    source = read_notebook(lesson)
    rows = []
    plan = grader.Plan.of(source)
    for path, student, _, _, problem in entries:
        if problem is not None:
            rows += [
                _row(student, path, lesson.stem, result, mode)
                for result in grader.unreadable(plan, problem)
                + grader.written_results(source, None)
            ]
    readable = [entry for entry in entries if entry[4] is None]
    if not readable:
        return rows
    with (
        tempfile.TemporaryDirectory(prefix="lessonlib-grading-") as folder,
        grader.judging(source, options, folder) as (plan, judge, overlay),
    ):
        tasks = {}
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            for entry in readable:
                tasks[
                    pool.submit(
                        _student_task, (plan, entry[3], judge.calls_folder, options, overlay)
                    )
                ] = entry
            for future in concurrent.futures.as_completed(tasks):
                path, student = tasks[future][:2]
                try:
                    run = future.result()
                    results = grader.results(plan, run, judge.judge(run.answers))
                except Exception as error:  # a worker that failed: this submission only
                    results = grader.unreadable(plan, f"Grading failed: {str(error)[:300]}")
                # Written answers are read from the notebook, never run.
                results += grader.written_results(source, tasks[future][3])
                rows += [_row(student, path, lesson.stem, result, mode) for result in results]
    return rows


def check(
    notebook,
    cell_timeout=grader.CELL_TIMEOUT,
    notebook_timeout=grader.NOTEBOOK_TIMEOUT,
    source=None,
):
    """Run a student's notebook against the lesson's visible checks; print which pass.

    The lesson is found among the instructor notebooks in `source` (the course's by default),
    by file name or by exercises. The student's code runs in a sandbox where one is
    available, and as an ordinary process otherwise (it is the student's own machine).
    """
    notebook = pathlib.Path(notebook)
    source = pathlib.Path(source or ROOT / "notebooks")
    sources = sorted(source.glob("*.ipynb")) if source.is_dir() else [source]
    submitted = read_submission(notebook)
    lesson = _lesson_for(notebook, submitted, sources)
    if lesson is None:
        raise ValueError(
            f"Cannot tell which lesson {notebook} answers: none of the "
            f"notebooks in {source} has its exercises. Pass --source."
        )
    use_sandbox = sandbox.available()[0]
    options = grader.Options(
        use_sandbox,
        cell_timeout,
        notebook_timeout,
        hidden=(str(notebook.resolve().parent),),
        visible_only=True,
    )
    results = grader.grade_notebook(read_notebook(lesson), submitted, options)
    rows = [{"student": notebook.stem, **dataclasses.asdict(result)} for result in results]
    rows = [{**row, "message": clean(row["message"])} for row in rows]
    print(_table(rows))
    checked = [row for row in rows if row["part"] != grader.BY_HAND]
    for row in checked:
        if not row["passed"]:
            print(f"\n{row['exercise']}:\n{row['message']}")
    passed = sum(row["passed"] for row in checked)
    print(f"\n{passed} of {len(checked)} checks pass.")
    written = [row for row in rows if row["part"] == grader.BY_HAND]
    if written:
        empty = [row["exercise"] for row in written if row["points"] == 0.0]
        print(
            f"{len(written)} written answers ({', '.join(row['exercise'] for row in written)}) "
            "are graded by hand by your instructor, not by this check"
            + (f"; still empty: {', '.join(empty)}." if empty else ".")
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lessonlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="write the student versions")
    release_parser.add_argument("source", help="a notebook or a folder of notebooks")
    release_parser.add_argument("--out", required=True, help="folder for the student versions")
    check_parser = commands.add_parser("check", help="which exercises of a notebook pass")
    check_parser.add_argument("notebook")
    check_parser.add_argument("--source", help="the instructor notebooks (default: the course's)")
    grade_parser = commands.add_parser("grade", help="grade submissions, each in a sandbox")
    grade_parser.add_argument("submissions", nargs="+")
    grade_parser.add_argument("--out", required=True, help="CSV file; JSON goes beside it")
    grade_parser.add_argument(
        "--source",
        default=str(ROOT / "notebooks"),
        help="the instructor notebooks (default: the course's)",
    )
    grade_parser.add_argument("--lesson", help="the lesson all submissions answer")
    grade_parser.add_argument("--jobs", type=int, help="parallel sandboxes (default: cores)")
    grade_parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run the students' code without a sandbox (trusted "
        "submissions only; recorded in the results)",
    )
    defaults = sandbox.Limits()
    for field in dataclasses.fields(sandbox.Limits):
        default = getattr(defaults, field.name)
        grade_parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=int,
            default=default,
            help=f"each sandbox's limit ({default})",
        )
    grade_parser.add_argument(
        "--max-notebook-mb",
        type=int,
        default=MAX_NOTEBOOK_MB,
        help="larger submissions are refused unread",
    )
    for sub in (check_parser, grade_parser):
        sub.add_argument("--cell-timeout", type=int, default=grader.CELL_TIMEOUT)
        sub.add_argument("--notebook-timeout", type=int, default=grader.NOTEBOOK_TIMEOUT)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "release":
            for path in release(arguments.source, arguments.out):
                print(f"wrote {path}")
        elif arguments.command == "check":
            check(
                arguments.notebook,
                arguments.cell_timeout,
                arguments.notebook_timeout,
                arguments.source,
            )
        else:
            limits = sandbox.Limits(
                **{
                    field.name: getattr(arguments, field.name)
                    for field in dataclasses.fields(sandbox.Limits)
                }
            )
            grade(
                arguments.submissions,
                arguments.out,
                arguments.source,
                arguments.lesson,
                arguments.jobs,
                arguments.cell_timeout,
                arguments.notebook_timeout,
                arguments.no_sandbox,
                limits,
                arguments.max_notebook_mb,
            )
    except (ValueError, NotebookError, grader.GradingError) as error:
        print(f"error: {clean(error, 4000)}", file=sys.stderr)
        return 2
    return 0

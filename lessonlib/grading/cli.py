"""`python -m lessonlib release | check | grade`: student versions, self-checks and grading."""

import argparse
import concurrent.futures
import csv
import dataclasses
import json
import os
import pathlib
import sys
import time

from lessonlib.grading import grader
from lessonlib.grading.exercises import NotebookError, find_exercises, read_notebook
from lessonlib.grading.release import release

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _lesson_for(submission, sources):
    """The instructor notebook a submission answers: by file name, else by its exercises."""
    for path in sources:
        if path.stem in submission.name or path.stem == submission.parent.name:
            return path
    try:
        submitted = read_notebook(submission)
    except NotebookError:
        return None
    ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in submitted.cells}
    best = max(sources, key=lambda path: len(ids & {
        grade_id for exercise in find_exercises(read_notebook(path))
        for grade_id in exercise.solution_ids}), default=None)
    return best


def _student(submission, lesson):
    """alice.ipynb -> alice; alice/04_x.ipynb -> alice; alice_04_x.ipynb -> alice."""
    if lesson is not None and submission.stem == lesson.stem:
        return submission.parent.name
    name = submission.stem
    if lesson is not None:
        name = name.replace(lesson.stem, "").strip("_- .")
    return name or submission.stem


def _grade_one(task):
    submission, lesson, cell_timeout, notebook_timeout = task
    student = _student(submission, lesson)
    if lesson is None:
        return [{"student": student, "submission": str(submission), "exercise": "(all)",
                 "part": "-", "points": 0.0, "max_points": 0.0, "passed": False,
                 "message": "Cannot tell which lesson this answers; pass --lesson."}]
    results = grader.grade_notebook(read_notebook(lesson), submission, cell_timeout,
                                    notebook_timeout)
    return [{"student": student, "submission": str(submission), "lesson": lesson.stem,
             **dataclasses.asdict(result)} for result in results]


def _table(rows):
    lines = [f"{'student':<16}{'exercise':<24}{'part':<9}{'points':>8}  {'':4}message"]
    for row in rows:
        mark = "ok" if row["passed"] else "FAIL"
        lines.append(f"{row['student'][:15]:<16}{row['exercise'][:23]:<24}{row['part']:<9}"
                     f"{row['points']:>4.1f}/{row['max_points']:<3.1f}  {mark:4} "
                     f"{row['message'][:90]}")
    return "\n".join(lines)


def _totals(rows):
    totals = {}
    for row in rows:
        points, maximum = totals.get(row["student"], (0.0, 0.0))
        totals[row["student"]] = (points + row["points"], maximum + row["max_points"])
    return totals


def grade(submissions, out, source, lesson=None, jobs=None, cell_timeout=grader.CELL_TIMEOUT,
          notebook_timeout=grader.NOTEBOOK_TIMEOUT):
    """Grade submissions in parallel; write `out` (CSV) and the same rows as JSON beside it.

    Returns:
        list of result rows (dicts), one per graded part of each exercise of each submission.
    """
    source = pathlib.Path(source)
    sources = sorted(source.glob("*.ipynb")) if source.is_dir() else [source]
    if lesson is not None:
        matches = [path for path in sources if path.stem == lesson or path.name == lesson]
        if not matches:
            raise ValueError(f"`--lesson` must name a notebook in {source}. "
                             f"Received: --lesson={lesson!r}")
        sources = matches
    out = pathlib.Path(out)
    paths = [pathlib.Path(path) for path in submissions]
    if any(path.resolve() == out.resolve() for path in paths):
        raise ValueError(f"`--out` must not be one of the submissions. Received: --out={out}")
    tasks = [(path, sources[0] if lesson else _lesson_for(path, sources), cell_timeout,
              notebook_timeout) for path in paths]
    jobs = jobs or os.cpu_count() or 1
    start = time.perf_counter()
    rows = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        for result in pool.map(_grade_one, tasks):
            rows.extend(result)
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["student", "submission", "lesson", "exercise", "part", "points", "max_points",
              "passed", "message"]
    with open(out, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(_table(rows))
    print()
    for student, (points, maximum) in _totals(rows).items():
        print(f"{student:<16}{points:>6.1f} / {maximum:.1f}")
    rate = len(paths) / seconds * 60 if seconds else float("inf")
    print(f"\ngraded {len(paths)} submissions in {seconds:.1f} s ({rate:.1f} per minute, "
          f"{jobs} in parallel); wrote {out} and {out.with_suffix('.json')}")
    return rows


def check(notebook, cell_timeout=grader.CELL_TIMEOUT, notebook_timeout=grader.NOTEBOOK_TIMEOUT):
    """Run a student's notebook and its visible checks; print which exercises would pass."""
    results = grader.grade_notebook(read_notebook(notebook), notebook, cell_timeout,
                                    notebook_timeout)
    rows = [{"student": pathlib.Path(notebook).stem, **dataclasses.asdict(result)}
            for result in results]
    print(_table(rows))
    passed = sum(result.passed for result in results)
    print(f"\n{passed} of {len(results)} checks pass.")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lessonlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="write the student versions")
    release_parser.add_argument("source", help="a notebook or a folder of notebooks")
    release_parser.add_argument("--out", required=True, help="folder for the student versions")
    check_parser = commands.add_parser("check", help="which exercises of a notebook pass")
    check_parser.add_argument("notebook")
    grade_parser = commands.add_parser("grade", help="grade submissions")
    grade_parser.add_argument("submissions", nargs="+")
    grade_parser.add_argument("--out", required=True, help="CSV file; JSON goes beside it")
    grade_parser.add_argument("--source", default=str(ROOT / "notebooks"),
                              help="the instructor notebooks (default: the course's)")
    grade_parser.add_argument("--lesson", help="the lesson all submissions answer")
    grade_parser.add_argument("--jobs", type=int, help="parallel gradings (default: cores)")
    for sub in (check_parser, grade_parser):
        sub.add_argument("--cell-timeout", type=int, default=grader.CELL_TIMEOUT)
        sub.add_argument("--notebook-timeout", type=int, default=grader.NOTEBOOK_TIMEOUT)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "release":
            for path in release(arguments.source, arguments.out):
                print(f"wrote {path}")
        elif arguments.command == "check":
            check(arguments.notebook, arguments.cell_timeout, arguments.notebook_timeout)
        else:
            grade(arguments.submissions, arguments.out, arguments.source, arguments.lesson,
                  arguments.jobs, arguments.cell_timeout, arguments.notebook_timeout)
    except (ValueError, NotebookError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0

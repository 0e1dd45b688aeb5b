"""Grading throughput, with the sandbox against without: N copies of one lesson, same run.

    python benchmarks/grading.py [--copies 20] [--lesson 00_getting_started] [--jobs N]
                                 [--rounds 2]

Each copy is the instructor version, so every exercise's visible and hidden checks are judged.
Each round grades all N copies twice, once with each student in a Bubblewrap sandbox and once
with `--no-sandbox` (in alternating order from round to round, so a drift of this shared
machine's speed does not favour one), as many at once as the machine has cores unless --jobs
says otherwise. Each grading includes its judge: one run of the instructor's notebook. The
table gives the wall time of each and the ratio of throughputs (goal: at least 0.8).
"""

import argparse
import contextlib
import io
import os
import pathlib
import statistics
import tempfile
import time

from lessonlib import runtime
from lessonlib.grading import cli, sandbox

ROOT = pathlib.Path(__file__).resolve().parents[1]


def timed_grade(paths, out, jobs, no_sandbox):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rows = cli.grade(paths, out, ROOT / "notebooks", jobs=jobs, no_sandbox=no_sandbox)
    return time.perf_counter() - start, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--lesson", default="00_getting_started")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    available, why = sandbox.available()
    if not available:
        raise SystemExit(f"no sandbox to measure: {why}")
    lesson = ROOT / "notebooks" / f"{args.lesson}.ipynb"
    print(runtime.describe())
    times = {True: [], False: []}
    full_marks = True
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        paths = []
        for index in range(args.copies):
            path = folder / f"student{index:02d}" / lesson.name
            path.parent.mkdir()
            path.write_bytes(lesson.read_bytes())
            paths.append(path)
        for round_ in range(args.rounds):
            for in_sandbox in (True, False) if round_ % 2 == 0 else (False, True):
                seconds, rows = timed_grade(
                    paths, folder / "out" / "grades.csv", args.jobs, no_sandbox=not in_sandbox
                )
                times[in_sandbox].append(seconds)
                # Written answers wait for the instructor (passed is None): not graded here.
                full_marks &= all(row["passed"] for row in rows if row["part"] != "by hand")
                print(
                    f"round {round_ + 1}, {'sandbox' if in_sandbox else 'no sandbox':<10}: "
                    f"{seconds:.1f} s",
                    flush=True,
                )
    print(
        f"\n{args.copies} copies of {lesson.name}, {args.jobs} in parallel, "
        f"{args.rounds} rounds (median)\n"
    )
    for in_sandbox, label in ((True, "in Bubblewrap sandboxes"), (False, "--no-sandbox")):
        seconds = statistics.median(times[in_sandbox])
        print(f"{label:<28}{seconds:>9.1f} s{args.copies / seconds * 60:>9.1f} per minute")
    ratio = statistics.median(times[False]) / statistics.median(times[True])
    print(f"{'throughput ratio (goal >= 0.8)':<28}{ratio:>9.2f}")
    print(f"every copy scored full marks: {full_marks}")


if __name__ == "__main__":
    main()

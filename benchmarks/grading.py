"""Grading throughput: N copies of one lesson graded in parallel, against one graded alone.

    python benchmarks/grading.py [--copies 20] [--lesson 00_getting_started] [--jobs N]

Each copy is the instructor version, so every exercise runs its checks and hidden tests. The
table gives the wall time of one submission alone, of all N in parallel (as many at once as
the machine has cores, unless --jobs says otherwise), the throughput, and the speed-up over
grading them one after another (N times the single time).
"""

import argparse
import contextlib
import io
import os
import pathlib
import tempfile
import time

from lessonlib import runtime
from lessonlib.grading import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def timed_grade(paths, out, jobs):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rows = cli.grade(paths, out, ROOT / "notebooks", jobs=jobs)
    return time.perf_counter() - start, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--lesson", default="00_getting_started")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    lesson = ROOT / "notebooks" / f"{args.lesson}.ipynb"
    print(runtime.describe())
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        paths = []
        for index in range(args.copies):
            path = folder / f"student{index:02d}" / lesson.name
            path.parent.mkdir()
            path.write_bytes(lesson.read_bytes())
            paths.append(path)
        single, _ = timed_grade(paths[:1], folder / "single.csv", jobs=1)
        wall, rows = timed_grade(paths, folder / "all.csv", jobs=args.jobs)
    full_marks = sum(row["passed"] for row in rows) == len(rows)
    print(f"\n{args.copies} copies of {lesson.name}, {args.jobs} in parallel\n")
    print(f"{'one submission alone':<36}{single:>9.1f} s")
    print(f"{f'{args.copies} submissions in parallel':<36}{wall:>9.1f} s")
    print(f"{'throughput':<36}{args.copies / wall * 60:>9.1f} per minute")
    print(f"{'speed-up over one after another':<36}{args.copies * single / wall:>9.2f}x")
    print(f"every copy scored full marks: {full_marks}")


if __name__ == "__main__":
    main()

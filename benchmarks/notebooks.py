"""Time every lesson, top to bottom, in fast and in full mode, and print a table.

    python benchmarks/notebooks.py                 # every notebook, both modes, Jupyter kernel
    python benchmarks/notebooks.py --mode fast     # the budget the test suite runs on
    python benchmarks/notebooks.py --runner script --backend jax   # without Jupyter (a GPU box)
    python benchmarks/notebooks.py --mode full --seeds 0 1 2       # do the claims hold at 3 seeds?

Each notebook runs in a fresh process: with `--runner kernel` (the default) through nbclient in
a new Jupyter kernel, as a student's JupyterLab runs it; with `--runner script` as its code cells
joined into one Python script, for machines without Jupyter. Wall time includes starting the
kernel and importing Keras, since a student waits for those too. Peak memory is the largest
resident set of the process that ran the lesson's code.

The whole fast-mode suite must stay under 5 minutes on a 2-core machine; the table says how
much of that budget it uses. Record results in benchmarks/RESULTS.md with the machine line.

With `--seeds`, each lesson runs once per seed (`LESSONLIB_SEED`, which `runtime.setup` uses in
place of the lesson's own seed), and the table says at which seeds it failed; under the table,
each failure's exception and message (a lesson's assertions say what was expected and what
came out).
"""

import argparse
import json
import os
import pathlib
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAST_SUITE_BUDGET_SECONDS = 300


def machine():
    """One line describing this machine: CPU model, cores, memory, and any GPU."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            model = next(
                line.split(":", 1)[1].strip() for line in file if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpus = ""
    try:
        names = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        gpus = ", GPU: " + ", ".join(names.split("\n")[:-1]) if names.strip() else ""
    except (OSError, subprocess.SubprocessError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {cores} cores, {memory:.0f} GiB, {platform.system()}, "
        f"Python {platform.python_version()}{gpus}"
    )


def notebook_as_script(path):
    """Join a notebook's code cells into a script (the lessons use no IPython magics)."""
    cells = json.loads(path.read_text())["cells"]
    return "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


ERROR_LINES = 8  # of a failing lesson's traceback, printed under the table
ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours the tracebacks it prints


def run_one(path, runner):
    """Run one notebook in this process's children; print seconds and peak memory as JSON."""
    start = time.perf_counter()
    if runner == "kernel":
        import nbformat
        from nbclient import NotebookClient

        class WithoutWidgets(NotebookClient):
            """Ignores widget (comm) messages rather than playing a widget front end. One
            lesson-01 run of three on JAX waited forever on an idle kernel, as the grader's
            judge did at a widget cell until its client ignored them too."""

            def process_message(self, msg, cell, cell_index):
                if str(msg.get("msg_type")).startswith("comm"):
                    return None
                return super().process_message(msg, cell, cell_index)

        notebook = nbformat.read(path, as_version=4)
        WithoutWidgets(
            notebook,
            timeout=3600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
            script.write(notebook_as_script(path))
        try:
            result = subprocess.run(
                [sys.executable, script.name],
                cwd=path.parent,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        finally:
            os.unlink(script.name)
        if result.returncode != 0:
            # The lesson's own traceback, not this wrapper's, is what says what went wrong.
            sys.stderr.write("\n".join(result.stderr.strip().splitlines()[-ERROR_LINES:]))
            sys.exit(result.returncode)
    seconds = time.perf_counter() - start
    # ru_maxrss of the children is the peak of the largest one: the kernel or the script.
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))


def measure(path, mode, runner, backend, seed=None):
    environment = dict(
        os.environ, LESSONLIB_FAST="1" if mode == "fast" else "0", TF_CPP_MIN_LOG_LEVEL="2"
    )
    environment.pop("LESSONLIB_SEED", None)
    if seed is not None:
        environment["LESSONLIB_SEED"] = str(seed)
    if backend:
        environment["KERAS_BACKEND"] = backend
    result = subprocess.run(
        [sys.executable, __file__, "--run-one", str(path), "--runner", runner],
        env=environment,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return {
            "seconds": float("nan"),
            "peak_mib": float("nan"),
            "error": "\n    ".join(
                ANSI_COLOURS.sub("", result.stderr).strip().splitlines()[-ERROR_LINES:]
            )
            or "failed",
        }
    return json.loads(result.stdout.strip().splitlines()[-1])


def exception_line(error):
    """The line of a traceback that names the exception, e.g. `AssertionError: ...`."""
    lines = [line.strip() for line in error.splitlines()]
    named = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)]
    return (named or lines or ["failed"])[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=pathlib.Path,
        help="notebooks to time (default: every notebook in notebooks/)",
    )
    parser.add_argument("--mode", choices=("fast", "full", "both"), default="both")
    parser.add_argument("--runner", choices=("kernel", "script"), default="kernel")
    parser.add_argument(
        "--backend",
        choices=("tensorflow", "jax", "torch"),
        default=None,
        help="KERAS_BACKEND for the lessons (default: the environment's)",
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=None,
        metavar="SEED",
        help="run each lesson at each of these seeds (LESSONLIB_SEED) instead of once at its own",
    )
    parser.add_argument("--run-one", type=pathlib.Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.run_one:
        run_one(arguments.run_one.resolve(), arguments.runner)
        return 0
    if arguments.seeds and min(arguments.seeds) < 0:
        parser.error(f"--seeds must be integers >= 0. Received: {arguments.seeds}")

    paths = arguments.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    modes = ("fast", "full") if arguments.mode == "both" else (arguments.mode,)
    seeds = arguments.seeds or [None]
    backend = arguments.backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"machine: {machine()}")
    print(f"backend: {backend}, runner: {arguments.runner}\n")
    header = (
        f"{'notebook':<32}{'seed':>6}"
        + "".join(f"{mode + ' s':>10}{mode + ' MiB':>11}" for mode in modes)
        + "  result"
    )
    print(header)
    print("-" * len(header))
    totals = dict.fromkeys(modes, 0.0)
    failures = []
    for path in paths:
        for seed in seeds:
            row = f"{path.name:<32}{'own' if seed is None else seed:>6}"
            failed = []
            for mode in modes:
                result = measure(path.resolve(), mode, arguments.runner, arguments.backend, seed)
                if "error" not in result:  # a failed run has no time
                    totals[mode] += result["seconds"]
                row += f"{result['seconds']:>10.1f}{result['peak_mib']:>11.0f}"
                if "error" in result:
                    failed.append(mode)
                    at = "" if seed is None else f", seed {seed}"
                    failures.append((f"{path.name} ({mode}{at})", result["error"]))
            print(row + ("  FAILED " + ", ".join(failed) if failed else "  ok"), flush=True)
    print("-" * len(header))
    print(
        f"{'total (runs that passed)':<38}"
        + "".join(f"{totals[mode]:>10.1f}{'':>11}" for mode in modes)
    )
    if "fast" in totals and seeds == [None]:
        share = totals["fast"] / FAST_SUITE_BUDGET_SECONDS
        print(
            f"\nfast-mode suite: {totals['fast']:.0f} s, {share:.0%} of the "
            f"{FAST_SUITE_BUDGET_SECONDS} s budget"
        )
    if failures:
        print(f"\n{len(failures)} failed:")
    for where, error in failures:
        print(f"  {where}: {exception_line(error)}")
    for where, error in failures:
        print(f"\nFAILED {where}:\n    {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Student versions and grading: full marks, zero, planted mistakes and hostile submissions.

The hostile submissions are real notebooks, graded in one run beside an honest one, on a
three-exercise lesson written here (seconds per submission); the real lessons are graded in
`test_grading_lessons.py`. Each attack is judged by what a sound grader gives: 0 for a wrong
answer however it is dressed up, nothing read or written outside the sandbox, resources
bounded, and every other submission graded as if the attack had not happened. A probe is a
submission whose `double` is right only if its attack found nothing, so its points say whether
the attack worked.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

import keras
import nbformat
import pytest

from lessonlib.grading import (
    cli,
    find_exercises,
    grade_notebook,
    grader,
    sandbox,
    student_version,
)
from lessonlib.grading.exercises import NotebookError, read_notebook, split_hidden_tests

# Grading refuses to run without a sandbox; `.ci/run` installs Bubblewrap.
needs_sandbox = pytest.mark.skipif(
    not sandbox.available()[0], reason=f"no sandbox here: {sandbox.available()[1]}"
)

# No Keras here, so that each of the 60 sandboxes starts in a second; the real lessons, with
# Keras, are graded in test_grading_lessons.py.
SETUP = "import numpy as np\n\nfrom lessonlib import checks"
GIVEN = "def halve(x):\n    return x / 2"
DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
D_STAR = (
    "def d_star(p_data, p_g):\n    ### BEGIN SOLUTION\n    return p_data / (p_data + p_g)\n"
    "    ### END SOLUTION"
)
CHECK_DOUBLE = """\
checks.assert_close(double(np.arange(3.0)), [0.0, 2.0, 4.0], name="double")
checks.assert_close(halve(double(np.arange(3.0))), np.arange(3.0), name="half of double")
print("Correct: double.")
### BEGIN HIDDEN TESTS
checks.assert_close(double(-1.5), -3.0, name="double of a negative number")
### END HIDDEN TESTS"""
CHECK_SQUARE = """\
checks.assert_close(square(np.arange(3.0)), [0.0, 1.0, 4.0], name="square")
print("Correct: square.")
### BEGIN HIDDEN TESTS
checks.assert_close(square(-2.0), 4.0, name="square of a negative number")
### END HIDDEN TESTS"""
CHECK_D_STAR = """\
checks.assert_close(d_star(np.array([0.4, 0.1]), np.array([0.1, 0.3])), [0.8, 0.25], name="D*")
print("Correct: D*.")
### BEGIN HIDDEN TESTS
checks.assert_close(d_star(np.array([1.0]), np.array([3.0])), [0.25], name="D* at one point")
### END HIDDEN TESTS"""
SECRET = "grader-secret-3f9c1b"
LIMITS = sandbox.Limits(memory_mb=2048, processes=32, threads=300, tmp_mb=64, output_kb=256)


def _meta(grade_id, solution=False, points=None, references=None):
    meta = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": points is not None,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    metadata = {"nbgrader": meta}
    if references:
        metadata["lessonlib"] = {"references": references}
    return metadata


def _lesson():
    code = nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# A small lesson\n\n## Setup"),
            code(SETUP),
            code(GIVEN, metadata={"tags": ["given"]}),
            code(DOUBLE, metadata=_meta("double", solution=True)),
            code(CHECK_DOUBLE, metadata=_meta("check_double", points=2)),
            code("lesson_state = 42"),
            code(SQUARE, metadata=_meta("square", solution=True)),
            code(CHECK_SQUARE, metadata=_meta("check_square", points=2)),
            code(D_STAR, metadata=_meta("d_star", solution=True)),
            code(
                CHECK_D_STAR,
                metadata=_meta(
                    "check_d_star",
                    points=2,
                    references=["lessonlib.gan_theory.optimal_discriminator"],
                ),
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def _with_solution(grade_id, source):
    notebook = _lesson()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return notebook


def _renamed(grade_id, new_id):
    notebook = _lesson()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.metadata["nbgrader"]["grade_id"] = new_id
    return notebook


WRONG = "def double(x):\n    return 3 * x\n"


def _probe(safe_code):
    """`double` is right only if `safe_code`, which sets SAFE, finds that the attack failed."""
    return (
        "import glob, os, sys\n"
        + safe_code
        + "\ndef double(x):\n    return 2 * x if SAFE else 3 * x"
    )


def _submissions(paths):
    """Every submission, honest and hostile, as {name: notebook}. `paths` holds the host
    paths an attacker would go for."""
    instructor, out, canary = paths["instructor"], paths["out"], paths["canary"]
    other = paths["other"]
    return {
        # Honest work and ordinary failures.
        "correct": _lesson(),
        "wrong_double": _with_solution("double", WRONG),
        "exception": _with_solution("double", "raise ValueError('oops')"),
        "infinite_loop": _with_solution("double", "while True:\n    pass"),
        "exit": _with_solution("double", "import os\nos._exit(3)"),
        "segfault": _with_solution("double", "import ctypes\nctypes.string_at(0)"),
        "killed": _with_solution(
            "double", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
        ),
        "renamed": _renamed("double", "my_double"),
        "deleted_names": _with_solution(
            "double", "def double(x):\n    return 2 * x\ndel np, checks"
        ),
        "uses_lesson_state": _with_solution(
            "double", "def double(x):\n    return 2 * x + 0 * lesson_state"
        ),
        # Marks for a wrong answer.
        "game_exec": _with_solution("double", "exec = lambda *args, **kwargs: None\n" + WRONG),
        "game_custom_exc": _with_solution(
            "double",
            WRONG + "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
        ),
        "game_transformer": _with_solution(
            "double",
            WRONG + "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
        ),
        "game_events": _with_solution(
            "double", WRONG + "get_ipython().events.register('post_run_cell', lambda result: None)"
        ),
        "game_showtraceback": _with_solution(
            "double", WRONG + "get_ipython().showtraceback = lambda *args, **kwargs: None"
        ),
        "game_numpy": _with_solution(
            "double",
            WRONG + "np.abs = lambda x: 0 * x\nnp.linalg.norm = lambda *args, **kwargs: 0.0",
        ),
        "game_keras_ops": _with_solution(
            "double", WRONG + "import keras\nkeras.ops.convert_to_numpy = lambda x: [0.0, 2.0, 4.0]"
        ),
        "game_sys_modules": _with_solution(
            "double",
            WRONG + "import sys, types\n"
            "fake = types.ModuleType('lessonlib.checks')\n"
            "fake.assert_close = lambda *args, **kwargs: None\n"
            "sys.modules['lessonlib.checks'] = fake\n"
            "checks = fake",
        ),
        "game_meta_path": _with_solution(
            "double",
            WRONG + "import sys\nclass Finder:\n"
            "    def find_spec(self, name, path=None, target=None):"
            "\n        raise ImportError(name)\n"
            "sys.meta_path.insert(0, Finder())",
        ),
        "game_import": _with_solution(
            "double",
            WRONG + "import builtins\n"
            "real = builtins.__import__\n"
            "builtins.__import__ = lambda name, *args, **kwargs: "
            "real('types') if 'lessonlib' in name else "
            "real(name, *args, **kwargs)",
        ),
        "game_assertion": _with_solution(
            "double",
            WRONG + "import builtins\n"
            "builtins.AssertionError = type('AssertionError', "
            "(Exception,), {})",
        ),
        "game_thread": _with_solution(
            "double",
            WRONG + "import threading, time\n"
            "def loop():\n    while True:\n"
            "        checks.assert_close = lambda *a, **k: None\n"
            "        time.sleep(0.001)\n"
            "threading.Thread(target=loop, daemon=True).start()",
        ),
        "game_signal": _with_solution(
            "double",
            WRONG + "import signal\n"
            "def handler(*args):\n"
            "    checks.assert_close = lambda *a, **k: None\n"
            "signal.signal(signal.SIGALRM, handler)\n"
            "signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)",
        ),
        "game_settrace": _with_solution(
            "double",
            WRONG + "import sys\n"
            "def tracer(frame, event, arg):\n"
            "    frame.f_globals['assert_close'] = "
            "lambda *a, **k: None\n    return tracer\n"
            "sys.settrace(tracer)",
        ),
        "game_given_helper": _with_solution(
            "double",
            "halve = lambda x: x / 3\n" + WRONG + "checks.assert_close = lambda *a, **k: None",
        ),
        "game_append_checks": _with_solution(
            "double",
            WRONG + "import lessonlib.checks\n"
            "try:\n    open(lessonlib.checks.__file__, 'a')."
            "write('\\nassert_close = lambda *a, **k: None\\n')"
            "\nexcept OSError:\n    pass",
        ),
        # The library's own answer.
        "reference_import": _with_solution(
            "d_star", "from lessonlib.gan_theory import optimal_discriminator as d_star"
        ),
        "reference_source": _with_solution(
            "d_star",
            "import inspect\n"
            "import lessonlib.gan_theory as theory\n"
            "source = inspect.getsource(theory)\n"
            "exec(source.replace('def optimal_discriminator', "
            "'def d_star'), globals())",
        ),
        # Reading what it must not.
        "probe_instructor": _with_solution(
            "double",
            _probe(
                f"import lessonlib\nSAFE = not os.path.exists({str(instructor)!r}) and not "
                "os.path.exists(os.path.join(os.path.dirname(os.path.dirname(lessonlib.__file__)),"
                " 'notebooks')) and not glob.glob('/tmp/**/*.ipynb', recursive=True)"
            ),
        ),
        "probe_cmdline": _with_solution(
            "double",
            _probe(
                "lines = [open(path, 'rb').read() for path in glob.glob('/proc/[0-9]*/cmdline')]\n"
                "SAFE = not any(b'pytest' in line or b'.ipynb' in line for line in lines)"
            ),
        ),
        "probe_environment": _with_solution(
            "double",
            _probe(
                "texts = [open(path, 'rb').read() for path in glob.glob('/proc/[0-9]*/environ')]\n"
                f"SAFE = {SECRET!r} not in str(os.environ) and not any("
                f"{SECRET.encode()!r} in text for text in texts)"
            ),
        ),
        "probe_other_submission": _with_solution(
            "double",
            _probe(
                f"SAFE = not os.path.exists({str(other)!r}) and not os.path.exists("
                f"{str(other.parent)!r})"
            ),
        ),
        "probe_hidden_tests": _with_solution(
            "double",
            "import glob, inspect, os\n"
            "def double(x):\n"
            "    seen = any('negative number' in repr("
            "frame.frame.f_code.co_consts) for frame in "
            "inspect.stack())\n"
            "    files = [path for path in glob.glob('/tmp/**',"
            " recursive=True) if os.path.isfile(path) and "
            "'negative number' in open(path, errors='ignore')"
            ".read()]\n"
            "    return 3 * x if seen or files else 2 * x",
        ),
        "probe_kernels": _with_solution(
            "double",
            _probe(
                "SAFE = len(glob.glob('/tmp/**/kernel*.json', recursive=True)) == 1 and not "
                "glob.glob('/root/**/kernel-*.json', recursive=True) and not os.path.exists("
                "'/run/user')"
            ),
        ),
        "probe_network": _with_solution(
            "double",
            _probe(
                "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
                "    SAFE = False\nexcept OSError:\n    SAFE = True"
            ),
        ),
        # Changing other grades, or stopping grading.
        "detached_writer": _with_solution(
            "double",
            "import subprocess\n"
            "subprocess.Popen(['sh', '-c', "
            f"'sleep 3; echo hacked > {out}'], "
            "start_new_session=True)\n"
            "subprocess.Popen(['sleep', '987'], "
            "start_new_session=True)\n"
            "def double(x):\n    return 2 * x",
        ),
        "kill_parent": _with_solution(
            "double",
            "import os, signal\n"
            "os.kill(os.getppid(), signal.SIGKILL)\n"
            "os.kill(os.getppid(), signal.SIGSTOP)\n"
            "def double(x):\n    return 2 * x",
        ),
        "kill_everything": _with_solution(
            "double",
            "import os, signal\n"
            "try:\n    os.kill(-1, signal.SIGKILL)\n"
            "except ProcessLookupError:\n    pass\n"
            "def double(x):\n    return 2 * x",
        ),
        "symlink_folders": _with_solution(
            "double",
            "import glob, os, shutil\n"
            "os.chdir('/')\n"
            "shutil.rmtree('/tmp/work', ignore_errors=True)\n"
            f"os.symlink({str(canary)!r}, '/tmp/work')\n"
            "for folder in glob.glob('/tmp/**/ipc', "
            "recursive=True):\n"
            f"    os.symlink({str(canary)!r}, folder + '/evil')\n"
            "def double(x):\n    return 2 * x",
        ),
        # Exhausting resources.
        "memory": _with_solution(
            "double", "import numpy as np\nhog = np.ones(3 * 2**30 // 8)\n" + WRONG
        ),
        "processes": _with_solution(
            "double",
            "import subprocess\n"
            "children = [subprocess.Popen(['sleep', '60']) "
            "for _ in range(60)]\n" + WRONG,
        ),
        "disk": _with_solution(
            "double",
            "import glob\n"
            "folder = glob.glob('/tmp/**/ipc', recursive=True)[0]\n"
            "for i in range(40):\n"
            "    open(f'{folder}/fill{i}', 'wb').write(bytes(2**21))\n"
            "    __import__('time').sleep(0.05)\n" + WRONG,
        ),
        "output": _with_solution(
            "double",
            "for _ in range(20):\n    print('x' * 2**20)\ndef double(x):\n    return 2 * x",
        ),
        "display_updates": _with_solution(
            "double",
            "from IPython.display import display, "
            "update_display\n"
            "handle = display('x', display_id=True)\n"
            "for _ in range(20):\n"
            "    update_display({'text/plain': 'x' * 2**20}, "
            "display_id=handle.display_id, raw=True)\n"
            "def double(x):\n    return 2 * x",
        ),
        "threads": _with_solution(
            "double",
            "import threading, time\n"
            "for _ in range(400):\n"
            "    threading.Thread(target=time.sleep, args=(60,), "
            "daemon=True).start()\n" + WRONG,
        ),
        "huge_answer": _with_solution("double", "def double(x):\n    return np.zeros(10**7)"),
        "probe_devices": _with_solution(
            "double",
            _probe(
                "SAFE = True\ntry:\n    open('/dev/evil', 'w')\n    SAFE = False\n"
                "except OSError:\n    pass\ntry:\n"
                "    open('/dev/shm/big', 'wb').write(bytes(100 * 2**20))\n    SAFE = False\n"
                "except OSError:\n    pass"
            ),
        ),
        "odd_text": _with_solution("double", "raise ValueError('\\x1b[31m=cmd\\u202e')"),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not sandbox.available()[0]:
        pytest.skip(f"no sandbox here: {sandbox.available()[1]}")
    if keras.backend.backend() != "tensorflow":
        # What the attacks aim at (the sandbox, the exchange of values, the verdicts) is the
        # same whatever Keras runs inside; the tests below the fixture grade a lesson on
        # every backend.
        pytest.skip(
            "the hostile submissions are graded under TensorFlow; grading itself is "
            "tested on every backend by the tests that follow"
        )
    folder = tmp_path_factory.mktemp("grading")
    source = folder / "source"
    source.mkdir()
    nbformat.write(_lesson(), source / "small_lesson.ipynb")
    submissions = folder / "submissions"
    submissions.mkdir()
    canary = folder / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("keep")
    out = folder / "out" / "grades.csv"
    paths = {
        "instructor": source / "small_lesson.ipynb",
        "out": out,
        "canary": canary,
        "other": submissions / "correct.ipynb",
    }
    for name, notebook in _submissions(paths).items():
        nbformat.write(notebook, submissions / f"{name}.ipynb")
    deleted = _lesson()
    deleted.cells = [
        cell
        for cell in deleted.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") != "double"
    ]
    nbformat.write(deleted, submissions / "deleted_cell.ipynb")
    nbformat.write(student_version(_lesson()), submissions / "student_version.ipynb")
    (submissions / "not_json.ipynb").write_text("{ this is not a notebook")
    big = _lesson()
    big.cells.append(nbformat.v4.new_markdown_cell("x" * 25 * 2**20))
    nbformat.write(big, submissions / "big.ipynb")
    os.mkfifo(submissions / "fifo.ipynb")
    os.symlink("/etc/passwd", submissions / "link.ipynb")
    nbformat.write(_lesson(), submissions / "=HYPERLINK(1).ipynb")
    paths = sorted(submissions.glob("*.ipynb"))
    before = {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in paths
        if path.is_file() and not path.is_symlink()
    }
    checks_file = pathlib.Path(grader.LESSONLIB, "checks.py")
    checks_digest = hashlib.sha256(checks_file.read_bytes()).hexdigest()
    os.environ["LESSONLIB_TEST_SECRET"] = SECRET
    cwd = os.getcwd()
    os.chdir(folder)  # a submission writing "grades.csv" must not touch the real one
    start = time.monotonic()
    try:
        # 30 s per cell: the Setup cell imports Keras and its backend, which can take 10 s
        # on a loaded machine; the infinite loop costs that much once.
        rows = cli.grade(
            paths,
            out,
            source,
            lesson="small_lesson",
            jobs=2,
            cell_timeout=30,
            notebook_timeout=120,
            limits=LIMITS,
        )
    finally:
        os.chdir(cwd)
        del os.environ["LESSONLIB_TEST_SECRET"]
    seconds = time.monotonic() - start
    time.sleep(4)  # the detached writer would have written by now
    by_student = {}
    for row in rows:
        by_student.setdefault(row["student"], {})[(row["exercise"], row["part"])] = row
    return {
        "rows": by_student,
        "all_rows": rows,
        "out": out,
        "before": before,
        "folder": folder,
        "canary": canary,
        "checks": (checks_file, checks_digest),
        "seconds": seconds,
    }


def _points(results, exercise):
    return sum(row["points"] for (name, _), row in results.items() if name == exercise)


def _full(results):
    return {name: _points(results, name) for name in ("double", "square", "d_star")}


def test_the_instructor_version_gets_full_marks(graded):
    results = graded["rows"]["correct"]
    assert _full(results) == {"double": 2, "square": 2, "d_star": 2}
    assert results[("double", "visible")]["message"] == "Correct: double."
    assert all(row["sandbox"] == "bubblewrap" for row in graded["all_rows"])


def test_the_student_version_scores_zero_with_not_implemented(graded):
    results = graded["rows"]["student_version"]
    assert all(row["points"] == 0 for row in results.values())
    assert all("NotImplementedError" in row["message"] for row in results.values())


def test_a_wrong_exercise_loses_exactly_its_points(graded):
    results = graded["rows"]["wrong_double"]
    assert _full(results) == {"double": 0, "square": 2, "d_star": 2}
    assert "Your double differs" in results[("double", "visible")]["message"]


@pytest.mark.parametrize(
    "case, words",
    [
        ("exception", "ValueError: oops"),
        ("infinite_loop", "more than 30 s"),
        ("exit", "kernel died"),
        ("segfault", "kernel died"),
        ("killed", "kernel died"),
        ("deleted_cell", "missing from the submission"),
        ("renamed", "missing from the submission"),
        ("memory", "more than 2048 MB of memory"),
        ("processes", "more than 32 processes"),
        ("disk", "more than 64 MB of files"),
        ("uses_lesson_state", "pass what they need as arguments"),
        ("threads", "more than 300 threads"),
        ("huge_answer", "above the grader's limit of 4 MB"),
        ("odd_text", "ValueError"),
    ],
)
def test_a_broken_exercise_costs_only_its_own_points(graded, case, words):
    results = graded["rows"][case]
    assert _points(results, "double") == 0
    assert _points(results, "square") == 2, f"{case}: the other exercises must still be graded"
    assert words in results[("double", "visible")]["message"]


@pytest.mark.parametrize(
    "case",
    [
        "game_exec",
        "game_custom_exc",
        "game_transformer",
        "game_events",
        "game_showtraceback",
        "game_numpy",
        "game_keras_ops",
        "game_sys_modules",
        "game_meta_path",
        "game_import",
        "game_assertion",
        "game_thread",
        "game_signal",
        "game_settrace",
        "game_given_helper",
        "game_append_checks",
    ],
)
def test_no_trick_gets_marks_for_a_wrong_answer(graded, case):
    results = graded["rows"][case]
    assert _points(results, "double") == 0, f"{case} got marks for 3 * x"
    # The judge's words: the check's failure, or (the input transformer turned every later
    # cell into `pass`) that no answer came back.
    assert results[("double", "visible")]["message"].startswith("Your")


def test_deleting_names_the_checks_need_does_not_break_them(graded):
    assert _full(graded["rows"]["deleted_names"]) == {"double": 2, "square": 2, "d_star": 2}


def test_calling_the_librarys_own_answer_scores_zero_with_a_reason(graded):
    for case in ("reference_import", "reference_source"):
        results = graded["rows"][case]
        assert _full(results) == {"double": 2, "square": 2, "d_star": 0}, case
        message = results[("d_star", "visible")]["message"]
        assert "ReferenceWithheld" in message and "library's own answer" in message, message


@pytest.mark.parametrize(
    "case",
    [
        "probe_instructor",
        "probe_cmdline",
        "probe_environment",
        "probe_other_submission",
        "probe_hidden_tests",
        "probe_kernels",
        "probe_network",
        "probe_devices",
    ],
)
def test_the_sandbox_shows_nothing_the_student_may_not_see(graded, case):
    assert _points(graded["rows"][case], "double") == 2, f"{case}: the attack saw something"


@pytest.mark.parametrize(
    "case",
    [
        "detached_writer",
        "kill_parent",
        "kill_everything",
        "symlink_folders",
        "output",
        "display_updates",
    ],
)
def test_attacks_on_the_grader_change_nothing_else(graded, case):
    assert _full(graded["rows"][case]) == {"double": 2, "square": 2, "d_star": 2}


def test_nothing_outlives_the_sandboxes(graded):
    assert graded["out"].read_text().startswith("student,"), "the detached writer wrote"
    alive = subprocess.run(["pgrep", "-f", "sleep 987"], capture_output=True, text=True)
    assert alive.stdout.strip() == "", "a detached process outlived grading"
    assert (graded["canary"] / "keep.txt").read_text() == "keep"
    path, digest = graded["checks"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, "lessonlib changed"


def test_unsafe_files_are_refused_unread_and_quickly(graded):
    rows = graded["rows"]
    for case, words in [
        ("big", "above the limit of 20 MB"),
        ("fifo", "is a FIFO"),
        ("link", "symbolic link"),
        ("not_json", "cannot be read as a notebook"),
    ]:
        assert all(row["points"] == 0 for row in rows[case].values()), case
        assert all(words in row["message"] for row in rows[case].values()), (case, words)
    # The whole run, 50 submissions, did not wait on the FIFO or parse 25 MB per check.
    assert graded["seconds"] < 900


def test_results_are_safe_to_open_in_a_spreadsheet(graded):
    with open(graded["out"], newline="") as file:
        text = file.read()
    assert "'=HYPERLINK(1)" in text and "\n=HYPERLINK" not in text and ",=" not in text
    assert _full(graded["rows"]["=HYPERLINK(1)"]) == {"double": 2, "square": 2, "d_star": 2}
    assert all(len(row["message"]) <= cli.MAX_MESSAGE for row in graded["all_rows"])
    # A terminal escape and a bidirectional override in an error message: written, harmless.
    assert "=cmd" in text and "\x1b" not in text and "\u202e" not in text
    # The judge names a failed hidden check, as the lesson's check names it, and nothing
    # of its source or of the grader's environment.
    assert SECRET not in text and "assert_close" not in text and "HIDDEN" not in text


def test_grading_writes_nothing_outside_its_outputs(graded):
    for path, digest in graded["before"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} changed"
    assert not (graded["folder"] / "grades.csv").exists()
    saved = json.loads(graded["out"].with_suffix(".json").read_text())
    assert len(saved) == len(graded["all_rows"])
    leftovers = list(graded["out"].parent.glob(".grades*"))
    assert leftovers == [], "a temporary file of the atomic write was left"


@needs_sandbox
@pytest.mark.parametrize(
    "flood",
    [
        "for _ in range(20):\n    print('x' * 2**20)",
        "from IPython.display import display, update_display\n"
        "handle = display('x', display_id=True)\nfor _ in range(20):\n"
        "    update_display({'text/plain': 'x' * 2**20}, display_id=handle.display_id, raw=True)",
        "from IPython.display import display\nfor _ in range(20):\n"
        f"    display({{{grader.kernel.MIME!r}: 'x' * 2**20}}, raw=True)",
        "print('x' * 50 * 2**20)",  # one message, under the 64 MiB a socket accepts
    ],
)
def test_the_grader_keeps_only_a_capped_amount_of_output(tmp_path, flood):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(flood), nbformat.v4.new_code_cell("print('after')")],
        metadata=_lesson().metadata,
    )
    options = grader.Options(cell_timeout=60, limits=sandbox.Limits(output_kb=256))
    executed, failed, _ = grader._run(
        notebook, {}, options, time.monotonic() + 120, tmp_path, (), None
    )
    kept = len(json.dumps([cell.outputs for cell in executed.cells]))
    assert failed is None and kept <= 300 * 1024, kept
    # Streams and displays past the budget leave a note; grading payloads outside an answer
    # cell are dropped without one.
    assert "dropped by the grader" in json.dumps(executed.cells[0].outputs) or kept < 1000
    # The kernel goes on: the next cell ran (its output is past the budget, so not kept).
    assert executed.cells[1].execution_count is not None


def test_exercises_and_hidden_tests_are_found():
    exercises = find_exercises(_lesson())
    assert [(e.name, e.check_id, e.points, e.has_hidden_tests) for e in exercises] == [
        ("double", "check_double", 2.0, True),
        ("square", "check_square", 2.0, True),
        ("d_star", "check_d_star", 2.0, True),
    ]
    assert exercises[2].references == ("lessonlib.gan_theory.optimal_discriminator",)
    visible, hidden = split_hidden_tests(CHECK_DOUBLE)
    assert "-1.5" in hidden and "-1.5" not in visible and "arange" in visible


def test_student_version_clears_solutions_and_hidden_tests():
    student = student_version(_lesson())
    sources = "\n".join(cell.source for cell in student.cells)
    assert "return 2 * x" not in sources and "BEGIN HIDDEN TESTS" not in sources
    assert "# YOUR CODE HERE" in sources and "raise NotImplementedError()" in sources
    assert student.cells[4].metadata["tags"] == ["raises-exception"]
    assert student.cells[3].metadata["nbgrader"]["solution"] is True


def test_release_refuses_to_write_into_the_instructor_folder(tmp_path):
    nbformat.write(_lesson(), tmp_path / "lesson.ipynb")
    with pytest.raises(ValueError, match="outside the instructor notebooks"):
        cli.release(tmp_path, tmp_path / "release")
    assert (
        cli.main(
            [
                "release",
                str(tmp_path / "lesson.ipynb"),
                "--out",
                str(tmp_path.parent / (tmp_path.name + "_release")),
            ]
        )
        == 0
    )


def test_read_notebook_names_the_problem(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("[1, 2]")
    with pytest.raises(NotebookError, match="bad.ipynb"):
        read_notebook(bad)


@needs_sandbox
def test_grade_notebook_on_a_correct_lesson_directly():
    results = grade_notebook(
        _lesson(), _lesson(), grader.Options(cell_timeout=30, notebook_timeout=60)
    )
    assert [result.passed for result in results] == [True] * 6


@needs_sandbox
def test_the_notebook_time_limit_stops_grading_with_a_reason():
    slow = _with_solution("double", "import time\ntime.sleep(8)\ndef double(x):\n    return 2 * x")
    # The cell limit (20 s) lets the sleep finish; the notebook limit (5 s) does not.
    results = grade_notebook(_lesson(), slow, grader.Options(cell_timeout=20, notebook_timeout=5))
    assert not any(result.passed for result in results[2:])
    assert all("time limit" in result.message for result in results[2:])


@needs_sandbox
def test_a_lesson_whose_own_solution_fails_its_check_is_refused():
    broken = _with_solution("square", "def square(x):\n    return x + x")
    with pytest.raises(grader.GradingError, match="instructor's solution fails its own check"):
        grade_notebook(broken, _lesson(), grader.Options(cell_timeout=30, notebook_timeout=60))


# A check that reaches the exercise through a function defined elsewhere would call the
# instructor's answer when grading, and pass every student: the judge refuses the lesson.
REACHES_DOUBLE = {
    "a helper from the visible tests, called in the hidden tests": (
        "def twice(x):\n    return double(x)\n"
        "checks.assert_close(twice(1.0), 2.0, name='double')\n"
        "### BEGIN HIDDEN TESTS\nchecks.assert_close(twice(-1.5), -3.0, name='double')\n"
        "### END HIDDEN TESTS"
    ),
    "a helper from an earlier cell": (
        "checks.assert_close(through_a_cell(1.0), 2.0, name='double')\n"
        "### BEGIN HIDDEN TESTS\nchecks.assert_close(double(-1.5), -3.0, name='double')\n"
        "### END HIDDEN TESTS"
    ),
    "a helper whose error the check catches": (
        "try:\n    value = through_a_cell(1.0)\nexcept Exception:\n    value = 2.0\n"
        "checks.assert_close(value, 2.0, name='double')\n"
        "### BEGIN HIDDEN TESTS\nchecks.assert_close(double(-1.5), -3.0, name='double')\n"
        "### END HIDDEN TESTS"
    ),
}


@needs_sandbox
@pytest.mark.parametrize("case", sorted(REACHES_DOUBLE))
def test_a_check_that_reaches_the_exercise_elsewhere_is_refused(case):
    lesson = _with_solution("check_double", REACHES_DOUBLE[case])
    lesson.cells.insert(
        2, nbformat.v4.new_code_cell("def through_a_cell(x):\n    return double(x)")
    )
    with pytest.raises(grader.GradingError, match="through a function defined outside"):
        grade_notebook(lesson, _lesson(), grader.Options(cell_timeout=30, notebook_timeout=60))


def _with_wrong_double(notebook):
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "double":
            cell.source = WRONG
    return notebook


@needs_sandbox
def test_a_solution_may_use_an_earlier_solution():
    # The instructor's square calls the instructor's double while the check records; the
    # student's square calls the student's double in the sandbox.
    uses_double = (
        "def square(x):\n    ### BEGIN SOLUTION\n    return double(x) * x / 2\n    ### END SOLUTION"
    )
    lesson = _with_solution("square", uses_double)
    wrong = _with_wrong_double(_with_solution("square", uses_double))
    options = grader.Options(cell_timeout=30, notebook_timeout=60)
    assert [result.passed for result in grade_notebook(lesson, lesson, options)] == [True] * 6
    # 3x for 2x: double's checks fail and so does square, which uses it.
    assert [result.passed for result in grade_notebook(lesson, wrong, options)][:4] == [False] * 4


@needs_sandbox
def test_a_helper_given_the_exercise_as_an_argument_is_graded():
    helper = (
        "def twice(function, x):\n    return function(x)\n"
        "checks.assert_close(twice(double, 1.0), 2.0, name='double')\n"
        "### BEGIN HIDDEN TESTS\nchecks.assert_close(twice(double, -1.5), -3.0, name='double')\n"
        "### END HIDDEN TESTS"
    )
    lesson = _with_solution("check_double", helper)
    wrong = _with_wrong_double(_with_solution("check_double", helper))
    options = grader.Options(cell_timeout=30, notebook_timeout=60)
    assert [result.passed for result in grade_notebook(lesson, lesson, options)][:2] == [True] * 2
    assert [result.passed for result in grade_notebook(lesson, wrong, options)][:2] == [False] * 2


@needs_sandbox
def test_check_tells_a_student_which_exercises_pass(tmp_path, capsys):
    source = tmp_path / "source" / "small_lesson.ipynb"
    source.parent.mkdir()
    nbformat.write(_lesson(), source)
    path = tmp_path / "mine_small_lesson.ipynb"
    nbformat.write(_with_solution("square", "def square(x):\n    return x + x"), path)
    assert (
        cli.main(["check", str(path), "--source", str(source.parent), "--cell-timeout", "30"]) == 0
    )
    out = capsys.readouterr().out
    assert "2 of 3 checks pass." in out
    assert "Your square differs" in out and "hidden" not in out


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    source = tmp_path / "small_lesson.ipynb"
    nbformat.write(_lesson(), source)
    submission = tmp_path / "alice_small_lesson.ipynb"
    nbformat.write(_with_solution("double", WRONG), submission)
    monkeypatch.setattr(sandbox, "_AVAILABLE", (False, "`bwrap` is not installed"))
    assert (
        cli.main(
            [
                "grade",
                str(submission),
                "--source",
                str(source),
                "--out",
                str(tmp_path / "grades.csv"),
            ]
        )
        == 2
    )
    assert "--no-sandbox" in capsys.readouterr().err
    assert not (tmp_path / "grades.csv").exists()
    rows = cli.grade(
        [submission],
        tmp_path / "grades.csv",
        source,
        no_sandbox=True,
        cell_timeout=30,
        notebook_timeout=60,
    )
    assert "WITHOUT a sandbox" in capsys.readouterr().err
    assert {row["sandbox"] for row in rows} == {"none (--no-sandbox)"}
    assert _full({(row["exercise"], row["part"]): row for row in rows}) == {
        "double": 0,
        "square": 2,
        "d_star": 2,
    }


@needs_sandbox
def test_two_files_of_one_student_are_both_listed(tmp_path, capsys):
    source = tmp_path / "small_lesson.ipynb"
    nbformat.write(_lesson(), source)
    for folder in ("a", "b"):
        (tmp_path / folder / "alice").mkdir(parents=True)
        nbformat.write(_lesson(), tmp_path / folder / "alice" / "small_lesson.ipynb")
    paths = sorted(tmp_path.glob("*/alice/small_lesson.ipynb"))
    rows = cli.grade(paths, tmp_path / "grades.csv", source, cell_timeout=30, notebook_timeout=60)
    assert "2 submissions map to student 'alice'" in capsys.readouterr().err
    assert len({row["student"] for row in rows}) == 2


@needs_sandbox
def test_an_instructor_notebook_is_not_graded_as_a_submission(tmp_path):
    source = tmp_path / "small_lesson.ipynb"
    nbformat.write(_lesson(), source)
    rows = cli.grade(
        [source], tmp_path / "out" / "grades.csv", source, cell_timeout=30, notebook_timeout=60
    )
    assert all(row["points"] == 0 and "instructor notebook" in row["message"] for row in rows)


def test_the_worker_entry_point_is_importable_again():
    # Grading's worker processes start by importing `python -m lessonlib`'s module again;
    # it must not run the command line when imported.
    result = subprocess.run(
        [sys.executable, "-c", "import lessonlib.__main__"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-500:]

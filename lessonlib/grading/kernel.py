"""What runs inside the grading kernels: the judge's record and replay, the student's answers.

Grading splits each check in two. The judge's kernel runs the instructor's notebook; at each
check it runs the check's code with the exercise's functions wrapped, and `record`s every call
the check makes to them (the arguments) and what the instructor's solution returned. The
student's kernel never runs a check: it only `answer`s, calling the student's functions with
those recorded arguments and sending back what they return, as data. The judge then `replay`s
the check's code from the state it had at the check, with the exercise's functions replaced by
the student's recorded answers: the lesson's own assertions, tolerances and messages decide,
in a process that never ran the student's code.
"""

import contextlib
import copy
import hashlib
import io
import json
import sys
import types

import numpy as np

from lessonlib.grading import exchange

MIME = "application/x-lessonlib-grading+json"
MAX_MESSAGE = 500
MAX_ANSWER_BYTES = 4 * 2**20  # all of one check's answers, as JSON

_parts = {}


class SolutionError(Exception):
    """The student's function raised, or returned nothing, for a call a check made."""


class ReferenceWithheld(RuntimeError):
    """The library's own answer to an exercise, called while that exercise is graded."""


class JudgeError(Exception):
    """A check that cannot be judged: the lesson's state changed between recording and replay,
    or the check reaches an exercise's function other than through its own code."""


def _emit(payload):
    from IPython.display import display

    display({MIME: json.dumps(payload)}, raw=True)


def _copy(value, depth=0):
    """A private copy of the data a check may change (arrays, random generators, and the
    lists, tuples and dicts that hold them); the same object for everything else (modules,
    functions, models)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return copy.deepcopy(value)
    if depth < 8 and type(value) in (list, tuple, dict):
        if isinstance(value, dict):
            return {key: _copy(item, depth + 1) for key, item in value.items()}
        return type(value)(_copy(item, depth + 1) for item in value)
    return value


def _snapshot(namespace):
    """The notebook's variables as a check found them (IPython's own history left out)."""
    return {
        key: _copy(value)
        for key, value in namespace.items()
        if not key.startswith("_") and key not in ("In", "Out", "exit", "quit")
    }


def _fingerprint(args, kwargs):
    data = exchange.to_data([list(args), kwargs])
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _signature(name, args, kwargs):
    def short(value):
        if isinstance(value, np.ndarray):
            return f"<array {value.shape}>"
        text = repr(value)
        return text if len(text) <= 20 else text[:17] + "..."

    items = [short(arg) for arg in args] + [f"{key}={short(arg)}" for key, arg in kwargs.items()]
    return f"{name}({', '.join(items)})"


def _run(code, scope):
    """Run a check's code; return `(passed, message)` in the words of the lesson's checks."""
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, "<check>", "exec"), scope)
    except AssertionError as failure:  # CheckFailed is an AssertionError
        message = str(failure) or "an assertion in the check failed"
        return False, message[:MAX_MESSAGE]
    except SolutionError as failure:
        return False, str(failure)[:MAX_MESSAGE]
    except JudgeError:
        raise
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"[:MAX_MESSAGE]
    lines = [line for line in output.getvalue().splitlines() if line.strip()]
    return True, (lines[-1][:300] if lines else "passed")


_called_elsewhere = set()  # exercise functions a check reached through another function


def _elsewhere(name):
    _called_elsewhere.add(name)  # raised, and noted in case the check catches the error
    return JudgeError(
        f"the check calls {name} through a function defined outside its own code (in an "
        f"earlier part of the check or in a cell), which would call the instructor's {name} "
        f"when grading: pass {name} to that function as an argument, or call it in the "
        "check's own code"
    )


_solving = [0]  # how deep the instructor's solutions are running inside a check's calls


class _Elsewhere:
    """Stands for an exercise's function in the notebook's namespace while a check records:
    a helper defined in a cell that calls the exercise finds this, not the instructor's. The
    instructor's solutions, called through the check's recorders, may use each other."""

    def __init__(self, name, function):
        self.name, self.function = name, function

    def __call__(self, *args, **kwargs):
        if _solving[0]:
            return self.function(*args, **kwargs)
        raise _elsewhere(self.name)


class _Recorder:
    def __init__(self, name, function, calls, answers):
        self.name, self.function, self.calls, self.answers = name, function, calls, answers
        self.closed = False  # after its part: a function that kept it is called elsewhere

    def __call__(self, *args, **kwargs):
        if self.closed:
            raise _elsewhere(self.name)
        try:
            arguments = {"args": exchange.to_data(list(args)), "kwargs": exchange.to_data(kwargs)}
        except exchange.ExchangeError as error:
            raise JudgeError(
                f"the check passes {self.name} something that cannot be sent to "
                f"the student's sandbox: {error}"
            ) from None
        self.calls.append({"name": self.name, **arguments})
        fingerprint = _fingerprint(args, kwargs)
        _solving[0] += 1
        try:
            result = self.function(*args, **kwargs)
        except Exception as error:
            self.answers.append(
                (
                    fingerprint,
                    self.name,
                    {"ok": False, "error": f"{type(error).__name__}: {error}"[:400]},
                )
            )
            raise
        finally:
            _solving[0] -= 1
        self.answers.append(
            (fingerprint, self.name, {"ok": True, "value": exchange.to_data(result)})
        )
        return result


class _Replayer:
    def __init__(self, name, recorded, answers, position):
        self.name, self.recorded, self.answers, self.position = name, recorded, answers, position

    def __call__(self, *args, **kwargs):
        index = self.position[0]
        self.position[0] += 1
        if index >= len(self.recorded) or self.recorded[index][:2] != (
            _fingerprint(args, kwargs),
            self.name,
        ):
            raise JudgeError(
                f"the check's call {index} of {self.name} differs from the one "
                "recorded: the lesson changed state it reads after the check ran"
            )
        signature = _signature(self.name, args, kwargs)
        if index >= len(self.answers):
            raise SolutionError(f"Your {signature} gave no answer (its cell did not run).")
        entry = self.answers[index]
        if not entry.get("ok"):
            raise SolutionError(f"Your {signature} raised {str(entry.get('error'))[:300]}")
        try:
            return exchange.from_data(entry.get("value"))
        except exchange.ExchangeError as error:
            raise SolutionError(
                f"Your {signature} returned something that cannot be graded: {error}"
            ) from None


def record(namespace, part, code, names):
    """Run a check's `code` in `namespace` (the instructor's notebook), recording the calls it
    makes to the exercise's functions `names`; emit the calls for the student's sandbox."""
    snapshot = _snapshot(namespace)
    scope = dict(namespace)
    calls, answers, values, originals = [], [], {}, {}
    _called_elsewhere.clear()
    try:
        for name in names:
            if name not in namespace:
                continue
            if callable(namespace[name]):
                scope[name] = _Recorder(name, namespace[name], calls, answers)
                originals[name] = namespace[name]
                namespace[name] = _Elsewhere(name, namespace[name])
            else:
                values[name] = exchange.to_data(namespace[name])
        passed, message = _run(code, scope)
    finally:
        namespace.update(originals)
        for name in originals:
            scope[name].closed = True
    if _called_elsewhere:
        raise _elsewhere(sorted(_called_elsewhere)[0])
    for key, value in scope.items():
        if (
            key not in names
            and not key.startswith("__")
            and not isinstance(value, types.ModuleType)
        ):
            namespace[key] = value
    _parts[part] = {
        "code": code,
        "names": list(names),
        "snapshot": snapshot,
        "recorded": [entry[:2] for entry in answers],
        "values": values,
        "instructor": {
            "calls": [entry[2] for entry in answers],
            "values": {key: {"ok": True, "value": value} for key, value in values.items()},
        },
        "passed": passed,
        "message": message,
    }
    _emit(
        {
            "part": part,
            "passed": passed,
            "message": message,
            "calls": {"calls": calls, "values": sorted(values)},
        }
    )


def judge(part, answers):
    """`(passed, message)` for one check part, given the student's `answers` (a dict)."""
    recorded = _parts[part]
    scope = _snapshot(recorded["snapshot"])
    calls = answers.get("calls") if isinstance(answers.get("calls"), list) else []
    values = answers.get("values") if isinstance(answers.get("values"), dict) else {}
    position = [0]
    for name in recorded["names"]:
        if name in recorded["values"]:
            entry = values.get(name) or {}
            if not entry.get("ok"):
                return False, f"Your {name} is missing: {str(entry.get('error'))[:300]}"
            try:
                scope[name] = exchange.from_data(entry.get("value"))
            except exchange.ExchangeError as error:
                return False, f"Your {name} cannot be graded: {error}"
        elif name in scope:
            scope[name] = _Replayer(name, recorded["recorded"], calls, position)
    return _run(recorded["code"], scope)


def replay(part, path):
    """Judge the student's answers in the file `path` for one check part; emit the verdict."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read(exchange.MAX_BYTES + 1)
        if len(text) > exchange.MAX_BYTES:
            raise exchange.ExchangeError("the answers are larger than the limit")
        answers = json.loads(text)
        if not isinstance(answers, dict):
            raise exchange.ExchangeError("the answers are not a dict")
        passed, message = judge(part, answers)
    except (exchange.ExchangeError, ValueError, RecursionError) as error:
        passed, message = False, f"Your answers cannot be read: {str(error)[:200]}"
    _emit({"part": part, "passed": passed, "message": message})


def self_test():
    """Judge the instructor's own answers for every part: each must get the verdict and the
    message it got when recorded. Emits the parts that do not."""
    problems = {}
    for part, recorded in _parts.items():
        try:
            verdict = judge(part, recorded["instructor"])
        except JudgeError as error:
            verdict = (False, str(error))
        if verdict != (recorded["passed"], recorded["message"]):
            problems[part] = (
                f"recorded {recorded['passed'], recorded['message']}, replayed {verdict}"
            )
    _emit({"self_test": problems})


def answer(namespace, path):
    """In the student's kernel: call the student's functions with the recorded arguments in
    the file `path`; emit what they returned, as data."""
    with open(path, encoding="utf-8") as file:
        request = json.load(file)
    results = []
    for call in request["calls"]:
        name = call["name"]
        try:
            function = namespace[name]
        except KeyError:
            results.append({"ok": False, "error": f"NameError: {name} is not defined"})
            continue
        try:
            args = exchange.from_data(call["args"], allow_dataclasses=True)
            kwargs = exchange.from_data(call["kwargs"], allow_dataclasses=True)
            value = exchange.to_data(function(*args, **kwargs))
            size = len(json.dumps(value))
            if size + sum(len(json.dumps(entry)) for entry in results) > MAX_ANSWER_BYTES:
                raise exchange.ExchangeError(
                    f"{size / 2**20:.1f} MB of answers, above the "
                    f"grader's limit of {MAX_ANSWER_BYTES // 2**20} MB"
                )
            results.append({"ok": True, "value": value})
        except exchange.ExchangeError as error:
            results.append({"ok": False, "error": f"a value that cannot be graded ({error})"})
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            if isinstance(error, NameError):
                message += (
                    " (graded functions run with the Setup cell's imports, the "
                    "lesson's given helpers and your other solutions only: pass what "
                    "they need as arguments)"
                )
            results.append({"ok": False, "error": message[:400]})
    values = {}
    for name in request["values"]:
        try:
            values[name] = {"ok": True, "value": exchange.to_data(namespace[name])}
        except (KeyError, exchange.ExchangeError) as error:
            values[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:400]}
    _emit({"calls": results, "values": values})
    sys.stdout.flush()

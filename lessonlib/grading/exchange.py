"""Values sent between the grader's sandboxes as data: JSON with NumPy arrays, never pickle.

The judge sends the student's sandbox the arguments each check passes to the exercise's
functions; the student's sandbox sends back what the functions returned. Both directions go
through `encode` and `decode`, which know a closed set of types: None, booleans, numbers,
strings, lists, tuples, dicts with string keys, NumPy arrays and scalars of numeric or boolean
dtype (as `.npy` bytes, read with `allow_pickle=False`), and, towards the student only,
dataclasses defined in `lessonlib` (such as `backprop.Parameters`). Anything else is refused
with the type it had, so no code can travel, whichever way the data goes.
"""

import base64
import dataclasses
import importlib
import io
import json
import math

import numpy as np

MAX_BYTES = 64 * 2**20
MAX_DEPTH = 32
MAX_ITEMS = 100_000
_ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no objects, no records


class ExchangeError(ValueError):
    """A value that cannot be sent as data, or data that does not decode."""


def _array(value):
    array = np.asarray(value)
    if array.dtype.kind not in _ARRAY_KINDS:
        raise ExchangeError(f"arrays of dtype {array.dtype} cannot be sent")
    buffer = io.BytesIO()
    np.save(buffer, array.copy(order="C"), allow_pickle=False)
    return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}


def _tensor_to_numpy(value):
    """A backend tensor (TensorFlow, JAX, PyTorch) as NumPy, or None if it is not one."""
    if type(value).__module__.split(".")[0] not in ("tensorflow", "jax", "jaxlib", "torch"):
        return None
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def to_data(value, depth=0):
    """`value` as JSON-compatible data; raises `ExchangeError` for a type it does not know."""
    if depth > MAX_DEPTH:
        raise ExchangeError(f"values nested deeper than {MAX_DEPTH} levels cannot be sent")
    if isinstance(value, (np.ndarray, np.generic)):  # before float: np.float64 is a float
        encoded = _array(value)
        if isinstance(value, np.generic):
            encoded["scalar"] = True
        return encoded
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"__int__": str(value)} if abs(value) > 2**53 else value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(float(value))}
    if isinstance(value, complex):
        return {"__complex__": [value.real, value.imag]}
    if isinstance(value, (list, tuple)):
        items = [to_data(item, depth + 1) for item in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ExchangeError("only dicts with string keys can be sent")
        return {"__dict__": {key: to_data(item, depth + 1) for key, item in value.items()}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        return {
            "__dataclass__": f"{kind.__module__}.{kind.__qualname__}",
            "fields": {
                field.name: to_data(getattr(value, field.name), depth + 1)
                for field in dataclasses.fields(value)
            },
        }
    array = _tensor_to_numpy(value)
    if array is not None:
        return _array(array)
    raise ExchangeError(f"a value of type {type(value).__name__} cannot be sent")


def from_data(data, allow_dataclasses=False, depth=0, budget=None):
    """The value `to_data` encoded, of at most `MAX_ITEMS` items. Dataclasses are rebuilt only
    if `allow_dataclasses`, and only those defined in `lessonlib`."""
    budget = [MAX_ITEMS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise ExchangeError(f"data of more than {MAX_ITEMS} items (arrays count as one)")
    if depth > MAX_DEPTH:
        raise ExchangeError(f"data nested deeper than {MAX_DEPTH} levels")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [from_data(item, allow_dataclasses, depth + 1, budget) for item in data]
    if not isinstance(data, dict) or len(data) > 2:
        raise ExchangeError(f"unexpected data of type {type(data).__name__}")
    if "__ndarray__" in data:
        try:
            raw = base64.b64decode(data["__ndarray__"], validate=True)
            array = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, TypeError, OSError) as error:
            raise ExchangeError(f"an array that does not decode: {error}") from None
        if array.dtype.kind not in _ARRAY_KINDS:
            raise ExchangeError(f"arrays of dtype {array.dtype} are not accepted")
        return array[()] if data.get("scalar") is True else array
    if "__tuple__" in data:
        return tuple(from_data(data["__tuple__"], allow_dataclasses, depth + 1, budget))
    if "__dict__" in data and isinstance(data["__dict__"], dict):
        return {
            str(key): from_data(item, allow_dataclasses, depth + 1, budget)
            for key, item in data["__dict__"].items()
        }
    if "__int__" in data:
        return int(str(data["__int__"])[:400])
    if "__float__" in data and data["__float__"] in ("nan", "inf", "-inf"):
        return float(data["__float__"])
    if "__complex__" in data:
        real, imaginary = data["__complex__"]
        return complex(float(real), float(imaginary))
    if "__dataclass__" in data and allow_dataclasses:
        return _dataclass(data, depth)
    raise ExchangeError(f"unexpected data with keys {sorted(data)[:4]}")


def _dataclass(data, depth):
    path = str(data["__dataclass__"])
    module_name, _, name = path.rpartition(".")
    if not module_name.startswith("lessonlib."):
        raise ExchangeError(f"only lessonlib's dataclasses are rebuilt, not {path}")
    kind = getattr(importlib.import_module(module_name), name, None)
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise ExchangeError(f"{path} is not a dataclass")
    fields = {key: from_data(value, True, depth + 1) for key, value in data["fields"].items()}
    return kind(**fields)


def dumps(value):
    """`value` as JSON text, at most `MAX_BYTES` long."""
    text = json.dumps(to_data(value), allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise ExchangeError(f"{len(text)} bytes of data, above the limit of {MAX_BYTES}")
    return text


def loads(text, allow_dataclasses=False):
    """The value in JSON `text` from `dumps`; raises `ExchangeError` for anything else."""
    if len(text) > MAX_BYTES:
        raise ExchangeError(f"{len(text)} bytes of data, above the limit of {MAX_BYTES}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ExchangeError(f"data that is not JSON: {str(error)[:200]}") from None
    return from_data(data, allow_dataclasses)

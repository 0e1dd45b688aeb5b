"""What crosses between the grader's sandboxes: data only, size-capped, never code."""

import base64
import io
import json
import pickle

import keras
import numpy as np
import pytest

from lessonlib import backprop
from lessonlib.grading import cli, exchange, grader
from lessonlib.grading.exercises import defined_names


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2**70,
        -1.5,
        float("nan"),
        float("inf"),
        1 + 2j,
        "text",
        [1, [2.0]],
        (1, "a"),
        {"key": (1, 2)},
        np.float32(0.25),
        np.int64(7),
        np.float64("nan"),
        np.float64(-np.inf),
        np.arange(6.0).reshape(2, 3),
        np.array([True, False]),
        np.zeros((0, 3), dtype="uint8"),
    ],
)
def test_plain_values_round_trip(value):
    back = exchange.loads(exchange.dumps(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray | np.generic):
        assert back.dtype == value.dtype and back.shape == np.shape(value)
        np.testing.assert_array_equal(back, value)  # NaN equals NaN here
    elif isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value


def test_backend_tensors_arrive_as_arrays():
    back = exchange.loads(exchange.dumps(keras.ops.ones((2, 2))))
    assert isinstance(back, np.ndarray) and back.shape == (2, 2)


def test_lessonlib_dataclasses_are_rebuilt_only_towards_the_student():
    params = backprop.initialize(4, 2, seed=0)
    text = exchange.dumps(params)
    rebuilt = exchange.loads(text, allow_dataclasses=True)
    assert isinstance(rebuilt, backprop.Parameters)
    np.testing.assert_array_equal(rebuilt.W1, params.W1)
    with pytest.raises(exchange.ExchangeError, match="unexpected data"):
        exchange.loads(text)  # the judge accepts no types from a student
    forged = json.loads(text)
    forged["__dataclass__"] = "subprocess.Popen"
    with pytest.raises(exchange.ExchangeError, match="only lessonlib's dataclasses"):
        exchange.loads(json.dumps(forged), allow_dataclasses=True)


@pytest.mark.parametrize(
    "value, words",
    [
        (object(), "type object"),
        (lambda x: x, "type function"),
        (np.array([object()]), "dtype object"),
        ({1: 2}, "string keys"),
    ],
)
def test_anything_else_is_refused_with_its_type(value, words):
    with pytest.raises(exchange.ExchangeError, match=words):
        exchange.dumps(value)


def test_pickled_arrays_and_odd_data_do_not_decode():
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()]), allow_pickle=True)
    data = {"__ndarray__": base64.b64encode(buffer.getvalue()).decode()}
    with pytest.raises(exchange.ExchangeError, match="does not decode"):
        exchange.loads(json.dumps(data))
    with pytest.raises(exchange.ExchangeError):
        exchange.loads(json.dumps({"__ndarray__": base64.b64encode(pickle.dumps([1])).decode()}))
    with pytest.raises(exchange.ExchangeError, match="not JSON"):
        exchange.loads("{nope")
    with pytest.raises(exchange.ExchangeError, match="deeper"):
        exchange.loads("[" * 40 + "]" * 40)
    with pytest.raises(exchange.ExchangeError, match="limit"):
        exchange.loads(" " * (exchange.MAX_BYTES + 1))


def test_solution_names_are_what_the_cell_defines_at_its_top_level():
    source = "import numpy as np\n\ndef f(x):\n    y = 1\n    return x\n\nA, (b, c) = 1, (2, 3)"
    assert defined_names(source) == ["f", "A", "b", "c"]
    assert defined_names("def broken(:") == []


def test_withheld_references_become_stubs_and_their_source_is_gone(tmp_path):
    copy = grader.withheld_copy(
        [
            "lessonlib.gan_theory.optimal_discriminator",
            "lessonlib.layers.max_unpooling2d.MaxUnpooling2D",
        ],
        tmp_path,
    )
    theory = (copy / "gan_theory.py").read_text()
    assert "def optimal_discriminator(*args, **kwargs):" in theory
    assert "p_data / " not in theory.split("def optimal_discriminator")[1].split("\ndef ")[0]
    assert "class MaxUnpooling2D:" in (copy / "layers" / "max_unpooling2d.py").read_text()
    assert "def value_function" in theory, "the rest of the module stays"
    for reference in ("lessonlib.gan_theory.nothing", "numpy.sum", "lessonlib.nowhere.f"):
        with pytest.raises(grader.GradingError):
            grader.withheld_copy([reference], tmp_path / reference)


def test_text_in_the_results_is_safe_to_print_and_store():
    assert cli.clean("a\ud800b") == "a\\ud800b"  # a lone surrogate, escaped
    assert cli.clean("\x1b[31mred\u202e\x07") == " [31mred  "
    assert cli.clean("x" * 600) == "x" * cli.MAX_MESSAGE
    assert cli.csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and cli.csv_safe("-1") == "'-1"
    assert cli.csv_safe("fine") == "fine"

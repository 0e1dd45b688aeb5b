import re

import keras
import numpy as np
import pytest

from lessonlib import runtime


@pytest.mark.parametrize(
    "value, expected",
    [("1", True), ("true", True), ("0", False), ("", False), ("off", False), (" YES ", True)],
)
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("LESSONLIB_FAST", value)
    assert runtime.fast_mode() is expected


def test_full_mode_is_the_default(monkeypatch):
    monkeypatch.delenv("LESSONLIB_FAST", raising=False)
    assert runtime.fast_mode() is False
    assert runtime.size(full=20, fast=2) == 20


def test_fast_mode_with_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("LESSONLIB_FAST", "maybe")
    with pytest.raises(ValueError, match=r"LESSONLIB_FAST='maybe'"):
        runtime.fast_mode()


def test_size_follows_the_mode(monkeypatch):
    monkeypatch.setenv("LESSONLIB_FAST", "1")
    assert runtime.size(full=60_000, fast=2_000) == 2_000
    monkeypatch.setenv("LESSONLIB_FAST", "0")
    assert runtime.size(full=60_000, fast=2_000) == 60_000


@pytest.mark.parametrize(
    "full, fast, pattern",
    [
        (10, 20, r"full=10, fast=20"),
        (0, 0, r"full=0"),
        (10, -1, r"fast=-1"),
        ("10", 1, r"full='10'"),
    ],
)
def test_size_rejects_bad_arguments(full, fast, pattern):
    with pytest.raises(ValueError, match=pattern):
        runtime.size(full=full, fast=fast)


def test_setup_seeds_the_backend_and_numpy():
    runtime.setup(seed=7, verbose=False)
    first = (keras.ops.convert_to_numpy(keras.random.normal((3,))), np.random.rand(3))  # noqa: NPY002 (global seeding)
    runtime.setup(seed=7, verbose=False)
    second = (keras.ops.convert_to_numpy(keras.random.normal((3,))), np.random.rand(3))  # noqa: NPY002 (global seeding)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    runtime.setup(seed=8, verbose=False)
    assert not np.array_equal(np.random.rand(3), second[1])  # noqa: NPY002


def test_setup_prints_one_line_with_backend_device_and_mode(capsys, monkeypatch):
    monkeypatch.setenv("LESSONLIB_FAST", "1")
    chosen = runtime.setup(seed=0)
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert line.startswith(f"Keras {keras.__version__} on {keras.backend.backend()} ")
    assert "fast mode" in line
    assert chosen.fast is True
    assert re.search(r"CPU \(\d+ cores\)|\d GPUs?: ", line), line


def test_setup_makes_the_notebook_show_figures_as_png(ipython_shell):
    # The lessons' figures are built without pyplot, so no matplotlib backend shows them: the
    # lesson's first call registers the formatter with its kernel's shell.
    from lessonlib import plotting

    figure = plotting.image_grid(np.zeros((2, 8, 8)))
    assert "image/png" not in ipython_shell.display_formatter.format(figure)[0]
    runtime.setup(seed=0, verbose=False)
    assert ipython_shell.display_formatter.format(figure)[0]["image/png"][:4] == b"\x89PNG"


def test_lessonlib_seed_replaces_the_lessons_seed_and_says_so(capsys, monkeypatch):
    monkeypatch.setenv("LESSONLIB_SEED", "3")
    chosen = runtime.setup(seed=0)
    line = capsys.readouterr().out.strip()
    assert chosen.seed == 3 and chosen.lesson_seed == 0
    assert line.endswith("| seed 3 (from LESSONLIB_SEED; the lesson's own is 0)"), line
    overridden = np.random.rand(3)  # noqa: NPY002 (global seeding)
    monkeypatch.delenv("LESSONLIB_SEED")
    runtime.setup(seed=3, verbose=False)
    np.testing.assert_array_equal(np.random.rand(3), overridden)  # noqa: NPY002
    runtime.setup(seed=0)
    assert capsys.readouterr().out.strip().endswith("| seed 0")


@pytest.mark.parametrize("value", ["-1", "1.5", "one", "0x1"])
def test_lessonlib_seed_rejects_what_is_not_a_seed(monkeypatch, value):
    monkeypatch.setenv("LESSONLIB_SEED", value)
    with pytest.raises(ValueError, match=rf"LESSONLIB_SEED={value!r}"):
        runtime.setup(seed=0, verbose=False)


def test_setup_on_a_cpu_keeps_float32():
    chosen = runtime.setup(seed=0, verbose=False)
    if chosen.device.kind == "CPU":
        assert chosen.precision == "float32"
    assert keras.mixed_precision.dtype_policy().name == chosen.precision
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"seed": -1}, r"seed=-1"),
        ({"seed": 1.5}, r"seed=1.5"),
        ({"precision": "half"}, r"precision='half'"),
    ],
)
def test_setup_rejects_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        runtime.setup(verbose=False, **kwargs)


@pytest.mark.parametrize(
    "device, expected",
    [
        (runtime.Device("CPU", cores=2), "float32"),
        (runtime.Device("GPU", ("NVIDIA H100",), (9, 0)), "mixed_bfloat16"),
        (runtime.Device("GPU", ("NVIDIA A100",), (8, 0)), "mixed_bfloat16"),
        (runtime.Device("GPU", ("Tesla T4",), (7, 5)), "mixed_float16"),
        (runtime.Device("GPU", ("Tesla K80",), (3, 7)), "float32"),
        (runtime.Device("GPU", ("unknown",), None), "float32"),
    ],
)
def test_mixed_precision_only_where_it_pays(device, expected):
    assert runtime.precision_policy(device) == expected


def test_device_descriptions():
    assert str(runtime.Device("CPU", cores=2)) == "CPU (2 cores)"
    assert str(runtime.Device("GPU", ("NVIDIA H100",), (9, 0))) == "1 GPU: NVIDIA H100"
    assert str(runtime.Device("GPU", ("A", "A"), (8, 0))) == "2 GPUs: A"


def test_the_current_device_is_found():
    found = runtime.device()
    assert found.kind in ("CPU", "GPU")
    assert found.cores >= 1


def test_jit_compile_where_the_backend_supports_it():
    expected = keras.backend.backend() in ("tensorflow", "jax")
    assert runtime.jit_compile() is expected
    # Convolutions on a CPU: TensorFlow's own kernels beat XLA's; JAX has only XLA.
    cpu, gpu = runtime.Device("CPU", cores=2), runtime.Device("GPU", ("H100",), (9, 0), 16)
    convolutional = {"tensorflow": False, "jax": True, "torch": False}[keras.backend.backend()]
    assert runtime.jit_compile(convolutional=True, for_device=cpu) is convolutional
    assert runtime.jit_compile(convolutional=True, for_device=gpu) is expected


def test_environment_lists_versions():
    versions = runtime.environment()
    assert versions["keras"] == keras.__version__
    assert set(versions) >= {"python", "tensorflow", "jax", "torch", "numpy", "mlxtend"}


def test_steps_per_execution_is_one_on_pytorch_only():
    import keras

    expected = 1 if keras.backend.backend() == "torch" else 20
    assert runtime.steps_per_execution(20) == expected
    with pytest.raises(ValueError, match="steps=0"):
        runtime.steps_per_execution(0)


def _array_pipeline_autotuned():
    """Whether the tf.data pipeline Keras builds from arrays has the autotuner on."""
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    adapter = ArrayDataAdapter(np.zeros((8, 2), "float32"), np.zeros(8, "float32"), batch_size=4)
    return adapter.get_tf_dataset().options().autotune.enabled is not False  # unset means on


tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="only TensorFlow reads arrays through tf.data"
)


@tensorflow_only
def test_setup_turns_the_tf_data_autotuner_off_and_it_can_be_restored():
    try:
        runtime.setup(seed=0, verbose=False)
        runtime.setup(seed=0, verbose=False)  # twice: still one wrapper, still off
        assert _array_pipeline_autotuned() is False
        assert runtime.tf_data_autotuner(True) is True
        assert _array_pipeline_autotuned() is True  # Keras's own pipeline is back
    finally:
        runtime.tf_data_autotuner(False)


@tensorflow_only
def test_fit_without_the_autotuner_trains_the_same_weights():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")

    def trained(autotune):
        runtime.tf_data_autotuner(autotune)
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
        )
        model.compile(keras.optimizers.SGD(0.05), "mse")
        model.fit(x, y, batch_size=8, epochs=3, shuffle=True, verbose=0)
        return [w.numpy() for w in model.weights]

    try:
        with_autotuner, without = trained(True), trained(False)
    finally:
        runtime.tf_data_autotuner(False)
    # Same batches in the same order, the same float32 operations: identical weights.
    for a, b in zip(with_autotuner, without, strict=True):
        np.testing.assert_array_equal(a, b)


def test_tf_data_autotuner_changes_nothing_on_other_backends_and_checks_its_argument():
    with pytest.raises(TypeError, match=r"enabled='no'"):
        runtime.tf_data_autotuner("no")
    assert runtime.tf_data_autotuner(False) is (keras.backend.backend() == "tensorflow")


def test_tf_data_autotuner_leaves_a_moved_keras_pipeline_alone(monkeypatch):
    monkeypatch.setattr(runtime._keras_internals, "array_adapter", lambda: None)
    assert runtime.tf_data_autotuner(False) is False
    runtime.setup(seed=0, verbose=False)  # the lessons still start


def test_a_test_may_leave_a_global_setting_changed():
    keras.mixed_precision.set_global_policy("mixed_float16")
    keras.config.set_floatx("float64")


def test_the_next_test_starts_from_the_settings_before_it():
    # tests/conftest.py restores them after every test (pytest runs a file's tests in order).
    assert keras.mixed_precision.global_policy().name == "float32"
    assert keras.config.floatx() == "float32"

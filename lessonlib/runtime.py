"""Where a lesson runs: backend and device, seeding, and the fast/full budget.

Every lesson starts with `runtime.setup(seed=...)`, which seeds Python, NumPy and the Keras
backend, picks the training settings that suit the device, makes the lesson's figures show as
images in the notebook, and prints one line saying where the lesson runs:

    Keras 3.15.1 on tensorflow 2.21.0, CPU (2 cores) | full mode | float32, jit on | seed 0

Lessons never hard-code a number of epochs or samples: they ask `runtime.size(full=..., fast=...)`,
which returns the full-mode value unless `LESSONLIB_FAST=1` is set (the test configuration sets
it so the whole course runs in minutes on two CPU cores). Both modes run the same code.

A lesson's claims must hold at other seeds too: `LESSONLIB_SEED=1` makes `setup` use seed 1
instead of the lesson's own, and lessons derive every seed they use from `setup.seed`
(`benchmarks/notebooks.py --seeds 0 1 2` runs the course at several).
"""

import dataclasses
import importlib
import os

import keras

from lessonlib import _backend, _keras_internals, _validation

FAST_MODE_VARIABLE = "LESSONLIB_FAST"
SEED_VARIABLE = "LESSONLIB_SEED"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

# Tensor cores handle bfloat16 from compute capability 8.0 (Ampere) on, and float16 from 7.0
# (Volta). Older GPUs and every CPU run mixed precision slower than float32, so they keep it.
_BFLOAT16_FROM = (8, 0)
_FLOAT16_FROM = (7, 0)


@dataclasses.dataclass(frozen=True)
class Device:
    """The accelerator the Keras backend computes on.

    Attributes:
        kind: `"GPU"` or `"CPU"`.
        names: the name of each GPU, empty on a CPU.
        compute_capability: `(major, minor)` of the first GPU, or `None` when unknown.
        cores: CPU cores this process may use.
    """

    kind: str
    names: tuple = ()
    compute_capability: tuple | None = None
    cores: int = 1

    def __str__(self):
        if self.kind == "GPU":
            count = len(self.names)
            distinct = sorted(set(self.names))
            label = "GPU" if count == 1 else "GPUs"
            return f"{count} {label}: {', '.join(distinct)}"
        return f"CPU ({self.cores} cores)"


def fast_mode():
    """Return True when the lessons run in fast mode (`LESSONLIB_FAST=1`).

    Returns:
        bool: False unless the environment variable says otherwise.

    Raises:
        ValueError: if `LESSONLIB_FAST` holds something other than 0/1, true/false, yes/no.
    """
    value = os.environ.get(FAST_MODE_VARIABLE, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"The environment variable {FAST_MODE_VARIABLE} must be 1 (fast mode) or 0 (full mode). "
        f"Received: {FAST_MODE_VARIABLE}={os.environ[FAST_MODE_VARIABLE]!r}"
    )


def seed_override():
    """Return the seed set by `LESSONLIB_SEED`, or None when it is unset or empty.

    Raises:
        ValueError: if `LESSONLIB_SEED` is not an integer >= 0.
    """
    value = os.environ.get(SEED_VARIABLE, "").strip()
    if not value:
        return None
    if not value.isdigit():  # digits only: no sign, no decimal point
        raise ValueError(
            f"The environment variable {SEED_VARIABLE} must be an integer >= 0. "
            f"Received: {SEED_VARIABLE}={os.environ[SEED_VARIABLE]!r}"
        )
    return int(value)


def size(full, fast):
    """Return the size a lesson should use: `full` normally, `fast` in fast mode.

    Args:
        full: the value a student runs with (epochs, samples, steps). A positive int or float.
        fast: the value for fast mode; at most `full`, so fast mode never does more work.

    Returns:
        `full` or `fast`, unchanged.

    Raises:
        ValueError: if either is not a positive number, or `fast` exceeds `full`.

    Example:

    >>> epochs = size(full=20, fast=2)
    """
    _validation.positive_number("full", full)
    _validation.positive_number("fast", fast)
    if fast > full:
        raise ValueError(
            f"`fast` must not exceed `full`, since fast mode must do less work. "
            f"Received: full={full!r}, fast={fast!r}"
        )
    return fast if fast_mode() else full


def cpu_cores():
    """Return the number of CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _parse_capability(value):
    if value is None:
        return None
    if isinstance(value, str):
        major, _, minor = value.partition(".")
        return (int(major), int(minor or 0))
    return tuple(int(part) for part in value)[:2]


def _tensorflow_gpus():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names, capability = [], None
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
        capability = capability or _parse_capability(details.get("compute_capability"))
    return names, capability


def _jax_gpus():
    import jax

    gpus = [device for device in jax.devices() if device.platform == "gpu"]
    capability = None
    if gpus:
        capability = _parse_capability(getattr(gpus[0], "compute_capability", None))
    return [device.device_kind for device in gpus], capability


def _torch_gpus():
    import torch

    if not torch.cuda.is_available():
        return [], None
    count = torch.cuda.device_count()
    names = [torch.cuda.get_device_name(index) for index in range(count)]
    return names, tuple(torch.cuda.get_device_capability(0))


_GPU_PROBES = {"tensorflow": _tensorflow_gpus, "jax": _jax_gpus, "torch": _torch_gpus}


def device():
    """Return the `Device` the current Keras backend computes on.

    Returns:
        Device: GPUs visible to the backend, or the CPU with its core count.
    """
    probe = _backend.select(_GPU_PROBES, "runtime.device", default=None)
    names, capability = probe() if probe else ([], None)
    if names:
        return Device("GPU", tuple(names), capability, cpu_cores())
    return Device("CPU", cores=cpu_cores())


def backend_version():
    """Return the version of the package behind the current Keras backend."""
    backend = keras.backend.backend()
    module = importlib.import_module(backend)
    return getattr(module, "__version__", "unknown")


def precision_policy(for_device=None):
    """Return the Keras dtype policy that trains fastest on a device.

    Mixed precision pays off only on GPUs with tensor cores; on a CPU it is slower than
    float32, so the CPU keeps float32.

    Args:
        for_device: a `Device`; defaults to `device()`.

    Returns:
        str: `"mixed_bfloat16"` (compute capability 8.0 and above), `"mixed_float16"`
        (7.x), else `"float32"`.
    """
    for_device = for_device or device()
    capability = for_device.compute_capability
    if for_device.kind != "GPU" or capability is None:
        return "float32"
    if capability >= _BFLOAT16_FROM:
        return "mixed_bfloat16"
    if capability >= _FLOAT16_FROM:
        return "mixed_float16"
    return "float32"


def jit_compile(convolutional=False, for_device=None):
    """Return the `jit_compile` value for `Model.compile` on the current backend.

    XLA compiles TensorFlow and JAX train steps once and runs them faster, on a CPU too.
    PyTorch's compiler spends longer compiling than the course's small models ever save,
    so PyTorch runs eagerly. On a CPU, TensorFlow's own convolutions (oneDNN) run faster than
    XLA's (`benchmarks/gan_step.py`; RESULTS.md), so a convolutional model on TensorFlow and a
    CPU runs without XLA.

    Args:
        convolutional: whether the model's time goes into convolutions.
        for_device: a `Device`; defaults to `device()` (only asked when it matters).

    Returns:
        bool
    """
    backend = keras.backend.backend()
    if backend == "tensorflow" and convolutional:
        return (for_device or device()).kind == "GPU"
    return backend in ("tensorflow", "jax")


def steps_per_execution(steps):
    """Return the `steps_per_execution` for `Model.compile`: `steps` where the backend allows.

    A small model trained for many short epochs spends most of its time dispatching steps;
    TensorFlow and JAX can run many steps in one compiled call. PyTorch runs one at a time
    (Keras requires `steps_per_execution=1` there), so this returns 1 on PyTorch.

    Args:
        steps: the number of training steps to run per call, e.g. the steps in an epoch.

    Returns:
        int
    """
    steps = _validation.positive_int("steps", steps)
    return _backend.select({"torch": 1}, "runtime.steps_per_execution", default=steps)


def describe(for_device=None):
    """Return one line naming Keras, its backend and the device.

    Example: `"Keras 3.15.1 on tensorflow 2.21.0, 1 GPU: NVIDIA H100 80GB HBM3"`.
    """
    for_device = for_device or device()
    return (
        f"Keras {keras.__version__} on {keras.backend.backend()} {backend_version()}, {for_device}"
    )


def without_autotuner(dataset):
    """Return a `tf.data.Dataset` with `tf.data`'s autotuner off.

    Why: with it on, deleting an iterator can wait for the autotuner's thread, for up to
    seconds on a 2-core CPU, and Keras deletes one at the end of every epoch.
    `benchmarks/tf_data_stall.py` reproduces it with `tf.data` alone; RESULTS.md has the
    numbers. Batches sliced from arrays in memory have nothing for it to tune. Remove this
    when that benchmark shows no stall with the autotuner on.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def tf_data_autotuner(enabled):
    """On TensorFlow, turn `tf.data`'s autotuner on or off in the pipelines Keras builds when
    `fit`, `evaluate` or `predict` get NumPy arrays (see `without_autotuner` for why).

    `setup` turns it off, for every `fit` on arrays in the lessons, `GAN.fit` included;
    `tf_data_autotuner(True)` restores Keras's own pipeline. Keras offers no public option for
    that pipeline (`_keras_internals.array_adapter`); the alternative, a `tf.data.Dataset`
    built by hand for each of the lessons' `fit` calls, would hide Keras's `fit(x, y)` from
    the students who read them. Other backends read arrays without `tf.data`: there this
    does nothing.

    Args:
        enabled: True for Keras's default (autotuned), False for no autotuning.

    Returns:
        bool: whether anything was changed (False on JAX and PyTorch, or in a Keras whose
        array pipeline lives elsewhere: the lessons then run at Keras's default speed).

    Raises:
        TypeError: if `enabled` is not a bool.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"`enabled` must be True or False. Received: enabled={enabled!r}")
    adapter = _keras_internals.array_adapter() if keras.backend.backend() == "tensorflow" else None
    if adapter is None:
        return False
    keras_pipeline = getattr(adapter.get_tf_dataset, "keras_pipeline", adapter.get_tf_dataset)
    if enabled:
        adapter.get_tf_dataset = keras_pipeline
        return True

    def get_tf_dataset(self):
        return without_autotuner(keras_pipeline(self))

    get_tf_dataset.keras_pipeline = keras_pipeline
    adapter.get_tf_dataset = get_tf_dataset
    return True


@dataclasses.dataclass(frozen=True)
class Runtime:
    """What `setup` chose, for a lesson to pass on to `Model.compile` and to report."""

    seed: int
    device: Device
    fast: bool
    precision: str
    jit_compile: bool
    lesson_seed: int | None = None

    def __str__(self):
        mode = "fast mode" if self.fast else "full mode"
        jit = "jit on" if self.jit_compile else "jit off"
        seed = f"seed {self.seed}"
        if self.lesson_seed is not None and self.lesson_seed != self.seed:
            seed += f" (from {SEED_VARIABLE}; the lesson's own is {self.lesson_seed})"
        return f"{describe(self.device)} | {mode} | {self.precision}, {jit} | {seed}"


def setup(seed=0, precision="auto", verbose=True):
    """Seed everything, choose the training settings for this device, and say where we run.

    On TensorFlow it also turns off `tf.data`'s autotuner for arrays (`tf_data_autotuner`).
    In IPython (a notebook, a console) it makes a returned matplotlib `Figure` show as a PNG
    (`plotting.show_figures_in_notebooks`): the lessons' figures are built without pyplot, so
    no matplotlib backend would show them.

    Args:
        seed: seeds Python's, NumPy's and the backend's random generators
            (`keras.utils.set_random_seed`), so a lesson gives the same numbers every run.
            The environment variable `LESSONLIB_SEED`, when set, replaces it (the printed
            line says so), to check that a lesson's claims hold at other seeds; a lesson
            takes every other seed it needs from the returned `Runtime.seed`.
        precision: `"auto"` picks `precision_policy()`; `"float32"` keeps full precision
            (lessons that compare numbers to tight tolerances); or a Keras policy name.
        verbose: print the one-line report.

    Returns:
        Runtime: the seed, device, mode, precision policy and `jit_compile` chosen.

    Raises:
        ValueError: if `seed` (or `LESSONLIB_SEED`) is not an integer >= 0 or `precision` is
            not a known policy.
    """
    lesson_seed = _validation.non_negative_int("seed", seed)
    override = seed_override()
    seed = lesson_seed if override is None else override
    _validation.one_of(
        "precision", precision, ("auto", "float32", "mixed_float16", "mixed_bfloat16")
    )
    keras.utils.set_random_seed(seed)
    current = device()
    policy = precision_policy(current) if precision == "auto" else precision
    keras.mixed_precision.set_global_policy(policy)
    tf_data_autotuner(False)
    from lessonlib import plotting  # here, so that what imports runtime loads no matplotlib

    plotting.show_figures_in_notebooks()
    chosen = Runtime(seed, current, fast_mode(), policy, jit_compile(), lesson_seed)
    if verbose:
        print(chosen)
    return chosen


def environment():
    """Return the versions of what the course runs on, as `{package: version}`.

    Read from the installed packages' metadata, so nothing is imported (importing TensorFlow
    under another backend would cost seconds). Packages that are not installed are reported
    as `"not installed"`, so a student sees at a glance which backends are available.
    """
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in (
        "keras",
        "tensorflow",
        "jax",
        "torch",
        "numpy",
        "matplotlib",
        "ipywidgets",
        "scikit-image",
        "mlxtend",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions

#!/usr/bin/env bash
# The course on a GPU machine: for JAX and PyTorch, the one-line runtime report (device, mixed
# precision), the library tests, and each lesson's wall time in fast and full mode.
#
# It runs where JAX and PyTorch are installed but TensorFlow and Keras may not be: wheels for
# the missing pure-Python packages can sit in .whl/ (keras, namex, optree, mlxtend, fetched with
# `pip download --python-version 3.12 --only-binary=:all: ...`) and are installed to /tmp/site.
# Lesson 01 imports lessonlib.widgets, so it also needs ipywidgets and IPython there (with
# comm, traitlets, widgetsnbextension, jupyterlab_widgets and IPython's own dependencies).
# Lessons run as scripts (benchmarks/notebooks.py --runner script), so Jupyter is not needed.
# BACKENDS="jax torch", MODES=both (or fast, full), NOTEBOOKS (paths; default all), TESTS=0
# (no library tests), LESSONS=0 (no lessons) and GAN=0 (no DCGAN images/s, benchmarks/gan_step.py)
# choose what runs; GAN_STEPS (default 200) sets the DCGAN timing's length.
set -uo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
# One backend per process; neither should hold the whole GPU while the other runs.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
  || echo "no nvidia-smi: running on the CPU"
status=0
for backend in ${BACKENDS:-jax torch}; do
  echo
  echo "== $backend: runtime"
  KERAS_BACKEND=$backend python3 -c "from lessonlib import runtime; runtime.setup(seed=0)" \
    || status=1
  if [ "${TESTS:-1}" = 1 ]; then
    echo "== $backend: library tests"
    # Jupyter-only tests (nbformat, nbclient, IPython, ipywidgets) are left to the CPU suite.
    KERAS_BACKEND=$backend python3 -m pytest tests -q -o addopts="" -p no:cacheprovider \
      --ignore=tests/test_figures_render.py --ignore=tests/test_packaging.py \
      --ignore=tests/test_widgets.py -k "not ipython" \
      || status=1
  fi
  if [ "${GAN:-1}" = 1 ]; then
    echo "== $backend: DCGAN images per second"
    # 200 steps of 256 images per timing: about 2.5 s at the goal of 20,000 images/s.
    python3 benchmarks/gan_step.py --backends "$backend" --steps "${GAN_STEPS:-200}" --repeats 3 \
      || status=1
  fi
  if [ "${LESSONS:-1}" = 1 ]; then
    echo "== $backend: lessons"
    # shellcheck disable=SC2086  # NOTEBOOKS is a list of paths
    python3 benchmarks/notebooks.py --runner script --backend "$backend" --mode "${MODES:-both}" \
      ${NOTEBOOKS:-} \
      || status=1
  fi
done
exit $status

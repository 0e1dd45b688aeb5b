"""DeconvNet against the FCN-style baseline on digit scenes: same data, seed and budget.

    python benchmarks/deconvnet.py            # the full-mode budget of lesson 02
    python benchmarks/deconvnet.py --fast     # the fast-mode budget (a smoke test)

Prints each model's parameters, training time and test mean IoU, and the gap. The goal: the
DeconvNet beats the baseline by at least 5 mean-IoU points (Noh et al. report 69.6 against
FCN-8s's 62.2 on PASCAL VOC), and its full-mode training takes under 5 minutes on 2 CPU cores.
"""

import argparse
import os
import sys
import time

import keras

from lessonlib import datasets, metrics, runtime
from lessonlib.losses import pixel_crossentropy
from lessonlib.models import DeconvNet, FCNBaseline

# Lesson 02's budget, shared so the benchmark measures what the notebook trains.
FULL = {"num_train": 3000, "num_test": 500, "epochs": 12}
FAST = {"num_train": 200, "num_test": 100, "epochs": 2}
GOAL_POINTS = 5.0
GOAL_SECONDS = 300


def train_and_score(build, data, epochs, setup):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(setup.seed)
    model = build(input_shape=x_train.shape[1:])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=pixel_crossentropy,
                  jit_compile=setup.jit_compile)
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    score, _ = metrics.mean_iou(y_test, model.predict(x_test, verbose=0), datasets.NUM_CLASSES)
    return model.count_params(), seconds, 100 * score


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="use the fast-mode budget")
    arguments = parser.parse_args()
    budget = FAST if arguments.fast else FULL
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    setup = runtime.setup(seed=0, precision="float32")
    data = datasets.load_digit_scenes(budget["num_train"], budget["num_test"], seed=0)
    print(f"{budget['num_train']} training scenes, {budget['num_test']} test scenes, "
          f"{budget['epochs']} epochs, batch 32\n")
    print(f"{'model':<14}{'parameters':>12}{'train s':>10}{'mean IoU':>10}")
    print("-" * 46)
    scores = {}
    for build in (DeconvNet, FCNBaseline):
        parameters, seconds, score = train_and_score(build, data, budget["epochs"], setup)
        scores[build.__name__] = (seconds, score)
        print(f"{build.__name__:<14}{parameters:>12,}{seconds:>10.1f}{score:>10.1f}", flush=True)
    gap = scores["DeconvNet"][1] - scores["FCNBaseline"][1]
    seconds = scores["DeconvNet"][0]
    print("-" * 46)
    print(f"gap: {gap:+.1f} mean-IoU points (goal: at least +{GOAL_POINTS:.0f}); DeconvNet "
          f"trained in {seconds:.0f} s (goal: under {GOAL_SECONDS} s on 2 CPU cores)")
    return 0 if arguments.fast or (gap >= GOAL_POINTS) else 1


if __name__ == "__main__":
    sys.exit(main())

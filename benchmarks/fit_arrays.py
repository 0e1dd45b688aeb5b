"""Keras `fit` on NumPy arrays with TensorFlow, `tf.data`'s autotuner on (Keras's default) and off.

    python benchmarks/fit_arrays.py [--epochs 6] [--repeats 2] [--scenes 800]

Lesson 02's DeconvNet on digit scenes, batch 32, validation each epoch, as the lesson trains it.
Each run is its own process (`runtime.setup`, then `runtime.tf_data_autotuner(True)` for
Keras's default pipeline); the two settings alternate, so drifting load hits both alike.
Per epoch after the first (which compiles), it splits the wall time into the training steps,
validation, and the rest: the time the epoch spent outside both, where a stall waiting for
the autotuner's thread shows (deleting an epoch's iterator waits for it).
Goal: with the autotuner off, no epoch spends more than 0.5 s outside steps and validation.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STALL_S = 0.5


def worker(args):
    import keras

    from lessonlib import datasets, metrics, runtime
    from lessonlib.losses import pixel_crossentropy
    from lessonlib.models import DeconvNet

    chosen = runtime.setup(seed=0, verbose=False)
    if args.autotune:
        runtime.tf_data_autotuner(True)
    (x, y), (x_test, y_test) = datasets.load_digit_scenes(args.scenes, args.scenes // 4, seed=0)
    model = DeconvNet(input_shape=x.shape[1:], num_classes=datasets.NUM_CLASSES)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=pixel_crossentropy,
        metrics=[metrics.MeanIoU(num_classes=datasets.NUM_CLASSES)],
        jit_compile=chosen.jit_compile,
    )

    class Split(keras.callbacks.Callback):
        """Wall time of each epoch, of its training steps and of its validation."""

        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.steps, self.validation = time.perf_counter(), 0.0, 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self.step_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += time.perf_counter() - self.step_start

        def on_test_begin(self, logs=None):
            self.validation_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self.validation = time.perf_counter() - self.validation_start

        def on_epoch_end(self, epoch, logs=None):
            wall = time.perf_counter() - self.start
            self.epochs.append(
                {
                    "wall": wall,
                    "steps": self.steps,
                    "validation": self.validation,
                    "rest": wall - self.steps - self.validation,
                }
            )

    split = Split()
    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=32,
        validation_data=(x_test, y_test),
        verbose=0,
        callbacks=[split],
    )
    print(json.dumps(split.epochs[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--scenes", type=int, default=800, help="training scenes")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--autotune", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    epochs = {"on (Keras's default)": [], "off (runtime.setup)": []}
    for _ in range(args.repeats):
        for setting, rows in epochs.items():
            command = [
                sys.executable,
                __file__,
                "--worker",
                "--epochs",
                str(args.epochs),
                "--scenes",
                str(args.scenes),
            ]
            if setting.startswith("on"):
                command.append("--autotune")
            completed = subprocess.run(command, env=env, capture_output=True, text=True)
            lines = [line for line in completed.stdout.splitlines() if line.startswith("[")]
            if completed.returncode != 0 or not lines:
                print(f"autotuner {setting}: failed\n{completed.stderr[-3000:]}")
                return 1
            rows.extend(json.loads(lines[-1]))

    print(
        f"\nDeconvNet fit on {args.scenes} digit scenes (arrays), batch 32, TensorFlow; "
        f"{args.repeats} runs x {args.epochs - 1} epochs after the first"
    )
    print(
        f"{'autotuner':<22} {'epoch s, median':>15} {'max':>6} {'steps s':>8} "
        f"{'outside s, median':>18} {'max':>6} {'stalls':>7}"
    )
    for setting, rows in epochs.items():
        walls = [row["wall"] for row in rows]
        rests = [row["rest"] for row in rows]
        stalls = sum(rest > STALL_S for rest in rests)
        print(
            f"{setting:<22} {statistics.median(walls):>15.2f} {max(walls):>6.2f} "
            f"{statistics.median(row['steps'] for row in rows):>8.2f} "
            f"{statistics.median(rests):>18.2f} {max(rests):>6.2f} "
            f"{stalls:>3} of {len(rows)}"
        )
    worst = max(row["rest"] for row in epochs["off (runtime.setup)"])
    met = worst <= STALL_S
    print(
        f"goal: with the autotuner off, no epoch spends over {STALL_S} s outside steps and "
        f"validation (worst {worst:.2f} s): {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

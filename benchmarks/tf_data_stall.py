"""A minimal reproduction, with `tf.data` alone, of the stall `runtime.without_autotuner` avoids.

    python benchmarks/tf_data_stall.py [--epochs 10] [--repeats 3]

No Keras and no course code: a pipeline like the one Keras builds for `fit` on NumPy arrays
(shuffled indices, batched, a parallel gather, prefetch), iterated for a number of epochs with
a small convolution as each step's work. After each epoch the iterator is deleted, as Keras
deletes it, and the deletion is timed. With `tf.data`'s autotuner on (the default), deleting
waits for the autotuner's thread; with it off it returns at once. Each setting runs in its own
process, alternating, so drifting load hits both alike. The table is meant to go with a report
to TensorFlow; `runtime.without_autotuner` can go when it shows no stall with the autotuner on.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

STALL_S = 0.25  # a deletion that takes longer waited for a thread: a free one takes < 0.01 s


def worker(args):
    import numpy as np
    import tensorflow as tf

    x = np.random.default_rng(0).random((800, 64, 64, 1), dtype=np.float32)
    indices = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=0).batch(32)
    dataset = indices.map(
        lambda index: tf.gather(x, index), num_parallel_calls=tf.data.AUTOTUNE
    ).prefetch(tf.data.AUTOTUNE)
    if not args.autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        dataset = dataset.with_options(options)
    first = tf.random.stateless_normal((3, 3, 1, 64), seed=(0, 1))
    second = tf.random.stateless_normal((3, 3, 64, 64), seed=(0, 2))

    @tf.function
    def step(batch):
        hidden = tf.nn.relu(tf.nn.conv2d(batch, first, 1, "SAME"))
        return tf.reduce_sum(tf.nn.conv2d(hidden, second, 1, "SAME"))

    deletions = []
    for _ in range(args.epochs):
        iterator = iter(dataset)
        for batch in iterator:
            step(batch)
        start = time.perf_counter()
        del iterator
        deletions.append(time.perf_counter() - start)
    print(json.dumps({"tensorflow": tf.__version__, "deletions": deletions[1:]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--autotune", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    deletions, version = {"on (default)": [], "off": []}, None
    for _ in range(args.repeats):
        for setting, rows in deletions.items():
            command = [sys.executable, __file__, "--worker", "--epochs", str(args.epochs)]
            if setting.startswith("on"):
                command.append("--autotune")
            completed = subprocess.run(command, env=env, capture_output=True, text=True)
            lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
            if completed.returncode != 0 or not lines:
                print(f"autotuner {setting}: failed\n{completed.stderr[-3000:]}")
                return 1
            result = json.loads(lines[-1])
            rows.extend(result["deletions"])
            version = result["tensorflow"]

    print(
        f"\ntf.data iterator deletion after each epoch: TensorFlow {version}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; {args.repeats} runs x "
        f"{args.epochs - 1} epochs after the first, 25 batches of 32 64x64 images an epoch"
    )
    print(f"{'autotuner':<14} {'median s':>9} {'max s':>7} {f'over {STALL_S} s':>12}")
    for setting, rows in deletions.items():
        stalls = sum(seconds > STALL_S for seconds in rows)
        print(
            f"{setting:<14} {statistics.median(rows):>9.3f} {max(rows):>7.2f} "
            f"{stalls:>5} of {len(rows)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What starting an epoch costs in Keras's `fit` on NumPy arrays, and the order it reads them in.

    python benchmarks/epoch_overhead.py [--backends tensorflow jax torch]

Two small reproductions, one process per backend, meant to go with a report to Keras:

1. Time. UFLDL's 64-25-64 sparse autoencoder (as lesson 04 trains it) runs 8,000 steps of 500
   patches two ways: 400 epochs of 20 steps, and 40 epochs of 200 steps over the patches
   repeated ten times. The steps and their arithmetic are the same; only the number of epochs
   differs, so the difference divided by 360 is what one epoch costs to start.
2. Order. A model that passes its input through unchanged reads 20 numbers as one shuffled
   batch per epoch, after `keras.utils.set_random_seed(0)`; a metric records the first number
   each epoch. If it is the same every epoch, every epoch read the data in the same order.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from notebooks import machine

PASSES, BATCH_SIZE, REPEATS = 400, 500, 10


def worker():
    import keras
    import numpy as np

    from lessonlib import datasets, runtime
    from lessonlib.models import SparseAutoencoder

    runtime.setup(seed=0, precision="float32")
    patches = datasets.load_natural_patches(num_patches=10_000, patch_size=8, seed=0)

    def train(data, epochs):
        steps = len(data) // BATCH_SIZE
        model = SparseAutoencoder(64, 25, sparsity_target=0.01, beta=3.0, weight_decay=1e-4, seed=0)
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            steps_per_execution=runtime.steps_per_execution(steps),
        )
        model.fit(data, batch_size=BATCH_SIZE, epochs=1, verbose=0)  # compiles
        start = time.perf_counter()
        model.fit(data, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
        return time.perf_counter() - start

    short = train(patches, PASSES)
    long = train(np.tile(patches, (REPEATS, 1)), PASSES // REPEATS)

    keras.utils.set_random_seed(0)
    identity = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones", trainable=False)]
    )

    def first(y_true, y_pred):
        return y_pred[0, 0]

    identity.compile(optimizer="sgd", loss="mse", metrics=[first])
    numbers = np.arange(20, dtype="float32")[:, None]
    history = identity.fit(numbers, numbers, batch_size=20, epochs=5, shuffle=True, verbose=0)
    print(
        json.dumps(
            {
                "short": short,
                "long": long,
                "firsts": [int(value) for value in history.history["first"]],
                "describe": runtime.describe(),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    print(f"machine: {machine()}")
    print(
        f"{'backend':<12}{'400 x 20 steps s':>18}{'40 x 200 steps s':>18}{'ms an epoch':>13}"
        f"   first number read, epochs 1-5"
    )
    print("-" * 100)
    for backend in args.backends:
        result = subprocess.run(
            [sys.executable, __file__, "--worker"],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(f"{backend:<12}failed: {result.stderr.strip().splitlines()[-1]}")
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        per_epoch = 1000 * (row["short"] - row["long"]) / (PASSES - PASSES // REPEATS)
        print(
            f"{backend:<12}{row['short']:>18.1f}{row['long']:>18.1f}{per_epoch:>13.1f}"
            f"   {row['firsts']}"
        )
        print(f"{'':12}{row['describe']}")


if __name__ == "__main__":
    main()

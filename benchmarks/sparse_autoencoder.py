"""UFLDL's sparse autoencoder experiment, trained two ways in one run.

    python benchmarks/sparse_autoencoder.py [--epochs 400] [--batch-size 500]

The reference is UFLDL's procedure: the cost and gradient in NumPy (`lessonlib.backprop`),
minimised over the full batch by L-BFGS (`scipy.optimize.minimize`, 400 iterations). The
library trains `lessonlib.models.SparseAutoencoder` with `fit`: mini-batches, Adam, a cosine
learning-rate decay. Both train 64-25-64 on the same 10,000 8x8 natural patches with rho=0.01,
beta=3, lambda=1e-4, and both final costs are computed by the same NumPy function on all the
data. The goal: the library reaches the reference's final cost (within 5 %) in at most the
reference's time. Compare the ratio, not the seconds: the machine is shared.
"""

import argparse
import os
import time

import keras
import numpy as np

from lessonlib import backprop, runtime
from lessonlib.datasets.patches import load_natural_patches
from lessonlib.models import SparseAutoencoder

SETTINGS = dict(sparsity_target=0.01, beta=3.0, weight_decay=1e-4)
NUM_HIDDEN = 25
COST_TOLERANCE = 0.05


def train_library(patches, epochs, batch_size, learning_rate, seed):
    keras.utils.set_random_seed(seed)
    model = SparseAutoencoder(patches.shape[1], NUM_HIDDEN, seed=seed, **SETTINGS)
    steps_per_epoch = int(np.ceil(len(patches) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, epochs * steps_per_epoch, alpha=0.01
    )
    # One compiled call per epoch: the model is tiny, so per-step dispatch would dominate.
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        jit_compile=runtime.jit_compile(),
        steps_per_execution=runtime.steps_per_execution(steps_per_epoch),
    )
    start = time.perf_counter()
    model.fit(patches, batch_size=batch_size, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    return model, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=400, help="L-BFGS iterations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(runtime.describe())
    patches = load_natural_patches(10_000, 8, seed=args.seed)

    start = time.perf_counter()
    reference, result = backprop.train_lbfgs(
        patches, NUM_HIDDEN, max_iterations=args.iterations, seed=args.seed, **SETTINGS
    )
    reference_seconds = time.perf_counter() - start
    model, library_seconds = train_library(
        patches, args.epochs, args.batch_size, args.learning_rate, args.seed
    )

    rows = [
        (
            f"NumPy + L-BFGS-B, {result.nit} iterations",
            reference_seconds,
            backprop.cost(reference, patches, **SETTINGS),
            backprop.forward(reference, patches)[0],
        ),
        (
            f"SparseAutoencoder.fit, {args.epochs} epochs of {args.batch_size}",
            library_seconds,
            backprop.cost(model.backprop_parameters(), patches, **SETTINGS),
            backprop.forward(model.backprop_parameters(), patches)[0],
        ),
    ]
    print(
        f"\n64-25-64 on 10,000 patches, rho={SETTINGS['sparsity_target']}, "
        f"beta={SETTINGS['beta']}, lambda={SETTINGS['weight_decay']}\n"
    )
    print(
        f"{'training':<44}{'seconds':>9}{'cost':>9}{'recon':>8}{'decay':>8}{'sparse':>8}"
        f"{'mean rho_hat':>14}"
    )
    for name, seconds, cost, hidden in rows:
        print(
            f"{name:<44}{seconds:>9.1f}{cost.total:>9.4f}{cost.reconstruction:>8.4f}"
            f"{cost.weight_decay:>8.4f}{cost.sparsity:>8.4f}{hidden.mean():>14.4f}"
        )
    time_ratio = library_seconds / reference_seconds
    cost_ratio = rows[1][2].total / rows[0][2].total
    met = time_ratio <= 1 and cost_ratio <= 1 + COST_TOLERANCE
    print(
        f"\nlibrary/reference: time {time_ratio:.2f}x, final cost {cost_ratio:.3f}x "
        f"(goal: time <= 1, cost <= {1 + COST_TOLERANCE:.2f}): {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

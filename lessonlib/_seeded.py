"""Training that a seed fixes without touching the global random state."""

import numpy as np

from lessonlib import _validation

_MERGED_BYTES = 64 * 2**20  # at most this much of `x` copied into one `fit` call's samples


def fit_in_seeded_order(model, x, y=None, *, epochs, batch_size, seed, verbose=0):
    """Train `model` for `epochs` epochs, each on `x` (and `y`) in an order drawn from `seed`.

    Keras's `fit(shuffle=True)` draws each epoch's order from the global random state, so a
    library function that must give the same result whatever ran before would have to reseed
    it, resetting the caller's generators too. Each epoch's order here is drawn from a
    generator of its own, and `fit` reads the samples unshuffled.

    Silently (`verbose=0`) and when `batch_size` divides the number of samples, no batch
    straddles two epochs, so consecutive epochs' orders go to one `fit` call laid end to end
    (up to 64 MiB of samples a call): the same batches in the same order, without a `fit`
    call's start-up for each epoch, which on TensorFlow costs about 25-30 ms (RESULTS.md,
    "What an epoch costs to start"). Otherwise each epoch is a `fit` call of its own, so that
    its last, smaller batch stays in it and a progress bar shows each epoch. Callbacks that a
    model's own `fit` adds (`SparseAutoencoder`'s full estimate) then run once per call, not
    per epoch.

    Returns:
        None: the model is trained in place.
    """
    epochs = _validation.non_negative_int("epochs", epochs)
    batch_size = _validation.positive_int("batch_size", batch_size)
    order = np.random.default_rng(seed)
    orders = [order.permutation(len(x)) for _ in range(epochs)]
    if verbose == 0 and len(x) % batch_size == 0:
        per_call = max(1, _MERGED_BYTES // max(1, np.asarray(x).nbytes))
        orders = [
            np.concatenate(orders[start : start + per_call])
            for start in range(0, len(orders), per_call)
        ]
    for permutation in orders:
        model.fit(
            x[permutation],
            None if y is None else y[permutation],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=verbose,
        )

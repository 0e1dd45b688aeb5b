"""Training that a seed fixes without touching the global random state."""

import numpy as np


def fit_in_seeded_order(model, x, y=None, *, epochs, batch_size, seed, verbose=0):
    """Train `model` for `epochs` epochs, each on `x` (and `y`) in an order drawn from `seed`.

    Keras's `fit(shuffle=True)` draws each epoch's order from the global random state, so a
    library function that must give the same result whatever ran before would have to reseed
    it, resetting the caller's generators too. Each epoch here is one `fit` call on the
    samples in an order drawn from a generator of its own, unshuffled.

    Returns:
        list of the `History` of each epoch.
    """
    order = np.random.default_rng(seed)
    histories = []
    for _ in range(epochs):
        permutation = order.permutation(len(x))
        histories.append(
            model.fit(
                x[permutation],
                None if y is None else y[permutation],
                batch_size=batch_size,
                epochs=1,
                shuffle=False,
                verbose=verbose,
            )
        )
    return histories

"""The variational autoencoder and the semi-supervised M2 (lesson 08), on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from lessonlib import kl
from lessonlib.models import SemiSupervisedVAE, VariationalAutoencoder
from lessonlib.models.vae import (
    bernoulli_negative_log_likelihood,
    gradient_estimates,
    semi_supervised_set,
    unlabelled_negative_bound,
)


def _pixels(rows, width=6, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (rows, width)).astype("float32")


def test_the_reconstruction_term_is_the_bernoulli_negative_log_likelihood():
    x = _pixels(4)
    logits = np.random.default_rng(1).normal(0, 3, x.shape).astype("float32")
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    value = ops.convert_to_numpy(bernoulli_negative_log_likelihood(x, logits))
    # float32 softplus against float64 logs, on sums of six terms of order 1.
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # Exact where the naive form overflows: a logit of 100 on a pixel of 0 costs 100.
    far = ops.convert_to_numpy(
        bernoulli_negative_log_likelihood(np.zeros((1, 1)), np.full((1, 1), 100.0))
    )
    np.testing.assert_allclose(far, [100.0], rtol=1e-6)


def test_the_vae_loss_is_the_reconstruction_plus_the_closed_form_kl():
    x = _pixels(8)
    vae = VariationalAutoencoder(6, 2, hidden_units=(5,), seed=0)
    outputs = vae(x)
    loss = float(vae.compute_loss(x=x, y_pred=outputs))
    mean, std = (ops.convert_to_numpy(outputs[name]).astype(np.float64) for name in ("mean", "std"))
    divergence = kl.gaussian_kl(mean, std, 0.0, 1.0).sum(axis=1).mean()
    reconstruction = ops.convert_to_numpy(bernoulli_negative_log_likelihood(x, outputs["logits"]))
    # float32 sums of a few terms of order 1.
    assert loss == pytest.approx(reconstruction.mean() + divergence, rel=1e-5)
    assert float(vae.trackers["kl"].result()) == pytest.approx(divergence, rel=1e-5)


def test_the_vae_samples_z_by_the_reparameterisation():
    x = _pixels(3)
    vae = VariationalAutoencoder(6, 4, hidden_units=(5,), seed=7)
    # The model's noise comes from a SeedGenerator seeded from its seed; a twin generator
    # draws the same eps, so the first call must decode exactly z = mean + std * eps.
    twin = keras.random.SeedGenerator(vae.noise_seed)
    outputs = vae(x)
    eps = keras.random.normal((3, 4), seed=twin)
    z = outputs["mean"] + outputs["std"] * eps
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs["logits"]),
        ops.convert_to_numpy(vae.decoder(z)),
        rtol=1e-5,
        atol=1e-6,
    )
    again = ops.convert_to_numpy(vae(x)["logits"])
    assert not np.allclose(again, ops.convert_to_numpy(outputs["logits"])), (
        "two calls drew the same z"
    )


def test_the_vae_learns_two_prototypes_and_separates_them_in_its_codes():
    rng = np.random.default_rng(0)
    prototypes = (rng.uniform(size=(2, 16)) > 0.5).astype("float32")
    labels = rng.integers(0, 2, 256)
    x = np.clip(prototypes[labels] + rng.normal(0, 0.05, (256, 16)), 0, 1).astype("float32")
    vae = VariationalAutoencoder(16, 2, hidden_units=(16,), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(x, batch_size=64, epochs=60, verbose=0).history
    # Measured: the negative ELBO falls from 13-45 nats after the first epoch to 2.8-3.0 after
    # the last (TensorFlow, JAX, PyTorch); the class means 50-70 spreads apart.
    assert history["loss"][-1] < 0.5 * history["loss"][0], history["loss"][::10]
    mean, _ = vae.encode(x)
    gap = np.linalg.norm(mean[labels == 0].mean(axis=0) - mean[labels == 1].mean(axis=0))
    spread = max(mean[labels == c].std(axis=0).max() for c in (0, 1))
    assert gap > 3 * spread, f"codes of the two prototypes {gap:.2f} apart, spread {spread:.2f}"


def _deterministic_bounds(model):
    """Replace -L(x, y) by a known function of x and y: (class + 1) * sum(x)."""

    def negative_bound(x, y_one_hot):
        classes = ops.cast(ops.argmax(y_one_hot, axis=-1), "float32")
        return (classes + 1) * ops.sum(ops.cast(x, "float32"), axis=-1)

    model.negative_bound = negative_bound


def test_m2_combines_the_labelled_and_unlabelled_bounds_as_the_paper_does():
    x = _pixels(6, width=4)
    y = np.array([2, -1, 0, -1, -1, 1])
    model = SemiSupervisedVAE(4, 3, 2, hidden_units=(5,), alpha=0.5, seed=0)
    logits = ops.convert_to_numpy(model(x)).astype(np.float64)
    _deterministic_bounds(model)
    loss = float(model.compute_loss(x=x, y=y, y_pred=logits.astype("float32")))

    bounds = (np.arange(3) + 1)[None, :] * x.sum(axis=1, keepdims=True)  # -L(x, y)
    log_q = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    q = np.exp(log_q)
    labelled = y >= 0
    picked = bounds[labelled, y[labelled]]
    cross_entropy = -log_q[labelled, y[labelled]]
    unlabelled = (q * (bounds + log_q)).sum(axis=1)[~labelled]  # sum_y q (-L) - H(q)
    expected = picked.mean() + 0.5 * cross_entropy.mean() + unlabelled.mean()
    # float32 arithmetic on terms of order 1-10.
    assert loss == pytest.approx(expected, rel=1e-5)
    assert float(model.trackers["unlabelled_bound"].result()) == pytest.approx(
        unlabelled.mean(), rel=1e-5
    )


def test_m2_needs_labels_to_fit():
    model = SemiSupervisedVAE(4, 3, 2, hidden_units=(5,), seed=0)
    with pytest.raises(ValueError, match="-1 for each unlabelled"):
        model.compute_loss(x=_pixels(2, 4), y=None, y_pred=np.zeros((2, 3), "float32"))


def test_m2_learns_two_classes_from_two_labels():
    rng = np.random.default_rng(0)
    prototypes = (rng.uniform(size=(2, 16)) > 0.5).astype("float32")
    labels = rng.integers(0, 2, 256)
    x = np.clip(prototypes[labels] + rng.normal(0, 0.05, (256, 16)), 0, 1).astype("float32")
    labelled = [int(np.flatnonzero(labels == 0)[0]), int(np.flatnonzero(labels == 1)[0])]
    x_set, y_set = semi_supervised_set(x, labels, labelled, seed=0)
    model = SemiSupervisedVAE(16, 2, 2, hidden_units=(16,), alpha=1.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x_set, y_set, batch_size=64, epochs=10, verbose=0)
    accuracy = np.mean(model.predict(x, verbose=0).argmax(axis=1) == labels)
    assert accuracy == 1.0, f"{accuracy:.1%} of the two prototypes' noisy copies classified"
    images = model.generate([0, 1], np.zeros((2, 2), "float32"))
    # Each class's image, decoded at z = 0, is nearest its own prototype.
    distances = np.linalg.norm(images[:, None, :] - prototypes[None, :, :], axis=-1)
    np.testing.assert_array_equal(distances.argmin(axis=1), [0, 1])


def test_the_semi_supervised_set_holds_every_sample_unlabelled_and_the_labelled_repeated():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10) % 3
    x_set, y_set = semi_supervised_set(x, y, [1, 4], seed=3)
    assert len(x_set) == 10 + 2 * 5  # 10 // 2 copies of each labelled sample
    assert np.sum(y_set == -1) == 10
    np.testing.assert_array_equal(np.sort(x_set[y_set == -1][:, 0]), x[:, 0])
    for index in (1, 4):
        copies = x_set[(y_set == y[index]) & (x_set[:, 0] == x[index, 0])]
        assert len(copies) == 5
    assert not np.array_equal(y_set[:10], np.full(10, -1)), "the set is not shuffled"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"labelled": []}, "`labelled` must hold indices"),
        ({"labelled": [10]}, "`labelled` must hold indices"),
        ({"y": np.zeros(3)}, "one label per sample"),
        ({"repeats": 0}, "`repeats` must be a positive integer"),
    ],
)
def test_the_semi_supervised_set_names_a_bad_argument(arguments, message):
    call = {"x": np.zeros((10, 2)), "y": np.zeros(10), "labelled": [0], **arguments}
    with pytest.raises(ValueError, match=message):
        semi_supervised_set(**call)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: VariationalAutoencoder(0, 2), "`input_dim` must be a positive integer"),
        (lambda: VariationalAutoencoder(4, 2, hidden_units=(0,)), "hidden_units entries"),
        (lambda: SemiSupervisedVAE(4, 3, 2, alpha=-1), "`alpha`"),
        (lambda: SemiSupervisedVAE(4, 1.5, 2), "`num_classes`"),
    ],
)
def test_the_models_name_a_bad_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_models_refuse_inputs_of_the_wrong_width_and_generate_checks_its_classes():
    with pytest.raises(ValueError, match=r"inputs of shape \(batch_size, 6\)"):
        VariationalAutoencoder(6, 2)(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="`x` must have shape"):
        VariationalAutoencoder(6, 2).encode(np.zeros((2, 3, 2)))
    model = SemiSupervisedVAE(4, 3, 2, hidden_units=(5,), seed=0)
    model(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match=r"one class in \[0, 3\)"):
        model.generate([3], np.zeros((1, 2)))


def test_both_gradient_estimates_are_unbiased_and_the_reparameterisation_varies_less():
    # f(z) = sin(z), z ~ N(mean, std^2): E f = sin(mean) exp(-std^2 / 2).
    mean, std = 0.7, 0.8
    z = mean + std * np.random.default_rng(0).standard_normal(400_000)
    estimates = gradient_estimates(mean, std, z, np.sin(z), np.cos(z))
    shrink = np.exp(-(std**2) / 2)
    exact = (np.cos(mean) * shrink, -std * np.sin(mean) * shrink)
    for name, parts in estimates.items():
        for part, target in zip(parts, exact, strict=True):
            standard_error = part.std() / np.sqrt(len(part))
            # 5 standard errors: a biased estimator misses by far more at 400,000 samples.
            assert abs(part.mean() - target) < 5 * standard_error, (name, part.mean(), target)
    ratios = [
        score.var() / reparameterised.var()
        for score, reparameterised in zip(
            estimates["score_function"], estimates["reparameterisation"], strict=True
        )
    ]
    # Measured: 2.47 (mean) and 4.64 (std) for this f, the same on every backend (NumPy only).
    assert min(ratios) > 2, ratios


def test_the_unlabelled_bound_is_tightest_at_the_posterior_over_classes():
    rng = np.random.default_rng(0)
    negative_bounds = rng.uniform(80, 120, (5, 4))
    # At q(y|x) proportional to exp(L(x, y)), -U(x) = -log sum_y exp(L(x, y)).
    posterior_logits = -negative_bounds
    tightest = -np.log(np.exp(-(negative_bounds - 100)).sum(axis=1)) + 100
    np.testing.assert_allclose(
        unlabelled_negative_bound(posterior_logits, negative_bounds), tightest, rtol=1e-12
    )
    # Any other q gives a larger -U; a sure q picks its class's -L.
    other = unlabelled_negative_bound(rng.normal(0, 3, (5, 4)), negative_bounds)
    assert np.all(other > tightest)
    sure = np.full((5, 4), -1e4)
    sure[:, 2] = 1e4
    np.testing.assert_allclose(
        unlabelled_negative_bound(sure, negative_bounds), negative_bounds[:, 2], rtol=1e-12
    )


def test_m2_trains_on_the_same_unlabelled_bound_as_the_reference():
    x = _pixels(4, width=4)
    model = SemiSupervisedVAE(4, 3, 2, hidden_units=(5,), seed=0)
    logits = ops.convert_to_numpy(model(x))
    _deterministic_bounds(model)
    model.compute_loss(x=x, y=np.full(4, -1), y_pred=logits)
    bounds = (np.arange(3) + 1)[None, :] * x.astype(np.float64).sum(axis=1, keepdims=True)
    # float32 training arithmetic against the float64 reference.
    assert float(model.trackers["unlabelled_bound"].result()) == pytest.approx(
        unlabelled_negative_bound(logits, bounds).mean(), rel=1e-5
    )

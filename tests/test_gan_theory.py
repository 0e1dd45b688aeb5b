"""The lecture's GAN formulas against closed forms, and the toy distributions."""

import numpy as np
import pytest
from scipy import stats

from lessonlib import gan_theory, plotting
from lessonlib.datasets import toy

GRID = np.linspace(-20, 20, 40001)  # wide enough for every density below to integrate to 1
DX = GRID[1] - GRID[0]


def _normal(mean, std):
    return stats.norm.pdf(GRID, mean, std)


def test_optimal_discriminator_is_the_density_ratio():
    d_star = gan_theory.optimal_discriminator([0.4, 0.1, 0.0, 0.0], [0.1, 0.1, 0.0, 0.3])
    np.testing.assert_allclose(d_star, [0.8, 0.5, 0.5, 0.0])


def test_criterion_at_the_data_distribution_is_minus_log_4():
    p = _normal(0, 1)
    # On a fine grid the Riemann sums of the densities are 1 to ~1e-12.
    assert gan_theory.virtual_training_criterion(p, p, DX) == pytest.approx(-np.log(4), abs=1e-9)
    assert gan_theory.jensen_shannon(p, p, DX) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("shift", [0.5, 2.0, 6.0])
def test_criterion_is_minus_log_4_plus_twice_the_jsd(shift):
    p_data, p_g = _normal(0, 1), _normal(shift, 1.5)
    jsd = gan_theory.jensen_shannon(p_data, p_g, DX)
    criterion = gan_theory.virtual_training_criterion(p_data, p_g, DX)
    assert criterion == pytest.approx(-np.log(4) + 2 * jsd, abs=1e-9)
    # The JSD against a direct quadrature of its definition (scipy's KL of the grid masses).
    middle = (p_data + p_g) / 2
    expected = (stats.entropy(p_data, middle) + stats.entropy(p_g, middle)) / 2
    assert jsd == pytest.approx(expected, rel=1e-6)
    assert 0 < jsd < np.log(2)


def test_criterion_stays_finite_where_one_density_underflows():
    p_data, p_g = _normal(0, 0.5), _normal(3, 0.5)  # p_data(20) underflows to exactly 0
    criterion = gan_theory.virtual_training_criterion(p_data, p_g, DX)
    assert np.isfinite(criterion)
    jsd = gan_theory.jensen_shannon(p_data, p_g, DX)
    assert criterion == pytest.approx(-np.log(4) + 2 * jsd, abs=1e-9)


def test_jsd_of_disjoint_densities_is_log_2():
    p = np.where(GRID < 0, 1 / 20, 0.0)
    q = np.where(GRID > 0, 1 / 20, 0.0)
    assert gan_theory.jensen_shannon(p, q, DX) == pytest.approx(np.log(2), rel=1e-3)


def test_value_function_is_largest_at_the_optimal_discriminator():
    p_data, p_g = _normal(0, 1), _normal(1, 1)
    d_star = gan_theory.optimal_discriminator(p_data, p_g)
    best = gan_theory.value_function(d_star, p_data, p_g, DX)
    for other in (np.full_like(GRID, 0.5), np.clip(d_star + 0.05, 0, 1), d_star**2):
        assert gan_theory.value_function(other, p_data, p_g, DX) < best
    # D = 1/2 everywhere gives exactly -log 4 whatever the densities.
    half = gan_theory.value_function(np.full_like(GRID, 0.5), p_data, p_g, DX)
    assert half == pytest.approx(-np.log(4), abs=1e-9)


def test_losses_in_numpy_and_keras_ops_agree():
    import keras

    rng = np.random.default_rng(0)
    real_logits = rng.normal(size=(64, 1)).astype("float32")
    fake_logits = rng.normal(size=(64, 1)).astype("float32") - 2
    d_real, d_fake = 1 / (1 + np.exp(-real_logits)), 1 / (1 + np.exp(-fake_logits))
    ops_value = keras.ops.convert_to_numpy(
        gan_theory.discriminator_loss_ops(real_logits, fake_logits)
    )
    # float32 sigmoid and log against float64: agree to ~1e-6 relative.
    assert float(ops_value) == pytest.approx(
        gan_theory.discriminator_loss(d_real, d_fake), rel=1e-5
    )
    for kind in ("minimax", "non_saturating"):
        value = keras.ops.convert_to_numpy(gan_theory.generator_loss_ops(fake_logits, kind))
        assert float(value) == pytest.approx(gan_theory.generator_loss(d_fake, kind), rel=1e-5)


def test_generator_loss_slopes_at_a_confident_discriminator():
    from lessonlib.autodiff import gradient

    logits = np.full((8, 1), -5.0, dtype="float32")  # D(G(z)) = 0.0067
    minimax = gradient(lambda t: gan_theory.generator_loss_ops(t, "minimax"), logits)
    saturating_free = gradient(lambda t: gan_theory.generator_loss_ops(t, "non_saturating"), logits)
    d = 1 / (1 + np.exp(5.0))
    # d/dl log(1 - sigmoid(l)) = -D; d/dl -log sigmoid(l) = -(1 - D); each over the batch of 8.
    np.testing.assert_allclose(minimax, -d / 8, rtol=1e-4)
    np.testing.assert_allclose(saturating_free, -(1 - d) / 8, rtol=1e-4)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gan_theory.optimal_discriminator([0.1, 0.2], [0.1]), "same grid"),
        (lambda: gan_theory.optimal_discriminator([-0.1], [0.1]), "p_data"),
        (lambda: gan_theory.value_function([1.5], [0.1], [0.1], 1.0), "discriminator"),
        (lambda: gan_theory.jensen_shannon([0.1], [0.1], 0), "dx"),
        (lambda: gan_theory.discriminator_loss([2.0], [0.5]), "d_real"),
        (lambda: gan_theory.generator_loss([0.5], "wasserstein"), "kind"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mixture_density_integrates_to_one_and_samples_follow_it():
    mixture = toy.mixture_1d([-2.0, 3.0], [0.5, 1.0], [0.3, 0.7])
    assert np.sum(mixture.density(GRID)) * DX == pytest.approx(1, abs=1e-9)
    samples = mixture.sample(20000, seed=1)
    assert samples.shape == (20000, 1) and samples.dtype == np.float32
    # The mean is 0.3 * -2 + 0.7 * 3 = 1.5; its standard error with 20,000 samples is 0.017.
    assert samples.mean() == pytest.approx(1.5, abs=0.07)
    np.testing.assert_array_equal(samples, mixture.sample(20000, seed=1))
    with pytest.raises(ValueError, match="weights"):
        toy.mixture_1d([0.0, 1.0], [1.0, 1.0], [0.5, 0.6])


def test_mode_coverage_counts_modes_and_quality():
    ring = toy.ring_of_gaussians(4000, seed=0)
    full = toy.mode_coverage(ring)
    assert full.modes_hit == 8
    # 3 standard deviations in 2-D hold 1 - exp(-9/2) = 98.9 % of a Gaussian's samples.
    assert full.high_quality_share == pytest.approx(1 - np.exp(-4.5), abs=0.01)
    centers = toy.ring_centers()
    collapsed = np.repeat(centers[:2], 500, axis=0) + 0.001
    stray = np.zeros((30, 2))  # the ring's centre: far from every mode
    coverage = toy.mode_coverage(np.concatenate([collapsed, stray]))
    assert coverage.modes_hit == 2
    assert coverage.high_quality_share == pytest.approx(1000 / 1030)
    assert "2 of 8 modes" in str(coverage)
    with pytest.raises(ValueError, match="samples"):
        toy.mode_coverage(np.zeros((10, 3)))


def test_mode_shares_and_unevenness():
    centers = toy.ring_centers()
    # Two modes with all the samples: shares 1/2, 1/2, 0 x 6; TV to 1/8 each = 6/8.
    collapsed = toy.mode_coverage(np.repeat(centers[:2], 500, axis=0))
    np.testing.assert_allclose(collapsed.shares, [0.5, 0.5] + [0] * 6)
    assert collapsed.unevenness == pytest.approx(0.75)
    assert toy.mode_coverage(np.repeat(centers[:1], 10, axis=0)).unevenness == pytest.approx(7 / 8)
    # The data itself: 2,000 samples split by chance, about 0.02 from even (the docstring).
    data = toy.mode_coverage(toy.ring_of_gaussians(2000, seed=0))
    assert data.unevenness < 0.05 and data.shares.sum() == pytest.approx(1)
    nowhere = toy.mode_coverage(np.zeros((10, 2)))
    assert np.isnan(nowhere.unevenness) and not nowhere.shares.any()
    figure = plotting.mode_shares([nowhere, collapsed, data], title="t")
    image = figure.axes[0].images[0].get_array()
    assert image.shape == (8, 3) and np.all(image.mask[:, 0])
    np.testing.assert_allclose(image[:, 1], collapsed.shares)
    with pytest.raises(ValueError, match="coverages"):
        plotting.mode_shares([])

"""The edge-likeness measure, the sparsity figures and explorer, and the epoch progress bar."""

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from lessonlib import filters, plotting
from lessonlib.training import EpochProgress


def _edge(angle, size=8):
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    return np.tanh(2 * (np.cos(angle) * cols + np.sin(angle) * rows))


def test_oriented_edges_are_coherent_and_noise_is_not():
    edges = np.stack([_edge(angle).ravel() for angle in np.linspace(0, np.pi, 6)], axis=1)
    noise = np.random.default_rng(0).normal(size=(64, 500))
    assert filters.orientation_coherence(edges).min() > 0.9
    assert np.median(filters.orientation_coherence(noise)) < 0.25
    assert filters.edge_like_share(edges) == 1.0
    # The threshold sits above the 99th percentile of random 8x8 filters (module docstring).
    assert filters.edge_like_share(noise) < 0.02
    # A blob (centre-surround) has gradients in every direction: not an edge.
    rows, cols = np.mgrid[:8, :8] - 3.5
    blob = np.exp(-(rows**2 + cols**2) / 4).reshape(64, 1)
    assert filters.orientation_coherence(blob)[0] < 0.05


def test_filter_measure_rejects_bad_shapes():
    with pytest.raises(ValueError, match="weights of shape"):
        filters.orientation_coherence(np.zeros(64))
    with pytest.raises(ValueError, match="image_shape"):
        filters.orientation_coherence(np.zeros((64, 3)), image_shape=(7, 7))
    with pytest.raises(ValueError, match="threshold=2"):
        filters.edge_like_share(np.zeros((64, 3)), threshold=2)


def test_sparsity_figures():
    rng = np.random.default_rng(0)
    figure = plotting.sparsity_summary(rng.uniform(0, 0.05, 25), rng.normal(size=(64, 25)), 0.01)
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    assert "mean" in figure.axes[0].get_title()
    curves = plotting.bernoulli_kl_curves((0.01, 0.1))
    assert len(curves.axes[0].lines) == 2
    x = np.linspace(-1, 1, 11)
    fits = plotting.densities_and_fits(x, np.ones(11), {"a": x**2, "b": np.abs(x)})
    assert len(fits.axes[0].lines) == 2


def test_sparsity_explorer_redraws_for_each_pair():
    from lessonlib import widgets

    rng = np.random.default_rng(0)
    results = {
        (rho, beta): (rng.uniform(0, 0.3, 25), rng.normal(size=(64, 25)))
        for rho in (0.01, 0.1)
        for beta in (0.0, 3.0)
    }
    explorer = widgets.sparsity_explorer(results)
    first = explorer.figure
    assert first._suptitle.get_text() == "rho = 0.01, beta = 3"
    explorer.controls["beta"].value = 0.0
    assert explorer.figure is not first
    assert explorer.figure._suptitle.get_text() == "rho = 0.01, beta = 0"


def test_epoch_progress_shows_one_bar_with_the_epoch_means(capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 3), "float32")
    progress = EpochProgress(4)
    history = model.fit(x, x[:, :1], epochs=4, batch_size=4, verbose=0, callbacks=[progress])
    assert progress.bar.target == 4 and progress.bar._seen_so_far == 4
    shown = progress.bar._values["loss"][0]
    # A stateful value is shown as given: the last epoch's loss, not an average over epochs.
    assert shown == pytest.approx(history.history["loss"][-1])
    assert "4/4" in capsys.readouterr().out
    with pytest.raises(ValueError, match="epochs=0"):
        EpochProgress(0)


def test_pairwise_cosines_by_hand_and_against_independence():
    columns = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    # pairs (0, 1), (0, 2), (1, 2): orthogonal, then 45 degrees twice
    np.testing.assert_allclose(
        filters.pairwise_cosines(columns), [0.0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12
    )
    # Independent 0/1 units firing with probability rho: cosine rho (module docstring). With
    # 200,000 samples the sampling error of each cosine is about 0.001 at rho = 0.1.
    rng = np.random.default_rng(0)
    rho = 0.1
    units = (rng.uniform(size=(200_000, 5)) < rho).astype(float)
    np.testing.assert_allclose(filters.pairwise_cosines(units), rho, atol=0.005)
    np.testing.assert_allclose(filters.independent_cosines(units), rho, atol=0.005)
    # Two units that always fire together: cosine 1, though independence would predict rho.
    together = np.repeat(units[:, :1], 2, axis=1)
    np.testing.assert_allclose(filters.pairwise_cosines(together), [1.0])
    np.testing.assert_allclose(filters.independent_cosines(together), [rho], atol=0.005)
    assert filters.pairwise_cosines(rng.normal(size=(64, 25))).shape == (300,)
    # Independent units are uncorrelated whatever their cosine; units firing together are not.
    np.testing.assert_allclose(filters.pairwise_correlations(units), 0, atol=0.01)
    np.testing.assert_allclose(filters.pairwise_correlations(together), [1.0])
    shifted = np.stack([units[:, 0], 3 - 2 * units[:, 0]], axis=1)
    np.testing.assert_allclose(filters.pairwise_correlations(shifted), [-1.0])
    np.testing.assert_allclose(
        filters.pairwise_correlations(units[:, :3]),
        np.corrcoef(units[:, :3].T)[np.triu_indices(3, k=1)],
    )
    with pytest.raises(ValueError, match="constant column \\(1\\)"):
        filters.pairwise_correlations(np.stack([units[:, 0], np.ones(len(units))], axis=1))


@pytest.mark.parametrize(
    "columns, pattern",
    [
        (np.zeros(5), "shape \\(5,\\)"),
        (np.ones((5, 1)), "at least 2 columns"),
        (np.array([[1.0, 0.0], [2.0, 0.0]]), "all-zero column \\(1\\)"),
        (np.array([[1.0, np.nan], [2.0, 1.0]]), "NaN"),
    ],
)
def test_cosines_reject_bad_columns(columns, pattern):
    with pytest.raises(ValueError, match=pattern):
        filters.pairwise_cosines(columns)
    with pytest.raises(ValueError, match=pattern):
        filters.independent_cosines(columns)


def test_orthogonality_figure():
    rng = np.random.default_rng(0)
    sparse = {
        rho: (rng.uniform(0, 1, 300), rng.uniform(0, 1, 300), rng.normal(size=300))
        for rho in (0.01, 0.05, 0.2)
    }
    references = {"no penalty": (rng.uniform(0.9, 1, 300), rng.normal(size=300))}
    figure = plotting.orthogonality(sparse, references, title="t")
    left, right = figure.axes
    assert len(left.lines) == 4 and len(right.lines) == 2  # 3 curves + 1 reference; 1 + 1
    np.testing.assert_allclose(
        right.lines[0].get_ydata(), [np.median(np.abs(sparse[rho][2])) for rho in (0.01, 0.05, 0.2)]
    )
    with pytest.raises(ValueError, match="sparse"):
        plotting.orthogonality({}, references)


def test_filter_bank_classifier_slides_the_given_filters():
    from lessonlib.models import filter_bank_classifier

    rng = np.random.default_rng(0)
    filters = rng.normal(size=(64, 6)).astype("float32")
    model = filter_bank_classifier(filters, num_classes=4, seed=0)
    convolution = model.get_layer("receptive_fields")
    unit = filters / np.linalg.norm(filters, axis=0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(convolution.kernel), unit.reshape(8, 8, 1, 6), rtol=1e-6
    )
    # Frozen: only the softmax layer's kernel and bias train.
    assert [tuple(v.shape) for v in model.trainable_variables] == [(7 * 7 * 6, 4), (4,)]
    images = rng.uniform(size=(3, 28, 28, 1)).astype("float32")
    responses = keras.ops.convert_to_numpy(convolution(images))
    # Response of filter k at (row, col): the 8x8 patch there, flattened row by row, dot w_k.
    patch = images[1, 5:13, 9:17, 0].ravel()
    np.testing.assert_allclose(
        responses[1, 5, 9], np.maximum(patch @ unit, 0), rtol=1e-4, atol=1e-5
    )
    probabilities = keras.ops.convert_to_numpy(model(images))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    scratch = filter_bank_classifier(train_filters=True, seed=0)
    assert len(scratch.trainable_variables) == 4
    np.testing.assert_allclose(
        np.linalg.norm(
            keras.ops.convert_to_numpy(scratch.get_layer("receptive_fields").kernel).reshape(
                64, 25
            ),
            axis=0,
        ),
        1,
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="\\(64, K\\). Received: filters of shape \\(49, 6\\)"):
        filter_bank_classifier(np.ones((49, 6)))
    with pytest.raises(ValueError, match="all-zero column \\(1\\)"):
        filter_bank_classifier(np.stack([np.ones(64), np.zeros(64)], axis=1))
    with pytest.raises(ValueError, match="input_shape=\\(28, 28, 3\\)"):
        filter_bank_classifier(filters, input_shape=(28, 28, 3))
    with pytest.raises(ValueError, match="patch_shape=\\(8,\\)"):
        filter_bank_classifier(filters, patch_shape=(8,))


def test_compare_scores_draws_every_run():
    figure = plotting.compare_scores({"a": [0.8, 0.9], "b (frozen)": [0.7, 0.75, 0.72]})
    axis = figure.axes[0]
    assert len(axis.patches) == 2 and len(axis.lines) == 2
    np.testing.assert_allclose(axis.patches[1].get_height(), np.mean([0.7, 0.75, 0.72]))
    with pytest.raises(ValueError, match="scores"):
        plotting.compare_scores({"a": []})

"""The KL sparsity layer and the sparse autoencoder, on every backend."""

import keras
import numpy as np
import pytest

from lessonlib import backprop, kl, runtime
from lessonlib.layers import KLSparsity
from lessonlib.models import Autoencoder, SparseAutoencoder


def _activations(seed=0, shape=(64, 6)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.01, 0.4, size=shape).astype("float32")


def _penalty_and_gradient(layer, activations):
    from lessonlib.autodiff import gradient

    value = keras.ops.convert_to_numpy(layer.penalty(activations, training=True))
    slope = gradient(lambda t: layer.penalty(t, training=True), activations)
    return float(value), slope


@pytest.mark.parametrize("estimate", ["batch", "running", "full"])
def test_estimates_agree_on_a_full_batch(estimate):
    # One batch holding all the data: batch mean = running estimate at step 1 = full average.
    activations = _activations()
    layer = KLSparsity(0.05, beta=3.0, estimate=estimate)
    layer.build(activations.shape)
    if estimate == "full":
        layer.rho_hat.assign(activations.mean(axis=0))
    value, slope = _penalty_and_gradient(layer, activations)
    rho_hat = activations.astype(np.float64).mean(axis=0)
    # float32 arithmetic on a sum of six terms of order 0.1-1.
    assert value == pytest.approx(3.0 * kl.bernoulli_kl(0.05, rho_hat).sum(), rel=1e-5)
    # d/da_{m,j} of beta * sum_j KL(rho || mean_m a_{m,j}) = beta * KL'(rho_hat_j) / M.
    expected = np.broadcast_to(
        3.0 * kl.bernoulli_kl_derivative(0.05, rho_hat) / 64, activations.shape
    )
    np.testing.assert_allclose(slope, expected, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.rho_hat), rho_hat, rtol=1e-5)


def test_running_estimate_is_bias_corrected_and_follows_the_batches():
    layer = KLSparsity(0.05, beta=1.0, estimate="running", momentum=0.5)
    layer.build((8, 3))
    first, second = np.full((8, 3), 0.2, "float32"), np.full((8, 3), 0.4, "float32")
    layer.penalty(first, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.rho_hat), 0.2, rtol=1e-6)
    layer.penalty(second, training=True)
    # (0.5 * 0.5 * 0.2 + 0.5 * 0.4) / (1 - 0.25) = 0.3333...
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.rho_hat), 0.25 / 0.75, rtol=1e-6)
    # Inference reads the estimate and leaves it alone.
    layer.penalty(first, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.rho_hat), 0.25 / 0.75, rtol=1e-6)


def test_layer_passes_input_through_and_serialises():
    layer = KLSparsity(0.1, beta=2.0, estimate="running", momentum=0.8, name="sparsity")
    activations = _activations(shape=(5, 4))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(activations)), activations)
    assert len(layer.losses) == 1
    clone = KLSparsity.from_config(layer.get_config())
    assert (clone.sparsity_target, clone.beta, clone.estimate, clone.momentum) == (
        0.1,
        2.0,
        "running",
        0.8,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sparsity_target=0.0, beta=3), "sparsity_target=0.0"),
        (dict(sparsity_target=1.5, beta=3), "sparsity_target=1.5"),
        (dict(sparsity_target=0.1, beta=-1), "beta=-1"),
        (dict(sparsity_target=0.1, beta=3, estimate="epoch"), "estimate='epoch'"),
        (dict(sparsity_target=0.1, beta=3, momentum=1.0), "momentum=1.0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KLSparsity(**kwargs)


@pytest.mark.parametrize("estimate", ["running", "full"])
def test_the_estimate_is_read_in_float32_under_mixed_precision(estimate):
    # As BatchNormalization's moving statistics: the compute dtype, bfloat16, would round
    # rho_hat to 3 significant digits (and TensorFlow refused to mix it with float32).
    rho_hat = np.array([0.0123, 0.2071, 0.0517], "float32")
    penalties = []
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        layer = KLSparsity(0.05, beta=3.0, estimate=estimate)
        layer.build((4, 3))
        layer.rho_hat.assign(rho_hat)
        layer(np.full((4, 3), 0.1, "float32"))  # inference: the penalty at rho_hat
        penalties.append(float(keras.ops.convert_to_numpy(layer.losses[0])))
    assert penalties[0] == pytest.approx(3.0 * kl.bernoulli_kl(0.05, rho_hat).sum(), rel=1e-6)
    assert penalties[1] == penalties[0]


def test_layer_rejects_non_2d_inputs():
    with pytest.raises(ValueError, match=r"\(batch_size, units\)"):
        KLSparsity(0.1, 3.0)(np.zeros((2, 3, 4), "float32"))


def test_model_cost_equals_the_numpy_cost():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, size=(50, 16)).astype("float32")
    model = SparseAutoencoder(16, 5, sparsity_target=0.1, beta=3.0, weight_decay=1e-3, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = model.evaluate(x, x, batch_size=50, verbose=0, return_dict=True)
    reference = backprop.cost(model.backprop_parameters(), x, 0.1, 3.0, 1e-3)
    # evaluate reads rho_hat from the layer, which starts at rho; train one step of zero size
    # so the batch estimate is this batch's mean, then compare all three parts.
    model.fit(x, batch_size=50, epochs=1, verbose=0)
    history = model.fit(x, batch_size=50, epochs=1, verbose=0).history
    # A float32 forward pass against float64: 1e-5 on a CPU. GPUs multiply float32 matrices
    # in TF32 by default (10-bit mantissa), which moved the H100's result by 2e-5; 1e-3 still
    # catches a missing 1/2, 1/M or lambda/2.
    rel = 1e-5 if runtime.device().kind == "CPU" else 1e-3
    assert logs["reconstruction"] == pytest.approx(reference.reconstruction, rel=rel)
    for name in ("reconstruction", "weight_decay", "sparsity"):
        assert history[name][0] == pytest.approx(getattr(reference, name), rel=10 * rel), name
    assert history["loss"][0] == pytest.approx(reference.total, rel=10 * rel)
    np.testing.assert_allclose(
        model.average_activation(x),
        backprop.forward(model.backprop_parameters(), x)[0].mean(0),
        rtol=1e-5,
    )


@pytest.mark.parametrize("estimate", ["batch", "running", "full"])
def test_training_drives_rho_hat_towards_rho(estimate):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 0.9, size=(512, 16)).astype("float32")
    keras.utils.set_random_seed(0)
    model = SparseAutoencoder(
        16,
        8,
        sparsity_target=0.05,
        beta=3.0,
        weight_decay=1e-4,
        estimate=estimate,
        refresh_steps=2,
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    start = model.average_activation(x).mean()
    history = model.fit(x, batch_size=64, epochs=15, verbose=0).history
    final = model.average_activation(x).mean()
    assert start > 0.3
    # Within 50 % of rho, the criterion for the lesson.
    assert abs(final - 0.05) < 0.025, final
    assert history["loss"][-1] < history["loss"][0]
    assert set(history) >= {"reconstruction", "weight_decay", "sparsity", "mean_activation"}


def test_model_saves_and_loads(tmp_path):
    x = np.random.default_rng(0).uniform(0.1, 0.9, (32, 16)).astype("float32")
    model = SparseAutoencoder(16, 4, sparsity_target=0.1, estimate="running", seed=3)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, verbose=0)
    path = tmp_path / "sparse.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.estimate == "running" and loaded.sparsity_target == 0.1
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.sparsity.rho_hat),
        keras.ops.convert_to_numpy(model.sparsity.rho_hat),
    )


def test_model_rejects_wrong_input_size():
    model = SparseAutoencoder(16, 4)
    with pytest.raises(ValueError, match=r"\(batch_size, 16\)"):
        model(np.zeros((2, 9), "float32"))
    with pytest.raises(ValueError, match="x of shape"):
        model.average_activation(np.zeros((2, 9)))
    with pytest.raises(ValueError, match="refresh_steps=0"):
        SparseAutoencoder(16, 4, refresh_steps=0)


@pytest.mark.parametrize("tied_weights", [False, True])
def test_linear_autoencoder_reaches_the_pca_error(tied_weights):
    # A linear autoencoder's optimum spans the top principal components (Baldi & Hornik 1989).
    # Tied, X_hat = b + E^T (E X + c) is the notes' simplest decoder, whose optimum has
    # orthonormal rows E (lesson 03).
    rng = np.random.default_rng(0)
    x = (
        rng.normal(size=(400, 3)) @ rng.normal(size=(3, 10)) + 0.05 * rng.normal(size=(400, 10))
    ).astype("float32")
    x -= x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    pca_error = np.mean((x - x @ vt[:2].T @ vt[:2]) ** 2)
    keras.utils.set_random_seed(0)
    model = Autoencoder(10, 2, tied_weights=tied_weights)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(x, x, epochs=150, batch_size=100, verbose=0)
    error = np.mean((keras.ops.convert_to_numpy(model(x)) - x) ** 2)
    assert error >= pca_error * (1 - 1e-4)  # PCA is optimal: nothing linear does better
    assert error <= pca_error * 1.05  # and training gets within 5 % of it
    assert model.encode(x).shape == (400, 2) and model.decode(model.encode(x)).shape == x.shape
    clone = Autoencoder.from_config(model.get_config())
    assert clone.num_latent == 2 and clone.hidden_units == ()
    assert clone.tied_weights == tied_weights
    if tied_weights:
        rows = keras.ops.convert_to_numpy(model.encoder.layers[-1].kernel).T
        # Measured 0.002-0.01 on the three backends; an untied encoder's rows are 0.3+ off.
        np.testing.assert_allclose(rows @ rows.T, np.eye(2), atol=0.05)


@pytest.mark.parametrize("hidden_units", [(), (6,)])
def test_tied_autoencoder_decodes_with_the_encoder_kernels_transposed(hidden_units, tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 10)).astype("float32")
    model = Autoencoder(10, 3, hidden_units=hidden_units, tied_weights=True)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x, epochs=2, verbose=0)
    # Only biases of its own in the decoder: one kernel per encoder layer, shared.
    kernels = [v for v in model.trainable_variables if len(v.shape) == 2]
    assert len(kernels) == len(hidden_units) + 1
    assert all(len(v.shape) == 1 for v in model.decoder.weights)  # counted once, in the encoder
    assert model.count_params() == model.encoder.count_params() + model.decoder.count_params()
    layers = [
        (keras.ops.convert_to_numpy(layer.kernel), keras.ops.convert_to_numpy(layer.bias))
        for layer in model.encoder.layers
    ]
    biases = [keras.ops.convert_to_numpy(layer.bias) for layer in model.decoder.layers]
    expected = x
    for index, (kernel, bias) in enumerate(layers):
        expected = expected @ kernel + bias
        if index < len(layers) - 1:
            expected = np.maximum(expected, 0)  # relu between hidden layers
    for index, ((kernel, _), bias) in enumerate(zip(layers[::-1], biases, strict=True)):
        expected = expected @ kernel.T + bias
        if index < len(layers) - 1:
            expected = np.maximum(expected, 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    path = tmp_path / "tied.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.tied_weights
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )


def test_hidden_activations_are_what_rho_hat_averages():
    x = np.random.default_rng(0).uniform(0.1, 0.9, (50, 16)).astype("float32")
    model = SparseAutoencoder(16, 4, seed=0)
    hidden = model.hidden_activations(x, batch_size=7)
    assert hidden.shape == (50, 4) and np.all((hidden > 0) & (hidden < 1))
    np.testing.assert_allclose(model.average_activation(x), hidden.mean(axis=0), rtol=1e-6)
    kernel = keras.ops.convert_to_numpy(model.encoder.kernel)
    np.testing.assert_allclose(hidden, 1 / (1 + np.exp(-(x @ kernel))), rtol=1e-5)
    with pytest.raises(ValueError, match="shape \\(M, 16\\)"):
        model.hidden_activations(np.zeros((2, 9)))


class _Refreshes:
    """Counts the full-data refreshes `fit` makes."""

    def __init__(self, model):
        self.count = 0
        original = model.refresh_full_estimate

        def counted(x):
            self.count += 1
            original(x)

        model.refresh_full_estimate = counted


@pytest.mark.parametrize("steps_per_execution", [1, 5])
def test_full_estimate_refreshes_every_refresh_steps_across_epochs(steps_per_execution):
    # 3 epochs of 8 steps: a refresh at steps 0, 10 and 20, whether Keras calls the batch
    # callbacks at every step or once per 5 steps (then at the first call past each multiple).
    x = np.random.default_rng(0).uniform(0.1, 0.9, (64, 16)).astype("float32")
    model = SparseAutoencoder(16, 4, estimate="full", refresh_steps=10, seed=0)
    counter = _Refreshes(model)
    model.compile(
        optimizer="adam", steps_per_execution=runtime.steps_per_execution(steps_per_execution)
    )
    model.fit(x, batch_size=8, epochs=3, verbose=0)
    assert counter.count == 3


@pytest.mark.parametrize("steps_per_execution", [1, 5])
def test_sparsity_trace_records_the_current_weights_every_few_steps(steps_per_execution):
    from lessonlib.training import SparsityTrace

    x = np.random.default_rng(0).uniform(0.1, 0.9, (80, 16)).astype("float32")
    model = SparseAutoencoder(16, 4, sparsity_target=0.05, beta=3.0, seed=0)
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        steps_per_execution=(runtime.steps_per_execution(steps_per_execution)),
    )
    trace = SparsityTrace(x, every=5)
    model.fit(x, batch_size=8, epochs=5, verbose=0, callbacks=[trace])
    assert trace.steps == list(range(5, 51, 5))  # 10 steps an epoch, counted across epochs
    assert trace.rho_hat.shape == (10, 4)
    # The last record was taken after the last step: on JAX too, where the weights live in
    # the trainer's state during fit.
    np.testing.assert_allclose(trace.rho_hat[-1], model.average_activation(x), rtol=1e-6)
    assert not np.allclose(trace.rho_hat[0], trace.rho_hat[-1], rtol=1e-3)
    with pytest.raises(ValueError, match="every=0"):
        SparsityTrace(x, every=0)


def test_sparsity_trace_counts_steps_when_the_data_has_no_length():
    # A generator: Keras knows no number of steps an epoch (`params["steps"]` is None), so the
    # trace counts the steps itself.
    from lessonlib.training import SparsityTrace

    x = np.random.default_rng(0).uniform(0.1, 0.9, (80, 16)).astype("float32")
    model = SparseAutoencoder(16, 4, sparsity_target=0.05, beta=3.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    trace = SparsityTrace(x, every=4)
    model.fit(((batch,) for batch in np.split(x, 10)), epochs=1, verbose=0, callbacks=[trace])
    assert trace.steps == [4, 8]

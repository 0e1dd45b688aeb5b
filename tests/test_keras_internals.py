"""The parts of Keras's private API the library relies on (lessonlib/_keras_internals.py) are
still there and still mean what the library assumes. A Keras release that moves one fails here,
by name, instead of the library silently doing less."""

import keras
import numpy as np

from lessonlib import _keras_internals as internals


def _nested():
    inner = keras.Sequential([keras.layers.Dense(3, name="inner_dense")], name="inner")
    outer = keras.Sequential([inner, keras.layers.Dropout(0.5, name="dropout")], name="outer")
    outer.build((None, 2))
    return outer


def test_sublayers_reach_nested_layers_and_leave_out_the_layer_itself():
    names = [
        layer.name
        for layer in internals.sublayers(_nested())
        if not isinstance(layer, keras.layers.InputLayer)
    ]  # built Sequentials have one
    assert names == ["inner", "inner_dense", "dropout"]


def test_seed_generators_are_the_layers_own():
    model = _nested()
    dropout = model.get_layer("dropout")
    generators = internals.seed_generators(dropout)
    assert len(generators) == 1 and isinstance(generators[0], keras.random.SeedGenerator)
    assert internals.seed_generators(model.get_layer("inner")) == []


def test_own_variables_leave_out_the_sublayers():
    class Scaled(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
            self.count = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="count"
            )
            self.dense = keras.layers.Dense(2)
            self.dense.build(input_shape)

        def call(self, x):
            return self.dense(x) * self.scale

    layer = Scaled()
    layer.build((None, 2))
    assert [variable.name for variable in internals.own_variables(layer)] == ["scale", "count"]


def test_sync_training_state_makes_a_callback_read_the_current_weights():
    seen = []

    class Reads(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            internals.sync_training_state(self.model)
            seen.append(keras.ops.convert_to_numpy(self.model.layers[0].kernel).copy())

    model = keras.Sequential([keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[Reads()])
    # Three steps, three different kernels; the last is what fit leaves.
    assert not np.allclose(seen[0], seen[1]) and not np.allclose(seen[1], seen[2])
    np.testing.assert_array_equal(seen[-1], keras.ops.convert_to_numpy(model.layers[0].kernel))


def test_array_adapter_is_found_and_builds_the_pipeline_fit_uses():
    adapter = internals.array_adapter()
    assert adapter is not None, "keras moved ArrayDataAdapter: runtime.tf_data_autotuner is off"
    assert callable(adapter.get_tf_dataset)

"""Every use of Keras's private API in the library, in one place.

Keras has no public way to do these. Each function says what it relies on, and
tests/test_keras_internals.py fails loudly, naming the function, when a Keras release moves or
renames it, instead of the library silently doing less.
"""

import keras


def sublayers(layer):
    """Every layer inside `layer`, recursively, not `layer` itself (`Layer._flatten_layers`;
    `Model.layers` lists only the direct children)."""
    return list(layer._flatten_layers(include_self=False, recursive=True))


def seed_generators(layer):
    """The `keras.random.SeedGenerator`s a layer itself owns (`Layer._seed_generators`)."""
    return list(layer._seed_generators)


def own_variables(layer):
    """The variables a layer or model created itself, not its sublayers' (trainable first;
    `Layer._trainable_variables` and `_non_trainable_variables`)."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def sync_training_state(model):
    """Bring a model's variables up to date during `fit`, for a callback that reads them.

    On JAX, Keras's trainer keeps the weights in its own state while it trains and writes them
    back only at the end (`JAXTrainer.jax_state_sync`); other backends train in place.
    """
    if keras.backend.backend() == "jax":
        model.jax_state_sync()


def array_adapter():
    """Keras's class that turns NumPy arrays into a `tf.data` pipeline for `fit`, or None if it
    has moved (`keras/src/trainers/data_adapters/array_data_adapter.py`): Keras offers no
    public option for that pipeline's `tf.data.Options`."""
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:
        return None
    return ArrayDataAdapter

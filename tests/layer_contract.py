"""Keras's own layer test scaffold, for the layers and subclassed models the course ships.

`run_layer_test` follows `TestCase.run_layer_test` in Keras's `keras/src/testing/test_case.py`:
a `Contract` says how to make a layer or model, what to call it on and what it promises, and
each `check_*` function asserts one part of that promise, failing with a message that names
the part and the contract:

- `check_config_round_trip`: `from_config(get_config())` and
  `deserialize_keras_object(serialize_keras_object(...))` give back the same config and the
  same attributes (Keras's `run_class_serialization_test`), and the same arguments, which
  a config that forgets one would not show;
- `check_weights`: built from shapes alone or by a symbolic call, it holds the expected numbers
  of trainable and non-trainable weights and variables;
- `check_symbolic_matches_eager`: a call on `keras.KerasTensor`s and one on arrays give the
  same output shapes and dtypes, the expected ones, as do `compute_output_shape` and
  `compute_output_spec` where the class defines them, and the eager call adds the expected
  number of losses;
- `check_fit_step`: one `fit` step gives finite losses and moves every trainable weight; a
  layer is trained inside a model that scales its float inputs by a trainable `probe`, which
  moves only if gradients pass through the layer to its inputs;
- `check_saved_model`: saved to a `.keras` file and loaded, with every variable first moved
  away from its initial value, it gives the very same outputs and variables;
- `check_mixed_bfloat16`: made under the `mixed_bfloat16` policy, its outputs have the dtypes
  `compute_output_spec` announces, the expected ones, and its float weights stay float32.
"""

import dataclasses
import json
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from lessonlib import _keras_internals


@dataclasses.dataclass(frozen=True)
class Contract:
    """What a layer or model promises, for the `check_*` functions.

    Attributes:
        id: names the contract in test ids and failure messages.
        make: returns a new, unbuilt instance, under the dtype policy in force when called.
        inputs: the positional arguments of a call, NumPy arrays with the batch axis first.
        output_shapes: the eager output shapes, one per output (a layer returning a tuple
            returns several).
        output_dtypes: the outputs' dtypes under the float32 policy.
        trainable_weights: how many trainable weights the built instance holds.
        non_trainable_weights: how many non-trainable weights it holds.
        non_trainable_variables: how many non-trainable variables, `SeedGenerator` states
            included; by default `non_trainable_weights`.
        losses: how many losses one eager call adds (`layer.losses`).
        mixed_output_dtypes: the outputs' dtypes under `mixed_bfloat16`; by default bfloat16
            for each float output, as Keras's own layers give.
        fit: `fit(instance, inputs)` compiles the instance and trains it one step, returning
            the `History`: for models with their own loss or training step. By default the
            instance is trained inside a model that sums its float outputs (Keras's scaffold).
        serializable: False for a layer that documents it cannot be rebuilt from its config
            alone; the config and save checks then do not apply.
    """

    id: str
    make: Callable[[], keras.layers.Layer]
    inputs: tuple
    output_shapes: tuple
    output_dtypes: tuple
    trainable_weights: int
    non_trainable_weights: int
    non_trainable_variables: int | None = None
    losses: int = 0
    mixed_output_dtypes: tuple | None = None
    fit: Callable | None = None
    serializable: bool = True

    def __str__(self):
        return self.id


def run_layer_test(contract, tmp_path):
    """Every check of the contract, in the order of Keras's `run_layer_test`."""
    if contract.serializable:
        check_config_round_trip(contract)
    check_weights(contract)
    check_symbolic_matches_eager(contract)
    check_fit_step(contract)
    if contract.serializable:
        check_saved_model(contract, tmp_path)
    check_mixed_bfloat16(contract)


def trainable_arrays(layer):
    """Copies of a layer's trainable weights, as NumPy arrays."""
    return [ops.convert_to_numpy(variable).copy() for variable in layer.trainable_variables]


def moved(before, after):
    """For each weight, whether it changed between two `trainable_arrays` snapshots."""
    return [not np.array_equal(first, second) for first, second in zip(before, after, strict=True)]


def check_config_round_trip(contract):
    """`from_config(get_config())`, and `serialize_keras_object` -> JSON ->
    `deserialize_keras_object` (JSON that keeps tuples apart from lists, as in Keras's
    scaffold), give an object of the same class, config and attributes, whose plain-valued
    public attributes (its arguments) are the original's: an argument the config forgets
    comes back as its default, which the configs alone would not show."""
    instance = contract.make()
    config = _tuples_tagged(instance.get_config())
    attributes = _public_dir(instance)
    settings = _settings(instance)
    serialized = _tuples_tagged(keras.saving.serialize_keras_object(instance))
    for how, revived in (
        ("from_config(get_config())", type(instance).from_config(instance.get_config())),
        (
            "deserialize_keras_object(serialize_keras_object())",
            keras.saving.deserialize_keras_object(_tuples_untagged(serialized)),
        ),
    ):
        assert type(revived) is type(instance), (
            f"{contract}: {how} gives a {type(revived).__name__}"
        )
        assert _tuples_tagged(revived.get_config()) == config, (
            f"{contract}: {how} gives another config"
        )
        assert _public_dir(revived) == attributes, (
            f"{contract}: {how} gives other attributes: {sorted(_public_dir(revived) ^ attributes)}"
        )
        # What the config leaves out comes back as a default, in both configs alike.
        lost = {
            name: (value, _settings(revived).get(name))
            for name, value in settings.items()
            if _settings(revived).get(name) != value
        }
        assert not lost, f"{contract}: {how} loses settings (given, revived): {lost}"


def check_weights(contract):
    """Built by `build(*input_shapes)`, and built by a call on `KerasTensor`s, the instance
    holds the expected numbers of trainable and non-trainable weights and variables."""
    for how in ("build", "symbolic call"):
        instance = contract.make()
        if how == "build":
            instance.build(*[x.shape for x in contract.inputs])
        else:
            instance(*_keras_tensors(contract.inputs))
        assert instance.built, f"{contract}: not built after a {how}"
        counts = (
            len(instance.trainable_weights),
            len(instance.non_trainable_weights),
            len(instance.non_trainable_variables),
        )
        non_trainable_variables = (
            contract.non_trainable_weights
            if contract.non_trainable_variables is None
            else contract.non_trainable_variables
        )
        expected = (
            contract.trainable_weights,
            contract.non_trainable_weights,
            non_trainable_variables,
        )
        assert counts == expected, (
            f"{contract}: after a {how}, (trainable weights, non-trainable weights, "
            f"non-trainable variables) = {counts}, expected {expected}"
        )


def check_symbolic_matches_eager(contract):
    """A call on `KerasTensor`s with an unknown batch size and a call on the arrays give the
    expected shapes and dtypes, as do `compute_output_shape` and `compute_output_spec` where
    the class defines them (a symbolic call goes through `compute_output_spec`); the eager
    call adds the expected number of losses."""
    eager_layer = contract.make()
    eager = keras.tree.flatten(eager_layer(*contract.inputs))
    symbolic = keras.tree.flatten(contract.make()(*_keras_tensors(contract.inputs)))
    if type(eager_layer).compute_output_spec is not keras.layers.Layer.compute_output_spec:
        specs = keras.tree.flatten(
            eager_layer.compute_output_spec(*_keras_tensors(contract.inputs))
        )
        assert [(tuple(spec.shape), _dtype(spec)) for spec in specs] == [
            (tuple(spec.shape), _dtype(spec)) for spec in symbolic
        ], f"{contract}: compute_output_spec and a symbolic call disagree"
    assert len(eager) == len(symbolic) == len(contract.output_shapes), (
        f"{contract}: {len(eager)} eager outputs, {len(symbolic)} symbolic, expected "
        f"{len(contract.output_shapes)}"
    )
    for index, (tensor, spec, shape, dtype) in enumerate(
        zip(eager, symbolic, contract.output_shapes, contract.output_dtypes, strict=True)
    ):
        got = (tuple(tensor.shape), _dtype(tensor), tuple(spec.shape), _dtype(spec))
        assert got == (tuple(shape), dtype, (None, *shape[1:]), dtype), (
            f"{contract}: output {index}: eager shape and dtype, symbolic shape and dtype = "
            f"{got}, expected {(tuple(shape), dtype, (None, *shape[1:]), dtype)}"
        )
    if type(eager_layer).compute_output_shape is not keras.layers.Layer.compute_output_shape:
        shapes = eager_layer.compute_output_shape(*[x.shape for x in contract.inputs])
        shapes = [shapes] if len(contract.output_shapes) == 1 else list(shapes)
        assert [tuple(shape) for shape in shapes] == [tuple(x.shape) for x in eager], (
            f"{contract}: compute_output_shape gives {shapes}, the call "
            f"{[tuple(x.shape) for x in eager]}"
        )
    assert len(eager_layer.losses) == contract.losses, (
        f"{contract}: a call added {len(eager_layer.losses)} losses, expected {contract.losses}"
    )


class Probe(keras.Model):
    """One layer, its float inputs first scaled by a trainable scalar `probe` (initially 1).

    Trained on the sum of its float outputs plus the layer's own losses, as Keras's scaffold
    trains on `ops.sum(y_pred)`; `probe` moves only if gradients pass through the layer.
    """

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.probe = self.add_weight(shape=(), initializer="ones", name="probe")

    def call(self, inputs, training=False):
        scaled = [
            x * ops.cast(self.probe, x.dtype) if keras.backend.is_float_dtype(x.dtype) else x
            for x in inputs
        ]
        return self.layer(*scaled, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        terms = [
            ops.sum(ops.cast(output, "float32"))
            for output in keras.tree.flatten(y_pred)
            if keras.backend.is_float_dtype(output.dtype)
        ]
        terms += [ops.cast(loss, "float32") for loss in self.losses]
        # 0 * probe: a loss that no gradient reaches still backpropagates on PyTorch, which
        # would raise instead, and the probe then stays where it was.
        return ops.sum(ops.stack(terms)) + 0.0 * self.probe


def check_fit_step(contract):
    """One training step gives finite losses and metrics and moves every trainable weight of
    the instance; trained by the default scaffold, it also passes gradients to its inputs."""
    instance = contract.make()
    inputs = list(contract.inputs)
    if contract.fit is None:
        model = Probe(instance)
        model(inputs)
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        before, probe = trainable_arrays(instance), ops.convert_to_numpy(model.probe)
        history = model.fit(inputs, batch_size=len(inputs[0]), epochs=1, verbose=0)
        assert ops.convert_to_numpy(model.probe) != probe, (
            f"{contract}: no gradient reached the layer's inputs (the probe did not move)"
        )
    else:
        instance(*inputs)
        before = trainable_arrays(instance)
        history = contract.fit(instance, inputs)
    assert history.history, f"{contract}: fit logged nothing"
    for name, values in history.history.items():
        assert np.isfinite(values[0]), f"{contract}: {name} = {values[0]} after one step"
    still = [
        variable.path
        for variable, changed in zip(
            instance.trainable_variables, moved(before, trainable_arrays(instance)), strict=True
        )
        if not changed
    ]
    assert not still, f"{contract}: one training step left {still} unchanged"


def check_saved_model(contract, tmp_path):
    """Saved to a `.keras` file and loaded, with every variable moved away from its initial
    value first (so a variable the file leaves out is noticed), the instance or a functional
    model around it gives the same outputs and variables, exactly."""
    instance = contract.make()
    if isinstance(instance, keras.Model):
        model, arguments = instance, contract.inputs
        model(*arguments)
    else:  # a functional model takes a list for several inputs
        inputs = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in contract.inputs]
        model = keras.Model(inputs if len(inputs) > 1 else inputs[0], instance(*inputs))
        arguments = [list(contract.inputs)] if len(inputs) > 1 else contract.inputs
    rng = np.random.default_rng(0)
    for variable in instance.variables:
        value = ops.convert_to_numpy(variable)
        if keras.backend.is_float_dtype(variable.dtype):
            variable.assign(rng.uniform(0.05, 0.95, value.shape).astype(value.dtype))
        else:  # a step counter, a seed generator's state
            variable.assign(value + np.asarray(3, value.dtype))
    path = tmp_path / f"{contract}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for index, (first, second) in enumerate(
        zip(
            keras.tree.flatten(model(*arguments)),
            keras.tree.flatten(loaded(*arguments)),
            strict=True,
        )
    ):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(second),
            ops.convert_to_numpy(first),
            err_msg=f"{contract}: output {index} of the loaded model differs",
        )
    saved = {variable.path: ops.convert_to_numpy(variable) for variable in model.variables}
    restored = {variable.path: ops.convert_to_numpy(variable) for variable in loaded.variables}
    assert len(restored) == len(saved), f"{contract}: {sorted(saved)} != {sorted(restored)}"
    for (path, first), second in zip(saved.items(), restored.values(), strict=True):
        np.testing.assert_array_equal(second, first, err_msg=f"{contract}: {path} was not restored")


def check_mixed_bfloat16(contract):
    """Made under the `mixed_bfloat16` policy, the instance's outputs have the dtypes its
    `compute_output_spec` announces, the expected ones, and are finite; its float weights are
    float32. The global policy is restored afterwards."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        instance = contract.make()
        outputs = keras.tree.flatten(instance(*contract.inputs))
        specs = keras.tree.flatten(
            instance.compute_output_spec(
                *[
                    keras.KerasTensor(
                        x.shape,
                        dtype=instance.compute_dtype
                        if instance.autocast and keras.backend.is_float_dtype(x.dtype)
                        else str(x.dtype),
                    )
                    for x in contract.inputs
                ]
            )
        )
        weights = {weight.path: _dtype(weight) for weight in instance.weights}
        losses = [
            float(ops.convert_to_numpy(ops.cast(loss, "float32"))) for loss in instance.losses
        ]
    finally:
        keras.mixed_precision.set_global_policy(previous)
    expected = contract.mixed_output_dtypes or tuple(
        "bfloat16" if keras.backend.is_float_dtype(dtype) else dtype
        for dtype in contract.output_dtypes
    )
    got = tuple(_dtype(output) for output in outputs)
    announced = tuple(_dtype(spec) for spec in specs)
    assert got == announced == expected, (
        f"{contract}: under mixed_bfloat16 the outputs are {got}, compute_output_spec says "
        f"{announced}, expected {expected}"
    )
    for index, output in enumerate(outputs):
        if keras.backend.is_float_dtype(output.dtype):
            values = ops.convert_to_numpy(ops.cast(output, "float32"))
            assert np.isfinite(values).all(), f"{contract}: output {index} is not finite"
    assert np.isfinite(losses).all(), f"{contract}: losses {losses} under mixed_bfloat16"
    wrong = {
        path: dtype
        for path, dtype in weights.items()
        if keras.backend.is_float_dtype(dtype) and dtype != "float32"
    }
    assert not wrong, f"{contract}: float weights not kept in float32: {wrong}"


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def _keras_tensors(arrays):
    """A `KerasTensor` of unknown batch size for each array, as `keras.Input` makes."""
    return [keras.KerasTensor((None, *x.shape[1:]), dtype=str(x.dtype)) for x in arrays]


def _settings(instance):
    """The public attributes that hold plain values, the instance's own and its sublayers'
    (but for their names, which Keras may number anew): its arguments, as it keeps them
    (`pool_size`, `padding`, a sparse autoencoder's `KLSparsity`'s `momentum`, ...)."""

    def own(layer):
        plain = (bool, int, float, str, tuple, type(None))
        return {
            name: value
            for name, value in vars(layer).items()
            if not name.startswith("_") and isinstance(value, plain)
        }

    settings = own(instance)
    for index, layer in enumerate(_keras_internals.sublayers(instance)):
        settings.update(
            {
                f"{index}:{type(layer).__name__}.{name}": value
                for name, value in own(layer).items()
                if name != "name"
            }
        )
    return settings


def _public_dir(instance):
    return set(dir(instance)) - {"__annotations__"}


def _tuples_tagged(value):
    """A config as JSON in which a tuple and a list differ, as Keras's scaffold compares."""

    def tag(item):
        if isinstance(item, tuple):
            return {"__tuple__": [tag(entry) for entry in item]}
        if isinstance(item, list):
            return [tag(entry) for entry in item]
        if isinstance(item, dict):
            return {key: tag(entry) for key, entry in item.items()}
        return item

    return json.dumps(tag(value), sort_keys=True)


def _tuples_untagged(text):
    """The config `_tuples_tagged` wrote, its tuples restored."""
    return json.loads(
        text,
        object_hook=lambda item: tuple(item["__tuple__"]) if set(item) == {"__tuple__"} else item,
    )

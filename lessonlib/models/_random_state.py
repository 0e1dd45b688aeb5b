"""Models that save the state of their random generators with their weights."""

from lessonlib import _keras_internals


class SavesRandomState:
    """Mixed into a `keras.Model` that draws noise as it trains (a GAN's z, a VAE's eps).

    Keras saves a `SeedGenerator`'s state with no layer, so a model loaded from a `.keras` file,
    or a run resumed from a checkpoint, would draw other noise and other dropout masks than the
    model it continues. Saved here with the model's own variables, a resumed run ends with the
    same weights as one never interrupted.
    """

    def _saved_state(self):
        """The model's own variables, and the state of every random generator in it."""
        seed_states = [
            generator.state
            for layer in [self, *_keras_internals.sublayers(self)]
            for generator in _keras_internals.seed_generators(layer)
        ]
        return _keras_internals.own_variables(self) + seed_states

    def save_own_variables(self, store):
        for index, variable in enumerate(self._saved_state()):
            store[f"{index}"] = variable

    def load_own_variables(self, store):
        variables = self._saved_state()
        name = type(self).__name__
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"The checkpoint holds {len(store.keys())} variables for the {name} itself, but "
                f"this {name} has {len(variables)} (its own weights and random generators): it "
                f"was saved from a {name} with other networks."
            )
        for index, variable in enumerate(variables):
            variable.assign(store[f"{index}"])

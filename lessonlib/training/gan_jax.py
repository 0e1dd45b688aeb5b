"""The GAN's training step on JAX: `jax.value_and_grad` over stateless variables, jit-compiled.

JAX's `fit` keeps the model's state outside the variables, as four lists of arrays (trainable,
non-trainable, optimiser and metric variables), and jit-compiles a pure function from state to
state. The shared pieces of `GAN` read and write Keras variables; a `keras.StatelessScope`
maps each variable to its current value in that state, and collects what was assigned (the
noise generator's seed, batch-norm statistics, the step counter, the metrics).
"""

import jax
import jax.numpy as jnp
import keras


class _State:
    """The four lists of `fit`'s state, with the generator's and the discriminator's trainable
    values and optimiser values picked out by identity of the model's variables."""

    def __init__(self, gan, state):
        self.gan = gan
        self.trainable, self.non_trainable, self.optimizer, self.metrics = (
            list(part) for part in state
        )
        ids = {id(variable): index for index, variable in enumerate(gan.trainable_variables)}
        self.d_index = [ids[id(variable)] for variable in gan.discriminator.trainable_variables]
        self.g_index = [ids[id(variable)] for variable in gan.generator.trainable_variables]
        self.d_optimizer_size = len(gan.d_optimizer.variables)

    def values(self, index):
        return [self.trainable[position] for position in index]

    def with_values(self, index, values):
        trainable = list(self.trainable)
        for position, value in zip(index, values, strict=True):
            trainable[position] = value
        return trainable

    def run(self, function, trainable=None, non_trainable=None):
        """Call `function()` with every variable read from this state; return its result and
        the non-trainable and metric values it leaves."""
        gan = self.gan
        mapping = (
            list(zip(gan.trainable_variables, trainable or self.trainable, strict=True))
            + list(
                zip(gan.non_trainable_variables, non_trainable or self.non_trainable, strict=True)
            )
            + list(zip(gan.optimizer.variables, self.optimizer, strict=True))
            + list(zip(gan.metrics_variables, self.metrics, strict=True))
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            result = function()
        return (
            result,
            [scope.get_current_value(variable) for variable in gan.non_trainable_variables],
            [scope.get_current_value(variable) for variable in gan.metrics_variables],
        )

    def update(self, optimizer, offset, index, gradients, active):
        """Apply `optimizer` to the values at `index`; keep the old values where `active` is
        False (the notes' schedule), so a frozen network and its optimiser do not move."""
        count = len(optimizer.variables)
        old_optimizer = self.optimizer[offset : offset + count]
        old_values = self.values(index)
        new_values, new_optimizer = optimizer.stateless_apply(old_optimizer, gradients, old_values)
        if active is not None:
            keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
            new_values = jax.tree_util.tree_map(keep, new_values, old_values)
            new_optimizer = jax.tree_util.tree_map(keep, new_optimizer, old_optimizer)
        self.trainable = self.with_values(index, new_values)
        self.optimizer[offset : offset + count] = new_optimizer

    def as_tuple(self):
        return self.trainable, self.non_trainable, self.optimizer, self.metrics


def _loss_function(state, index, compute):
    """A function of the values at `index` alone, for `jax.value_and_grad`/`jax.vjp`."""

    def function(values):
        (losses, aux), non_trainable, _ = state.run(compute, state.with_values(index, values))
        return losses, (aux, non_trainable)

    return function


def train_step(gan, state, data):
    real = gan.real_samples(data)
    state = _State(gan, state)
    (d_active, g_active), _, _ = state.run(gan.active)
    d_optimizer, g_optimizer = gan.d_optimizer, gan.g_optimizer
    if gan.discriminator_steps == 1:
        # Both losses from one forward pass; one backward pass for each (like two tapes).
        def both(d_values, g_values):
            trainable = state.with_values(state.d_index, d_values)
            for position, value in zip(state.g_index, g_values, strict=True):
                trainable[position] = value
            (scaled, aux), non_trainable, _ = state.run(
                lambda: _scaled_pair(gan, gan.joint_pass(real)), trainable
            )
            return scaled, (aux, non_trainable)

        (scaled_d, scaled_g), backward, (aux, non_trainable) = jax.vjp(
            both, state.values(state.d_index), state.values(state.g_index), has_aux=True
        )
        d_gradients, _ = backward((jnp.ones_like(scaled_d), jnp.zeros_like(scaled_g)))
        _, g_gradients = backward((jnp.zeros_like(scaled_d), jnp.ones_like(scaled_g)))
        (d_loss, g_loss), logits = aux
        state.non_trainable = non_trainable
        state.update(d_optimizer, 0, state.d_index, d_gradients, d_active)
        state.update(g_optimizer, state.d_optimizer_size, state.g_index, g_gradients, g_active)
    else:
        for _ in range(gan.discriminator_steps):
            function = _loss_function(
                state, state.d_index, lambda: _scaled(d_optimizer, *gan.discriminator_pass(real))
            )
            (_, ((d_loss, logits), non_trainable)), d_gradients = jax.value_and_grad(
                function, has_aux=True
            )(state.values(state.d_index))
            state.non_trainable = non_trainable
            state.update(d_optimizer, 0, state.d_index, d_gradients, d_active)
        batch_size = real.shape[0]
        function = _loss_function(
            state, state.g_index, lambda: _scaled(g_optimizer, gan.generator_pass(batch_size), None)
        )
        (_, ((g_loss, _), non_trainable)), g_gradients = jax.value_and_grad(function, has_aux=True)(
            state.values(state.g_index)
        )
        state.non_trainable = non_trainable
        state.update(g_optimizer, state.d_optimizer_size, state.g_index, g_gradients, g_active)
    logs, state.non_trainable, state.metrics = state.run(
        lambda: gan.record(d_loss, g_loss, *logits)
    )
    return logs, state.as_tuple()


def _scaled(optimizer, loss, aux):
    """(the loss scaled for float16 training, (the loss itself, aux))."""
    return optimizer.scale_loss(loss), (loss, aux)


def _scaled_pair(gan, pass_result):
    (d_loss, g_loss), logits = pass_result
    scaled = (gan.d_optimizer.scale_loss(d_loss), gan.g_optimizer.scale_loss(g_loss))
    return scaled, ((d_loss, g_loss), logits)

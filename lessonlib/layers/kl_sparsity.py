"""The sparse autoencoder's penalty, beta * sum_j KL(rho || rho_hat_j), as a Keras layer."""

import keras
from keras import ops

from lessonlib import _validation
from lessonlib.kl import bernoulli_kl_derivative_ops, bernoulli_kl_ops

ESTIMATES = ("batch", "running", "full")


@keras.saving.register_keras_serializable(package="lessonlib")
class KLSparsity(keras.layers.Layer):
    """Adds beta * sum_j KL(rho || rho_hat_j) to the loss and passes its input through.

    Put it after a layer of sigmoid units (activations in (0, 1)). rho_hat_j is unit j's
    average activation; the lecture defines it over all M training samples, which needs a
    forward pass over the whole training set before any backpropagation. `estimate` chooses
    how rho_hat is obtained:

    - `"batch"`: the mean over the current mini-batch. Cheap, but noisy for small batches and
      small rho, and the penalty then pushes each batch, not the data set, towards rho.
    - `"running"`: an exponential moving average of the batch means across training steps,
      bias-corrected as in Adam (`ema / (1 - momentum**step)`), so the first steps are not
      pulled towards 0. It follows the data set's average without a pass over all the data.
    - `"full"`: the average over the whole training set, kept in `rho_hat` and set from
      outside (`SparseAutoencoder.fit` refreshes it at every epoch), as the lecture defines it.

    With `"running"` and `"full"`, the penalty's value is computed at that estimate, and its
    gradient is the lecture's: beta * (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) for
    unit j, spread over the batch's samples through their mean activation. With a single
    batch holding the whole training set, the three estimates give the same value and
    gradient at the first step.

    Keras's `activity_regularizer` divides a regulariser's value by the batch size (since
    Keras 3.9), which would make beta depend on it; this is why the penalty is a layer.

    Args:
        sparsity_target: rho, the desired average activation, strictly between 0 and 1.
        beta: the penalty's weight, >= 0.
        estimate: `"batch"`, `"running"` or `"full"` (see above).
        momentum: the running average's decay per step, in [0, 1). Its information is on
            average momentum / (1 - momentum) steps old; a long memory lags behind the weights
            and makes units overshoot (lesson 05 measures 0.5 against 0.9).
        **kwargs: standard layer arguments (`name`, ...).

    Input shape:
        `(batch_size, units)`, activations in (0, 1).

    Output shape:
        The same: the layer returns its input unchanged.

    Example:

    >>> hidden = keras.layers.Dense(25, activation="sigmoid")(keras.Input((64,)))
    >>> hidden = KLSparsity(sparsity_target=0.01, beta=3.0)(hidden)
    """

    def __init__(self, sparsity_target, beta, estimate="batch", momentum=0.5, **kwargs):
        super().__init__(**kwargs)
        self.sparsity_target = _validation.open_unit_interval("sparsity_target", sparsity_target)
        self.beta = _validation.non_negative_number("beta", beta)
        self.estimate = _validation.one_of("estimate", estimate, ESTIMATES)
        momentum = _validation.unit_interval("momentum", momentum)
        if momentum == 1:
            raise ValueError(
                "`momentum` must be below 1, or the running average never moves. "
                f"Received: momentum={momentum!r}"
            )
        self.momentum = momentum
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "KLSparsity expects activations of shape (batch_size, units) with a known "
                f"number of units. Received: input_shape={input_shape}"
            )
        units = input_shape[-1]
        # The estimate used by the last training step, for reporting and for "full". Like
        # BatchNormalization's moving statistics, the estimates are read in float32 under a
        # mixed precision policy too (autocast=False): bfloat16 would round rho_hat to three
        # significant digits, and the step count past 256.
        self.rho_hat = self.add_weight(
            shape=(units,),
            initializer=keras.initializers.Constant(self.sparsity_target),
            trainable=False,
            dtype="float32",
            autocast=False,
            name="rho_hat",
        )
        if self.estimate == "running":
            self.moving_sum = self.add_weight(
                shape=(units,),
                initializer="zeros",
                trainable=False,
                dtype="float32",
                autocast=False,
                name="moving_sum",
            )
            self.steps = self.add_weight(
                shape=(),
                initializer="zeros",
                trainable=False,
                dtype="float32",
                autocast=False,
                name="steps",
            )

    def _estimate(self, batch_mean, training):
        if self.estimate == "full" or not training:
            return ops.convert_to_tensor(self.rho_hat)
        if self.estimate == "running":
            steps = self.steps + 1.0
            moving_sum = self.momentum * self.moving_sum + (1 - self.momentum) * batch_mean
            self.steps.assign(steps)
            self.moving_sum.assign(moving_sum)
            return moving_sum / (1 - ops.power(self.momentum, steps))
        return batch_mean

    def penalty(self, activations, training=True):
        """Return beta * sum_j KL(rho || rho_hat_j) for these activations (a scalar tensor)."""
        activations = ops.cast(activations, "float32")
        batch_mean = ops.mean(activations, axis=0)
        if self.estimate == "batch":
            if training:
                self.rho_hat.assign(ops.stop_gradient(batch_mean))
            return self.beta * ops.sum(bernoulli_kl_ops(self.sparsity_target, batch_mean))
        rho_hat = ops.stop_gradient(self._estimate(ops.stop_gradient(batch_mean), training))
        if training:
            self.rho_hat.assign(rho_hat)
        value = ops.sum(bernoulli_kl_ops(self.sparsity_target, rho_hat))
        # Zero in value; its gradient is the lecture's sparsity term for each unit, applied
        # through this batch's mean activation.
        slope = bernoulli_kl_derivative_ops(self.sparsity_target, rho_hat)
        surrogate = ops.sum(slope * (batch_mean - ops.stop_gradient(batch_mean)))
        return self.beta * (value + surrogate)

    def call(self, inputs, training=False):
        self.add_loss(self.penalty(inputs, training=bool(training)))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "sparsity_target": self.sparsity_target,
            "beta": self.beta,
            "estimate": self.estimate,
            "momentum": self.momentum,
        }
        return {**super().get_config(), **config}

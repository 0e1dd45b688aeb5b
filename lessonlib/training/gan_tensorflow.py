"""The GAN's training step on TensorFlow: `tf.GradientTape`, traced into a `tf.function`.

Keras wraps `GAN.train_step` in a `tf.function` (XLA-compiled with `jit_compile=True`), so
everything here is traced once; the notes' schedule gates each update with `tf.cond`.
"""

import tensorflow as tf


def _apply(optimizer, gradients, variables, active):
    if active is None:
        optimizer.apply(gradients, variables)
        return

    def update():
        optimizer.apply(gradients, variables)
        return tf.constant(True)

    tf.cond(active, update, lambda: tf.constant(False))


def train_step(gan, data):
    real, (d_active, g_active), (d_variables, g_variables) = gan.step_inputs(data)
    if gan.discriminator_steps == 1:
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            (d_loss, g_loss), logits = gan.joint_pass(real)
            scaled_d_loss = gan.d_optimizer.scale_loss(d_loss)
            scaled_g_loss = gan.g_optimizer.scale_loss(g_loss)
        _apply(gan.d_optimizer, d_tape.gradient(scaled_d_loss, d_variables), d_variables, d_active)
        _apply(gan.g_optimizer, g_tape.gradient(scaled_g_loss, g_variables), g_variables, g_active)
        return gan.record(d_loss, g_loss, *logits)
    for _ in range(gan.discriminator_steps):
        with tf.GradientTape() as tape:
            d_loss, logits = gan.discriminator_pass(real)
            scaled = gan.d_optimizer.scale_loss(d_loss)
        _apply(gan.d_optimizer, tape.gradient(scaled, d_variables), d_variables, d_active)
    with tf.GradientTape() as tape:
        g_loss = gan.generator_pass(tf.shape(real)[0])
        scaled = gan.g_optimizer.scale_loss(g_loss)
    _apply(gan.g_optimizer, tape.gradient(scaled, g_variables), g_variables, g_active)
    return gan.record(d_loss, g_loss, *logits)

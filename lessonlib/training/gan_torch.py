"""The GAN's training step on PyTorch: `backward()` into each network's parameters, eagerly.

`backward(inputs=...)` accumulates each loss's gradient only into the parameters of the network
that descends it, so the discriminator's loss costs no generator gradients and vice versa.
"""

import torch


def _gradients(loss, optimizer, variables, retain_graph=False):
    parameters = [variable.value for variable in variables]
    for parameter in parameters:
        parameter.grad = None
    optimizer.scale_loss(loss).backward(inputs=parameters, retain_graph=retain_graph)
    return [parameter.grad for parameter in parameters]


def _apply(optimizer, gradients, variables, active):
    if active is None or bool(active):
        with torch.no_grad():
            optimizer.apply(gradients, variables)


def train_step(gan, data):
    real, (d_active, g_active), (d_variables, g_variables) = gan.step_inputs(data)
    if gan.discriminator_steps == 1:
        (d_loss, g_loss), logits = gan.joint_pass(real)
        d_gradients = _gradients(d_loss, gan.d_optimizer, d_variables, retain_graph=True)
        g_gradients = _gradients(g_loss, gan.g_optimizer, g_variables)
        _apply(gan.d_optimizer, d_gradients, d_variables, d_active)
        _apply(gan.g_optimizer, g_gradients, g_variables, g_active)
    else:
        for _ in range(gan.discriminator_steps):
            d_loss, logits = gan.discriminator_pass(real)
            _apply(
                gan.d_optimizer,
                _gradients(d_loss, gan.d_optimizer, d_variables),
                d_variables,
                d_active,
            )
        g_loss = gan.generator_pass(real.shape[0])
        _apply(
            gan.g_optimizer, _gradients(g_loss, gan.g_optimizer, g_variables), g_variables, g_active
        )
    with torch.no_grad():
        return gan.record(d_loss.detach(), g_loss.detach(), *(logit.detach() for logit in logits))

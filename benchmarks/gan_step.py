"""Images per second of the course's GAN `fit()` against the TensorFlow DCGAN tutorial's loop.

    python benchmarks/gan_step.py [--steps 20] [--repeats 3] [--backends tensorflow,jax,torch]

Both train the tutorial's DCGAN (`lessonlib.models.dcgan_generator`/`dcgan_discriminator`) at
batch size 256 with Adam(1e-4) on 28x28 images. The reference is the tutorial's code: a
`tf.function` with two `GradientTape`s over a `tf.data` pipeline (TensorFlow only). The
library is `GAN.fit` with its default `jit_compile="auto"` (XLA except for convolutions on
TensorFlow and a CPU), `runtime.steps_per_execution`, and on a GPU the precision
`runtime.precision_policy()` picks. Each backend runs in its own process
(Keras picks its backend once); on TensorFlow the two alternate in one process. Each timing is
the second of two epochs (the steady state of a run, without `fit`'s setup), including what
ends an epoch: on TensorFlow, deleting the epoch's `tf.data` iterator, which with `tf.data`'s
autotuner on (the tutorial's pipeline) sometimes waits seconds for the autotuner's thread.
The table shows the median of the repeats and their range.
Goals: on a CPU the library is at least as fast as the
reference (ratio of medians >= 1.0); on a GPU it exceeds 20,000 images/s.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BATCH_SIZE = 256
LATENT_DIM = 100
GPU_GOAL = 20_000


def _images(steps, seed=0):
    import numpy as np

    # Speed does not depend on the pixels; uniform noise in the generator's range [-1, 1].
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (steps * BATCH_SIZE, 28, 28, 1)).astype("float32")


def _library(steps):
    import keras

    from lessonlib import runtime
    from lessonlib.models import GAN, dcgan_discriminator, dcgan_generator

    gan = GAN(dcgan_generator(LATENT_DIM), dcgan_discriminator(seed=1), seed=0)
    # jit_compile="auto": XLA on GPUs and JAX, TensorFlow's own kernels on a CPU.
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-4),
        g_optimizer=keras.optimizers.Adam(1e-4),
        steps_per_execution=runtime.steps_per_execution(steps),
    )
    images = _images(steps)

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    timer = EpochTimer()

    def epoch():
        # Two epochs per call, timing the second: the steady state of a training run, without
        # the setup that each fit() call does once (a student's run calls it once).
        gan.fit(images, batch_size=BATCH_SIZE, epochs=2, verbose=0, callbacks=[timer])
        return timer.seconds

    epoch.jit_compile = gan.jit_compile
    return epoch


def _reference(steps):
    import keras
    import tensorflow as tf

    from lessonlib.models import dcgan_discriminator, dcgan_generator

    generator, discriminator = dcgan_generator(LATENT_DIM), dcgan_discriminator(seed=1)
    generator_optimizer = keras.optimizers.Adam(1e-4)
    discriminator_optimizer = keras.optimizers.Adam(1e-4)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([BATCH_SIZE, LATENT_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        gen_gradients = gen_tape.gradient(gen_loss, generator.trainable_variables)
        disc_gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(
            zip(gen_gradients, generator.trainable_variables, strict=True)
        )
        discriminator_optimizer.apply_gradients(
            zip(disc_gradients, discriminator.trainable_variables, strict=True)
        )

    images = _images(steps)
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images)).batch(BATCH_SIZE)

    def epoch():
        for batch in dataset:  # the first epoch, as the library's first
            train_step(batch)
        start = time.perf_counter()
        for batch in dataset:
            train_step(batch)
        return time.perf_counter() - start

    return epoch


def _rate(epoch, steps):
    return steps * BATCH_SIZE / epoch()


def _summary(rates):
    """`median (min-max)` of a list of rates, or a dash."""
    if not rates:
        return "-"
    return f"{statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f})"


def worker(args):
    """Run in one backend's process; print one JSON line of rates."""
    from lessonlib import runtime

    chosen = runtime.setup(seed=0, precision=args.precision, verbose=False)
    runs = {"library": _library(args.steps)}
    if args.reference:
        runs["reference"] = _reference(args.steps)
    for epoch in runs.values():
        epoch()  # compile and warm up
    rates = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, epoch in runs.items():  # alternate, so drifting load hits both alike
            rates[name].append(_rate(epoch, args.steps))
    jit = "XLA" if runs["library"].jit_compile else "no XLA"
    setting = f"{runtime.describe(chosen.device)} | {chosen.precision}, {jit}"
    print(json.dumps({"runtime": setting, "device": chosen.device.kind, **rates}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps of 256 images per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument(
        "--precision", default="auto", help="auto (the runtime's choice for the device) or float32"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    results = {}
    for backend in args.backends.split(","):
        command = [
            sys.executable,
            __file__,
            "--worker",
            "--steps",
            str(args.steps),
            "--repeats",
            str(args.repeats),
            "--precision",
            args.precision,
        ]
        if backend == "tensorflow":
            command.append("--reference")
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        completed = subprocess.run(command, env=env, capture_output=True, text=True)
        lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
        if completed.returncode != 0 or not lines:
            print(f"{backend}: failed\n{completed.stderr[-3000:]}")
            continue
        results[backend] = json.loads(lines[-1])

    print(
        f"\nDCGAN (TensorFlow tutorial's architecture), batch {BATCH_SIZE}, {args.steps} steps "
        f"per timing; images/s: median of {args.repeats} (range)"
    )
    print(f"{'backend':<11} {'runtime':<72} {'library':>15} {'reference':>15} {'ratio':>6}")
    status = 0
    for backend, result in results.items():
        library = statistics.median(result["library"])
        reference = statistics.median(result["reference"]) if "reference" in result else None
        ratio = library / reference if reference else None
        print(
            f"{backend:<11} {result['runtime']:<72} {_summary(result['library']):>15} "
            f"{_summary(result.get('reference')):>15} {ratio or float('nan'):>6.2f}"
        )
        if ratio is not None and ratio < 1.0:
            status = 1
        if result["device"] == "GPU" and library < GPU_GOAL:
            status = 1
    goal = (
        f"goal: median library/reference >= 1.0 where the reference runs (TensorFlow); "
        f"> {GPU_GOAL:,} images/s on a GPU"
    )
    print(goal + (": met" if status == 0 and results else ": NOT met"))
    return status


if __name__ == "__main__":
    sys.exit(main())

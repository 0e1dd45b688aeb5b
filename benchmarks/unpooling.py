"""The cost of MaxUnpooling2D (and pooling with switches) against Keras's built-in layers.

    python benchmarks/unpooling.py

Times a forward and backward pass through each layer on the same input, on the current backend,
and prints the ratio. The goal: unpooling costs at most 2x an UpSampling2D of the same shape.
Ratios, not seconds, are what to compare: both sides run in the same process, interleaved.
"""

import os
import sys
import time

import keras
import numpy as np
from keras import layers

from lessonlib import runtime
from lessonlib.layers import MaxPoolingWithSwitches, MaxUnpooling2D

SHAPE = (32, 64, 64, 32)  # a batch of the DeconvNet's first block
REPEATS = 20
GOAL_RATIO = 2.0


def timed(step, repeats):
    step()  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def training_step(model, x):
    """One jit-compiled forward and backward pass, as fit() would run it."""
    model.compile(optimizer="sgd", loss="mse", jit_compile=runtime.jit_compile())
    target = np.zeros(model.output_shape[1:], "float32")[None].repeat(len(x), axis=0)
    return lambda: model.train_on_batch(x, target)


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(runtime.describe())
    x = np.random.default_rng(0).random(SHAPE).astype("float32")
    inputs = keras.Input(SHAPE[1:])
    # A per-channel scale: trainable, so there is a gradient, and as cheap as the layers timed.
    features = layers.DepthwiseConv2D(1)(inputs)
    pooled, switches = MaxPoolingWithSwitches(2)(features)
    models = {
        "MaxPooling2D": keras.Model(inputs, layers.MaxPooling2D(2)(features)),
        "MaxPoolingWithSwitches": keras.Model(inputs, pooled),
        "UpSampling2D": keras.Model(
            inputs, layers.UpSampling2D(2)(layers.MaxPooling2D(2)(features))
        ),
        "MaxUnpooling2D": keras.Model(inputs, MaxUnpooling2D(2)(pooled, switches)),
    }
    seconds = {name: timed(training_step(model, x), REPEATS) for name, model in models.items()}
    print(f"input {SHAPE}, median of {REPEATS} training steps (forward and backward)\n")
    print(f"{'layer':<24}{'ms':>9}")
    for name, value in seconds.items():
        print(f"{name:<24}{1000 * value:>9.1f}")
    pooling_ratio = seconds["MaxPoolingWithSwitches"] / seconds["MaxPooling2D"]
    # The unpooling model pools with switches first; the upsampling model pools without.
    unpooling_ratio = seconds["MaxUnpooling2D"] / seconds["UpSampling2D"]
    print(f"\npool with switches / MaxPooling2D:        {pooling_ratio:.2f}x")
    print(
        f"pool + unpool / MaxPooling2D + UpSampling2D: {unpooling_ratio:.2f}x "
        f"(goal: at most {GOAL_RATIO:.0f}x)"
    )
    return 0 if unpooling_ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

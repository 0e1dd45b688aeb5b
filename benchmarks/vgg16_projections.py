"""Where lesson 01's VGG16 thresholds come from: projection measures per block, ImageNet
against random weights, at several image sizes and seeds of the random network.

    python benchmarks/vgg16_projections.py                       # 112 and 224 px, seeds 0-2
    KERAS_BACKEND=jax python benchmarks/vgg16_projections.py --sizes 112 --seeds 0

For each of the five blocks' last convolution, the four strongest units on each of the five
photographs are projected to pixels (`deconvolution.Projector`) and measured
(`deconvolution.measure_projection`). The table prints the median coherence and the median
share of the receptive field holding 90 % of the energy, for ImageNet's weights (which do not
depend on the seed) and for `keras.applications.VGG16(weights=None)` at each seed, then the
smallest ratio of the random network's share to ImageNet's, which lesson 01 asserts above 1.3.
"""

import argparse
import statistics
import time

import keras
import numpy as np

from lessonlib import datasets, deconvolution, pretrained

BLOCKS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
UNITS = 4


def medians(model, inputs):
    found = {}
    for layer in BLOCKS:
        measures = []
        for image in inputs.values():
            projector = deconvolution.Projector(model, image, layer)
            for channel in projector.strongest_channels(UNITS):
                measures.append(deconvolution.measure_projection(projector.project(channel)))
        # exactly 1 on a CPU; a GPU's convolution algorithms may leave rounding-sized values
        assert min(m.inside for m in measures) > 1 - 1e-6, f"{layer}: energy outside the field"
        found[layer] = (
            statistics.median(m.coherence for m in measures),
            statistics.median(m.concentration for m in measures),
        )
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[112, 224])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    print(f"backend: {keras.backend.backend()}, Keras {keras.__version__}")
    preprocess = keras.applications.vgg16.preprocess_input
    for size in args.sizes:
        start = time.perf_counter()
        photographs = datasets.load_photographs(size)
        inputs = {name: preprocess(np.array(photo)) for name, photo in photographs.items()}
        imagenet = medians(pretrained.vgg16_features((size, size, 3), verbose=False), inputs)
        randoms = {}
        for seed in args.seeds:
            keras.utils.set_random_seed(seed)
            model = keras.applications.VGG16(
                weights=None, include_top=False, input_shape=(size, size, 3)
            )
            randoms[seed] = medians(model, inputs)
        print(
            f"\n{size}x{size} px, {len(inputs)} photographs x {UNITS} units per block "
            f"({time.perf_counter() - start:.0f} s)"
        )
        header = (
            "block          ImageNet coh  share"
            + "".join(f"   seed {seed} coh  share" for seed in args.seeds)
            + "   min ratio"
        )
        print(header)
        print("-" * len(header))
        for layer in BLOCKS:
            coherence, share = imagenet[layer]
            row = f"{layer:14} {coherence:12.2f} {share:6.3f}"
            for seed in args.seeds:
                row += f"   {randoms[seed][layer][0]:10.2f} {randoms[seed][layer][1]:6.3f}"
            ratio = min(randoms[seed][layer][1] for seed in args.seeds) / share
            print(f"{row}   {ratio:9.2f}")


if __name__ == "__main__":
    main()

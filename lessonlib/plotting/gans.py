"""GANs: the theory's densities and values (lesson 06), and a DCGAN's samples (lesson 07).

Lesson 06 draws `discriminator_against_optimal`, `criterion_against_jsd`,
`generator_gradients`, and `ring_samples` and `mode_shares` for mode collapse; lesson 07
`frechet_over_epochs`, and `grid_animation` through `training.SampleGrid.animation`.
"""

import math

import numpy as np

from lessonlib.plotting._common import _as_images, _columns, _finish, _subplots


def grid_animation(images_per_epoch, epochs, ncols=None, interval=400):
    """Animate sample grids over epochs (a matplotlib `FuncAnimation`; `.to_jshtml()` for HTML).

    Args:
        images_per_epoch: one array of images per frame, all of the same shape.
        epochs: the epoch each frame was taken after, for the title.
        ncols: images per row.
        interval: milliseconds per frame.

    Returns:
        matplotlib.animation.FuncAnimation, over a `Figure` built without pyplot, so it plays
        where it is rendered (`.to_jshtml()`, `.save(path)`) and no pyplot window shows it.
    """
    from matplotlib import animation

    if len(images_per_epoch) == 0 or len(images_per_epoch) != len(epochs):
        raise ValueError(
            "`images_per_epoch` and `epochs` need one entry per frame, at least "
            f"one. Received: {len(images_per_epoch)} frames, {len(epochs)} epochs"
        )
    frames = [_as_images(images, None) for images in images_per_epoch]
    count = len(frames[0])
    ncols = _columns(count, ncols)
    nrows = math.ceil(count / ncols)
    height, width = frames[0].shape[1:3]
    tiles = np.full((len(frames), nrows * (height + 1) - 1, ncols * (width + 1) - 1), np.nan)
    for frame, images in enumerate(frames):
        for index, image in enumerate(images):
            row, column = divmod(index, ncols)
            tiles[
                frame,
                row * (height + 1) : row * (height + 1) + height,
                column * (width + 1) : column * (width + 1) + width,
            ] = image
    figure, axis = _subplots(figsize=(0.45 * ncols + 0.5, 0.45 * nrows + 0.7))
    axis.axis("off")
    shown = axis.imshow(tiles[0], cmap="gray", vmin=0, vmax=1)
    title = axis.set_title(f"after epoch {epochs[0]}")

    def draw(frame):
        shown.set_data(tiles[frame])
        title.set_text(f"after epoch {epochs[frame]}")
        return shown, title

    return animation.FuncAnimation(figure, draw, frames=len(frames), interval=interval, blit=False)


def discriminator_against_optimal(grid, p_data, p_g, discriminator, optimal, title=None):
    """The two densities, and a trained D(x) over D*(x) = p_data/(p_data + p_g) (lesson 06)."""
    figure, (top, bottom) = _subplots(2, 1, figsize=(7, 5), sharex=True)
    top.plot(grid, p_data, label="p_data")
    top.plot(grid, p_g, label="p_g")
    top.set_ylabel("density")
    top.legend()
    bottom.plot(
        grid,
        optimal,
        color="black",
        linewidth=3,
        alpha=0.4,
        label=r"$D^* = p_{data}/(p_{data}+p_g)$",
    )
    bottom.plot(grid, discriminator, color="C3", label="trained D(x)")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_xlabel("x")
    bottom.set_ylabel("D(x)")
    bottom.legend()
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return _finish(figure)


def criterion_against_jsd(distances, criteria, jsd, label="mean of p_g"):
    """C(G) and -log 4 + 2 JSD(p_data || p_g) as p_g moves: the minimum -log 4 at p_g = p_data."""
    figure, axis = _subplots(figsize=(6, 3.6))
    axis.plot(distances, criteria, marker="o", markersize=4, label=r"$C(G) = V(D^*, G)$")
    axis.plot(
        distances,
        -np.log(4) + 2 * np.asarray(jsd),
        linestyle="--",
        color="black",
        label=r"$-\log 4 + 2\,JSD(p_{data}\,\|\,p_g)$",
    )
    axis.axhline(-np.log(4), color="gray", linewidth=0.8)
    axis.annotate(
        r"$-\log 4$",
        (distances[0], -np.log(4)),
        textcoords="offset points",
        xytext=(4, 4),
        color="gray",
    )
    axis.set_xlabel(label)
    axis.set_ylabel("value")
    axis.legend()
    axis.grid(alpha=0.3)
    return _finish(figure)


def generator_gradients(d_fake, minimax, non_saturating):
    """Each generated sample's gradient magnitude under both generator losses, against its
    D(G(z)), on log axes: the minimax loss's vanishes as D(G(z)) -> 0 (lesson 06)."""
    figure, axis = _subplots(figsize=(6, 3.6))
    axis.scatter(d_fake, minimax, s=6, alpha=0.5, label=r"minimax: $\log(1 - D(G(z)))$")
    axis.scatter(
        d_fake, non_saturating, s=6, alpha=0.5, marker="s", label=r"non-saturating: $-\log D(G(z))$"
    )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("D(G(z)) of the sample")
    axis.set_ylabel(r"$|\partial\, loss / \partial G(z)|$")
    axis.legend()
    axis.grid(alpha=0.3, which="both")
    return _finish(figure)


def ring_samples(samples, centers, titles=None):
    """Panels of 2-D samples over the ring's mode centres (mode collapse, lesson 06).

    Args:
        samples: a list of `(n, 2)` arrays, one panel each.
        centers: the modes' centres, `(modes, 2)`.
        titles: one title per panel.
    """
    count = len(samples)
    if count == 0:
        raise ValueError("`samples` must hold at least one set of points. Received: 0 sets")
    figure, axes = _subplots(1, count, figsize=(2.6 * count, 2.8), squeeze=False)
    for index, (axis, points) in enumerate(zip(axes.flat, samples, strict=True)):
        points = np.asarray(points)
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.3)
        axis.scatter(centers[:, 0], centers[:, 1], marker="x", color="C3", s=30)
        axis.set_xlim(-3, 3)
        axis.set_ylim(-3, 3)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=9)
    return _finish(figure)


def mode_shares(coverages, title=None):
    """Each mode's share of the samples near a mode, epoch by epoch, as an image.

    Args:
        coverages: a list of `toy.ModeCoverage`, one per epoch (epoch 0 first).
        title: optional title.

    Returns:
        matplotlib.figure.Figure: modes down, epochs across; an even split (as the data's) is a
        uniform colour at 1/modes, collapse a few bright cells per column. Epochs with no
        sample near a mode are left blank.
    """
    if not coverages:
        raise ValueError(
            "`coverages` must be a non-empty list of ModeCoverage. Received: "
            f"coverages={coverages!r}"
        )
    shares = np.array(
        [
            coverage.shares if sum(coverage.counts) else np.full(len(coverage.counts), np.nan)
            for coverage in coverages
        ]
    ).T
    figure, axis = _subplots(figsize=(min(12, 2 + 0.3 * shares.shape[1]), 3.4))
    image = axis.imshow(
        shares,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=max(0.5, np.nanmax(shares) if np.isfinite(shares).any() else 0.5),
        interpolation="nearest",
    )
    axis.set_xlabel("epoch")
    axis.set_ylabel("mode")
    axis.set_yticks(range(shares.shape[0]))
    figure.colorbar(
        image, ax=axis, label=f"share of samples on the modes (even: 1/{shares.shape[0]})"
    )
    if title:
        axis.set_title(title, fontsize=10)
    return _finish(figure)


def frechet_over_epochs(epochs, distances, floor, name, accuracy=None):
    """The Fréchet distance of generated digits per epoch, with the real-vs-real floor."""
    figure, axis = _subplots(figsize=(6.5, 3.6))
    axis.plot(epochs, distances, marker="o", label="generated vs real")
    axis.axhline(floor, color="black", linestyle="--", label="real vs real (the floor)")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    caption = name if accuracy is None else f"{name}\n(classifier test accuracy {accuracy:.1%})"
    axis.set_ylabel("Fréchet distance")
    axis.set_title(caption, fontsize=9)
    axis.legend()
    axis.grid(alpha=0.3, which="both")
    return _finish(figure)

"""How a returned figure shows in a notebook: as a PNG, whatever the matplotlib backend."""

from matplotlib.figure import Figure


def _show_figures_as_images_in_notebooks():
    """Make IPython display a returned `Figure` as a PNG whatever matplotlib backend is set.

    The inline backend does this on its own, but a kernel started with `MPLBACKEND=Agg` (or
    any non-inline backend) would show "<Figure size 640x480 with 1 Axes>" instead.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight")
    )

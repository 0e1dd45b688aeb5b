"""How a returned figure shows in a notebook: as a PNG (`runtime.setup` sets this up)."""

from matplotlib.figure import Figure


def show_figures_in_notebooks(shell=None):
    """Make IPython display a returned `Figure` as a PNG whatever matplotlib backend is set.

    `lessonlib.runtime.setup`, which every lesson calls first, calls this. The figures are built
    without pyplot, so no matplotlib backend knows them: the inline backend shows the figures
    pyplot holds, and without this a notebook would show "<Figure size 640x480 with 1 Axes>"
    instead of the picture (so would any figure in a kernel started with `MPLBACKEND=Agg`).
    Calling it again changes nothing.

    Args:
        shell: the IPython shell whose display formatter learns to draw figures; default the
            running one.

    Returns:
        bool: whether a shell now shows figures as PNG (False outside IPython).
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return False
    shell = shell or get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight")
    )
    return True

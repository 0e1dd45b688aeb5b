"""Figures from `lessonlib.plotting` show in a notebook as images, once each.

nbval checks that cells run, not what they display. This executes the getting-started lesson
(the one that uses every kind of figure, in about ten seconds) and looks at its outputs: a
figure that only shows as "<Figure size 640x480 with 1 Axes>", or twice, would pass nbval.
"""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "00_getting_started.ipynb"


def test_every_plotting_cell_shows_exactly_one_image():
    notebook = nbformat.read(LESSON, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(LESSON.parent)}},
    ).execute()
    plotting_cells = [
        cell for cell in notebook.cells if cell.cell_type == "code" and "plotting." in cell.source
    ]
    assert len(plotting_cells) >= 3
    for cell in plotting_cells:
        images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, f"expected one image from:\n{cell.source}\ngot {cell.outputs}"
    for cell in notebook.cells:
        for output in getattr(cell, "outputs", []):
            text = output.get("data", {}).get("text/plain", "")
            if text.startswith("<Figure size"):
                assert "image/png" in output["data"], f"a figure showed as text: {text}"

"""Student versions of the lessons, made with nbgrader's own preprocessors."""

import pathlib

import nbformat

from lessonlib.grading.exercises import nbgrader_metadata, read_notebook

# nbval lets a cell with this tag raise: an exercise raises NotImplementedError until it is
# filled in, and so does its check.
RAISES_TAG = "raises-exception"


def student_version(notebook):
    """Return the student version of an instructor notebook (a new NotebookNode).

    nbgrader's `ClearSolutions` replaces each solution region with `# YOUR CODE HERE` and
    `raise NotImplementedError()`, `ClearHiddenTests` removes the hidden tests, and
    `ClearOutput` the outputs. nbgrader's cell metadata stays, so nbgrader can use the result.
    Exercise and check cells get nbval's `raises-exception` tag.
    """
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    notebook = nbformat.from_dict(nbformat.v4.upgrade(nbformat.from_dict(notebook)))
    resources = {}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    for cell in notebook.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade")):
            tags = cell.metadata.setdefault("tags", [])
            if RAISES_TAG not in tags:
                tags.append(RAISES_TAG)
    return notebook


def release(source, out):
    """Write the student version of each notebook in `source` (a file or a folder) to `out`.

    Returns:
        list of the paths written.

    Raises:
        ValueError: if `out` is `source` or inside it (the instructor versions would be
            overwritten or mixed with student ones), or `source` holds no notebook.
    """
    source, out = pathlib.Path(source).resolve(), pathlib.Path(out).resolve()
    paths = sorted(source.glob("*.ipynb")) if source.is_dir() else [source]
    if not paths or not all(path.exists() for path in paths):
        raise ValueError(
            f"`source` must be a notebook or a folder of notebooks. "
            f"Received: source={str(source)!r}"
        )
    folder = source if source.is_dir() else source.parent
    if out == folder or folder in out.parents:
        raise ValueError(
            "`out` must be outside the instructor notebooks' folder, so that nothing there is "
            f"overwritten. Received: out={str(out)!r}"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out / path.name
        nbformat.write(student_version(read_notebook(path)), target)
        written.append(target)
    return written

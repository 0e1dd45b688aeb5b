"""The course installs the same way with pip and with conda, and its notebooks are kept clean."""

import json
import pathlib
import re
import tomllib

import nbformat
import pytest

# Touches no Keras backend: CI runs it once, under TensorFlow.
pytestmark = pytest.mark.backend_independent

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment_pip_requirements():
    """The entries of environment.yml's `pip:` list (a two-level YAML list, parsed plainly)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    entries = []
    for line in lines[start + 1 :]:
        if not line.strip() or len(line) - len(line.lstrip()) < indent:
            break
        entries.append(line.strip().removeprefix("- ").strip())
    return entries


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = pyproject()["project"]
    declared = project["dependencies"]  # what a student needs; `.[test]` adds the tools
    entries = environment_pip_requirements()
    assert "-e ." in entries, "environment.yml must install the course package itself"
    assert sorted(entry for entry in entries if entry != "-e .") == sorted(declared)


def test_environment_yml_python_is_one_the_package_supports():
    text = (ROOT / "environment.yml").read_text()
    python = re.search(r"- python=(\d+)\.(\d+)", text)
    minimum = re.search(r">=(\d+)\.(\d+)", pyproject()["project"]["requires-python"])
    assert python and minimum
    assert tuple(map(int, python.groups())) >= tuple(map(int, minimum.groups()))


def test_the_extras_the_readme_promises_exist():
    extras = pyproject()["project"]["optional-dependencies"]
    assert set(extras) >= {"test", "jax", "torch", "gpu"}
    assert any(requirement.startswith("tensorflow[and-cuda]") for requirement in extras["gpu"])


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(
        r"```bash\n(python -m pip install -e \"\.\[test\]\" && pytest)\n```", readme
    )
    assert command, "the README must show the test command in a bash block"
    assert command.group(1) in (ROOT / ".ci" / "run").read_text()


def test_the_install_holds_every_subpackage_of_lessonlib():
    # A non-editable install copies only the packages setuptools finds from pyproject.toml; one
    # it missed (lessonlib.plotting, a package of its own) would import in a checkout only.
    import setuptools

    find = pyproject()["tool"]["setuptools"]["packages"]["find"]
    finder = (
        setuptools.find_namespace_packages
        if find.get("namespaces", True)
        else setuptools.find_packages
    )
    found = set(finder(where=str(ROOT), include=find["include"], exclude=find.get("exclude", ())))
    packages = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "lessonlib").rglob("__init__.py")
    }
    assert "lessonlib.plotting" in packages
    assert packages <= found, f"pyproject.toml installs none of {sorted(packages - found)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_are_committed_clean_and_normalised(path):
    text = path.read_text()
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {index} holds outputs; clear them"
            assert cell.execution_count is None, f"{path.name}: cell {index} has a count"
    assert text.rstrip("\n") == nbformat.writes(notebook).rstrip("\n"), (
        f"{path.name} is not in nbformat's normalised JSON; rewrite it with nbformat.write"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_follow_the_course_template(path):
    notebook = json.loads(path.read_text())
    markdown = [
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    ]
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("#")]
    assert sum(1 for line in headings if re.match(r"# \S", line)) == 1, "exactly one H1"
    for section in ("## Overview", "## Setup", "## Summary", "## References"):
        assert section in headings, f"{path.name} has no '{section}' section"
    # Learning objectives an instructor can test: a list under their heading, in the Overview.
    overview = next(text for text in markdown if "## Overview" in text)
    objectives = overview.partition("### Learning objectives")[2]
    assert len(re.findall(r"^- ", objectives, re.MULTILINE)) >= 3, (
        f"{path.name}: the Overview needs '### Learning objectives' with at least 3 items"
    )
    assert "runtime.setup(seed=" in code[0], "the first code cell is Setup, with a seed"
    for source in code:
        assert not re.search(r"^\s*[!%]pip", source, re.MULTILINE), "no !pip in a lesson"
    readme = (ROOT / "README.md").read_text()
    assert path.name in readme, f"the README's lesson table does not list {path.name}"


def test_the_version_is_written_once():
    # pyproject.toml reads it from lessonlib.__version__; the installed metadata must agree.
    import importlib.metadata

    import lessonlib

    assert "version" not in pyproject()["project"]
    assert pyproject()["project"]["dynamic"] == ["version"]
    assert importlib.metadata.version("lessonlib") == lessonlib.__version__

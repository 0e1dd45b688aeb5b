"""Grading the course's own lessons: full marks, zero, a planted mistake, nbgrader, and the
released lessons' cells that must run before their exercises are done."""

import ast
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from lessonlib import runtime
from lessonlib.grading import cli, find_exercises, grader, sandbox, student_version
from lessonlib.grading.exercises import ANSWER_STUB, find_written_answers
from lessonlib.grading.release import RAISES_TAG

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_every_lesson_with_exercises_has_well_formed_ones(path):
    notebook = nbformat.read(path, as_version=4)
    exercises = find_exercises(notebook)
    ids = [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in notebook.cells
        if "nbgrader" in cell.metadata
    ]
    assert len(ids) == len(set(ids)), f"{path.name}: grade_ids must be unique"
    for exercise in exercises:
        assert exercise.points > 0 and exercise.has_hidden_tests, exercise
    student = student_version(notebook)
    text = "\n".join(cell.source for cell in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    for answer in find_written_answers(notebook):
        assert answer.points > 0 and answer.question, answer
        released = next(
            cell.source
            for cell in student.cells
            if cell.metadata.get("nbgrader", {}).get("grade_id") == answer.name
        )
        # The question and an empty answer, nothing of the model answer or its rubric.
        assert released == f"{answer.question}\n\n{ANSWER_STUB}", released


def _count(text, pattern):
    found = re.search(pattern, text)
    return (int(found[1]), float(found[2])) if found else None


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_each_overview_states_the_lessons_points_and_study_time(path):
    notebook = nbformat.read(path, as_version=4)
    overview = " ".join(notebook.cells[0].source.split())
    exercises, written = find_exercises(notebook), find_written_answers(notebook)
    assert "### Exercises and time" in overview and "Study time: about" in overview, path.name
    stated = _count(overview, r"(\d+) exercises? checked automatically \((\d+(?:\.\d+)?) points?\)")
    assert stated == (len(exercises), sum(exercise.points for exercise in exercises)), stated
    stated = _count(overview, r"(\d+) written answers? graded by hand \((\d+(?:\.\d+)?) points?\)")
    if written:
        assert stated == (len(written), sum(answer.points for answer in written)), stated
    else:
        assert stated is None and "no written answer" in overview, path.name


def _solution_regions(source):
    lines, regions, start = source.splitlines(), [], None
    for number, line in enumerate(lines, 1):
        if line.strip() == "### BEGIN SOLUTION":
            start = number
        elif line.strip() == "### END SOLUTION" and start is not None:
            regions.append((start, number))
    return regions


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_given_helpers_do_not_sit_inside_solution_cells(path):
    # Grading replays a check with the student's answers for what the solution cells define:
    # a helper the lesson gives must sit in a `given` cell, or a student could redefine it.
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        regions = _solution_regions(cell.source)
        for node in ast.parse(cell.source).body:
            assert any(node.lineno <= end and start <= node.end_lineno for start, end in regions), (
                f"{path.name}, {cell.metadata['nbgrader']['grade_id']}: line {node.lineno} is "
                "given code in a solution cell; move it to a cell tagged `given`"
            )


def test_every_reference_is_withheld_from_the_students_lessonlib(tmp_path):
    references = sorted(
        {
            reference
            for path in LESSONS
            for exercise in find_exercises(nbformat.read(path, as_version=4))
            for reference in exercise.references
        }
    )
    assert len(references) >= 15, references
    copy = grader.withheld_copy(references, tmp_path)
    probe = (
        "import importlib, sys\n"
        "from lessonlib.grading.kernel import ReferenceWithheld\n"
        "for reference in sys.argv[1:]:\n"
        "    module, _, name = reference.rpartition('.')\n"
        "    try:\n"
        "        getattr(importlib.import_module(module), name)()\n"
        "    except ReferenceWithheld:\n"
        "        continue\n"
        "    sys.exit(f'{reference} ran')\n"
        "import lessonlib.layers, lessonlib.models  # the packages still import\n"
    )
    # Run from tmp_path: `python -c` puts the working folder first on sys.path.
    result = subprocess.run(
        [sys.executable, "-c", probe, *references],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(_environment(), PYTHONPATH=str(copy.parent)),
    )
    assert result.returncode == 0, result.stderr[-2000:]


def judged_lessons(fast=None):
    """`(lessons, reason)`: the lessons the `graded` fixture's judge runs, every cell of the
    instructor's version in fast mode, failing on any error; none, and why, where it cannot
    or need not. `fast`: the mode the run is in (default: the environment's).

    In fast mode the root conftest.py leaves these lessons out of nbval's run: the judge's
    run is the same run. In full mode nbval runs every lesson in full mode, and the judge's
    fast-mode runs would repeat what a fast-mode run tests (the README's `pytest`; in CI, the
    JAX run), so the lessons are not graded there.
    """
    if not (runtime.fast_mode() if fast is None else fast):
        return [], (
            "full mode: nbval runs every lesson in full mode; the judge grades the lessons "
            "in fast mode, which a fast-mode run tests"
        )
    if not sandbox.available()[0]:
        return [], f"grading needs a sandbox: {sandbox.available()[1]}"
    return [path for path in LESSONS if find_exercises(nbformat.read(path, as_version=4))], ""


# A planted mistake in an exercise: (lesson, the solution's grade_id, the source it changes,
# the change, and the points each exercise then keeps); every other exercise keeps full marks.
PLANTED = {
    # A classic slip: rows and columns swapped when decoding the switch.
    "unpool_transposed": (
        "01_deconvolution",
        "unpool",
        "output[switches.ravel()] = pooled.ravel()",
        "output[(switches % width) * height + switches // width] = pooled.ravel()",
        {"unpool": 0.0},
    ),
    # The standard deviation of the points, not of the distribution p over them.
    "forward_fit_unweighted": (
        "05_kl_divergence",
        "forward_kl_fit",
        "std = np.sqrt(np.sum(p * (x - mean) ** 2))",
        "std = np.sqrt(np.mean((x - mean) ** 2))",
        {"forward_kl_fit": 0.0},
    ),
    # The notes' output error, without f'(z2): the gradient check of the student's own cost
    # fails at both settings.
    "notes_output_error": (
        "05_kl_divergence",
        "sparse_cost_and_gradient",
        "delta2 = (a2 - X) * a2 * (1 - a2)",
        "delta2 = a2 - X",
        {"sparse_cost_and_gradient": 0.0},
    ),
    # Weight decay on a bias in the gradient: invisible where the biases are zero (the visible
    # tests start from UFLDL's initialisation), caught by the hidden tests: half the points.
    "decay_on_a_bias": (
        "05_kl_divergence",
        "sparse_cost_and_gradient",
        "b2=delta2.mean(axis=0),",
        "b2=delta2.mean(axis=0) + lam * p.b2,",
        {"sparse_cost_and_gradient": 2.0},
    ),
    # The transposed convolution cropped from the corner, not centred ("same" padding).
    "stage_cropped_from_the_corner": (
        "02_deconvnet_segmentation",
        "decoder_stage",
        "top, left = (kernel_height - 1) // 2, (kernel_width - 1) // 2",
        "top, left = 0, 0",
        {"decoder_stage": 0.0},
    ),
    # The unpooled map taken as twice the pooled one: right for even sizes (the visible
    # tests), wrong where the pool dropped a row and a column (hidden): half the points.
    "stage_twice_the_size": (
        "02_deconvnet_segmentation",
        "decoder_stage",
        "height, width = output_size",
        "height, width = 2 * values.shape[1], 2 * values.shape[2]",
        {"decoder_stage": 1.5},
    ),
    # UpSampling2D taken for unpooling to one fixed place in each window.
    "upsampling_one_copy": (
        "02_deconvnet_segmentation",
        "upsampling_kernel",
        "for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]:",
        "for a, b in [(0, 0)]:",
        {"upsampling_kernel": 0.0},
    ),
    # Lesson 01's count (what one unit sees) run forwards: the strides taken in the wrong order.
    "footprint_in_the_wrong_order": (
        "07_dcgan",
        "footprint",
        "width = (width - 1) * stride + kernel",
        "width = width + (kernel - 1) * stride",
        {"footprint": 0.0},
    ),
    # The entropy of the mean probabilities alone: samples the classifier cannot read count as
    # every class.
    "coverage_without_confidence": (
        "07_dcgan",
        "effective_classes",
        "return float(np.exp(entropy_of_mean - mean_entropy))",
        "return float(np.exp(entropy_of_mean))",
        {"effective_classes": 0.0},
    ),
    # The offset taken as the data's mean, as in PCA: right only for orthonormal rows.
    "tied_offset_is_the_mean": (
        "03_autoencoders",
        "tied_decoder",
        "offset = np.mean(x_fit - (x_fit @ rows.T + code_offset) @ rows, axis=0)",
        "offset = np.mean(x_fit, axis=0)",
        {"tied_decoder": 0.0},
    ),
    # The code's offset c forgotten when fitting b: invisible with c = 0 (the visible tests
    # hand over PCA's components), caught by the hidden tests: half the points.
    "tied_offset_without_c": (
        "03_autoencoders",
        "tied_decoder",
        "offset = np.mean(x_fit - (x_fit @ rows.T + code_offset) @ rows, axis=0)",
        "offset = np.mean(x_fit - x_fit @ rows.T @ rows, axis=0)",
        {"tied_decoder": 1.0},
    ),
    # The codes' mean left out of the offset.
    "decoder_offset_without_codes": (
        "03_autoencoders",
        "least_squares_decoder",
        "return basis, x_mean - code_mean @ basis",
        "return basis, x_mean",
        {"least_squares_decoder": 0.0},
    ),
    # Only the x and y axes compared: the cross term of E(u) left out.
    "coherence_on_the_axes": (
        "04_sparse_autoencoders",
        "orientation_coherence",
        "[[np.sum(gx * gx), np.sum(gx * gy)], [np.sum(gx * gy), np.sum(gy * gy)]]",
        "[[np.sum(gx * gx), 0.0], [0.0, np.sum(gy * gy)]]",
        {"orientation_coherence": 0.0},
    ),
    # The filter turned round, as scipy.signal.convolve2d does; Keras's convolution does not.
    "filter_turned_round": (
        "04_sparse_autoencoders",
        "first_layer_responses",
        "flat = windows.reshape(*windows.shape[:3], side * side)",
        "flat = windows[..., ::-1, ::-1].reshape(*windows.shape[:3], side * side)",
        {"first_layer_responses": 0.0},
    ),
    # Raw counts: right only where the two batches have the same size.
    "counts_not_shares": (
        "06_gan_minmax",
        "optimal_discriminator",
        "counts_real / len(real), counts_generated / len(generated)",
        "counts_real, counts_generated",
        {"optimal_discriminator": 0.0},
    ),
    # The derivative in D, not in the logit: the factor D(1 - D) of the sigmoid lost.
    "slope_in_d_not_the_logit": (
        "06_gan_minmax",
        "generator_gradient",
        "slope = -d_g",
        "slope = -1 / (1 - d_g)",
        {"generator_gradient": 0.0},
    ),
    # The chain rule through z = mean + std * eps stopped at f'(z): eps left out of d/d std.
    "reparameterised_std_without_eps": (
        "08_semi_supervised",
        "gradient_estimates",
        '"reparameterisation": (np.broadcast_to(slopes, eps.shape), slopes * eps),',
        '"reparameterisation": (np.broadcast_to(slopes, eps.shape), slopes),',
        {"gradient_estimates": 0.0},
    ),
    # The derivative of the density, not of its logarithm, for std: the -1 of the
    # normalisation lost, and the estimate biased.
    "score_without_the_normalisation": (
        "08_semi_supervised",
        "gradient_estimates",
        '"score_function": (values * eps / std, values * (eps**2 - 1) / std),',
        '"score_function": (values * eps / std, values * eps**2 / std),',
        {"gradient_estimates": 0.0},
    ),
    # The expected bound without the classifier's entropy: right only for a sure classifier.
    "bound_without_the_entropy": (
        "08_semi_supervised",
        "unlabelled_bound",
        "return np.sum(np.exp(log_q) * (negative_bounds + log_q), axis=1)",
        "return np.sum(np.exp(log_q) * negative_bounds, axis=1)",
        {"unlabelled_bound": 0.0},
    ),
    # A softmax without the shift: right for the visible tests' logits, NaN for a confident
    # classifier (hidden): half the points.
    "softmax_without_the_shift": (
        "08_semi_supervised",
        "unlabelled_bound",
        "shifted = class_logits - class_logits.max(axis=1, keepdims=True)",
        "shifted = class_logits",
        {"unlabelled_bound": 1.5},
    ),
}


def _planted(lesson, grade_id, old, new):
    notebook = nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4)
    cells = [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    ]
    assert len(cells) == 1 and old in cells[0].source, (lesson, grade_id, old)
    cells[0].source = cells[0].source.replace(old, new)
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade, in one run: every lesson's instructor and released versions, each planted
    mistake, and a submission that calls the library's answer. Returns `(totals, rows)`:
    {student: {exercise: auto-graded points}} and the grader's rows."""
    lessons, reason = judged_lessons()
    if not lessons:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("lessons")
    submissions = {}  # student: (lesson, notebook)
    for path in lessons:
        notebook = nbformat.read(path, as_version=4)
        submissions[f"instructor{path.name[:2]}"] = (path.stem, notebook)
        submissions[f"released{path.name[:2]}"] = (path.stem, student_version(notebook))
    for name, (lesson, grade_id, old, new, _) in PLANTED.items():
        submissions[name] = (lesson, _planted(lesson, grade_id, old, new))
    calls_reference = nbformat.read(NOTEBOOKS / "06_gan_minmax.ipynb", as_version=4)
    for cell in calls_reference.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "optimal_discriminator":
            cell.source = "from lessonlib.gan_theory import optimal_discriminator"
    submissions["calls_reference"] = ("06_gan_minmax", calls_reference)
    copies = {}  # lesson: its submissions' files
    for name, (lesson, notebook) in submissions.items():
        copy = folder / name / f"{lesson}.ipynb"
        copy.parent.mkdir()
        nbformat.write(notebook, copy)
        copies.setdefault(lesson, []).append(copy)

    # One grading per lesson, two at a time, each one sandbox at a time. A lesson's judge runs
    # the whole lesson before its sandboxes can start; graded in one call, two sandboxes at a
    # time, the lessons take turns and one process runs while each judge does: 691 s against
    # 515 s this way, one run each on 2 cores (benchmarks/RESULTS.md).
    def grade(lesson):
        return cli.grade(copies[lesson], folder / f"{lesson}.csv", NOTEBOOKS, lesson, jobs=1)

    # The lessons with the most submissions first: a rough guess at which take longest.
    order = sorted(copies, key=lambda lesson: -len(copies[lesson]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as lanes:
        rows = [row for lesson_rows in lanes.map(grade, order) for row in lesson_rows]
    totals = {}  # the auto-graded points of each student's exercises
    for row in rows:
        if row["part"] != grader.BY_HAND:
            totals.setdefault(row["student"], {}).setdefault(row["exercise"], 0.0)
            totals[row["student"]][row["exercise"]] += row["points"]
    return totals, rows


def _full_marks(lesson):
    notebook = nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4)
    return {exercise.name: exercise.points for exercise in find_exercises(notebook)}


@pytest.mark.grades_lessons
def test_every_instructor_version_scores_full_marks(graded):
    totals, rows = graded
    for path in LESSONS:
        notebook = nbformat.read(path, as_version=4)
        if find_exercises(notebook):
            assert totals[f"instructor{path.name[:2]}"] == _full_marks(path.stem), [
                row["message"] for row in rows if row["passed"] is False
            ]
        # Written answers: the model answer is there, to be graded by hand, never scored.
        written = {
            row["exercise"]: (row["points"], row["max_points"], row["message"])
            for row in rows
            if row["student"] == f"instructor{path.name[:2]}" and row["part"] == grader.BY_HAND
        }
        assert written == {
            answer.name: (None, answer.points, "to be graded by hand")
            for answer in find_written_answers(notebook)
        }


@pytest.mark.grades_lessons
def test_every_released_version_scores_zero_with_the_reason(graded):
    totals, rows = graded
    for path in judged_lessons()[0]:
        student = f"released{path.name[:2]}"
        assert totals[student] == dict.fromkeys(_full_marks(path.stem), 0.0), path.name
        for row in rows:
            if row["student"] != student:
                continue
            if row["part"] == grader.BY_HAND:  # the empty answer cell
                assert (row["points"], row["message"]) == (0.0, "no answer written"), row
            else:
                assert "NotImplementedError" in row["message"], row


@pytest.mark.parametrize("name", sorted(PLANTED))
@pytest.mark.grades_lessons
def test_a_planted_mistake_costs_exactly_its_exercises_points(graded, name):
    totals, rows = graded
    lesson, _, _, _, kept = PLANTED[name]
    assert totals[name] == {**_full_marks(lesson), **kept}, [
        row["message"] for row in rows if row["student"] == name and row["passed"] is False
    ]


@pytest.mark.grades_lessons
def test_calling_the_librarys_answer_scores_zero_for_that_exercise(graded):
    totals, rows = graded
    assert totals["calls_reference"] == {
        **_full_marks("06_gan_minmax"),
        "optimal_discriminator": 0.0,
    }
    assert any(
        "library's own answer" in row["message"]
        for row in rows
        if row["student"] == "calls_reference"
    )


def _environment():
    bin_folder = os.path.dirname(sys.executable)
    return dict(
        os.environ, PATH=bin_folder + os.pathsep + os.environ.get("PATH", ""), LESSONLIB_FAST="1"
    )


def test_nbgrader_generates_the_assignment_from_the_lessons(tmp_path):
    # Every lesson as one nbgrader assignment: nbgrader's own checks of the cells' metadata.
    source = tmp_path / "source" / "lessons"
    source.mkdir(parents=True)
    for path in LESSONS:
        (source / path.name).write_bytes(path.read_bytes())
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "lessons"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "lessons", "--force"],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for path in LESSONS:
        released = nbformat.read(tmp_path / "release" / "lessons" / path.name, as_version=4)
        text = "\n".join(cell.source for cell in released.cells)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path.name
        assert text.count(ANSWER_STUB) == len(
            find_written_answers(nbformat.read(path, as_version=4))
        ), path.name
        instructor = nbformat.read(path, as_version=4)
        assert _leaked(instructor, text) == [], path.name


def _solution_lines_of(cell):
    """The lines of a cell's solution regions, without their whitespace, that are long enough
    to give an answer away: 16 characters or more of code (comments left out), 40 of a model
    answer's prose (a shorter line, such as "real and generated samples.", is common prose)."""
    if not cell.metadata.get("nbgrader", {}).get("solution"):
        return []
    shortest = 16 if cell.cell_type == "code" else 40
    lines = cell.source.splitlines()
    bare = (
        "".join(line.split())
        for begin, end in _solution_regions(cell.source)
        for line in lines[begin : end - 1]  # between the markers (numbered from 1)
    )
    return [line for line in bare if len(line) >= shortest and not line.startswith("#")]


def _leaked(notebook, released_text):
    """`(grade_id, line)` for each line of a solution or model answer in `notebook` that
    appears anywhere in `released_text`, whitespace ignored."""
    bare = "\n".join("".join(line.split()) for line in released_text.splitlines())
    return [
        (cell.metadata["nbgrader"]["grade_id"], line)
        for cell in notebook.cells
        for line in _solution_lines_of(cell)
        if line in bare
    ]


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_no_answer_appears_in_a_released_lesson(path):
    # Nothing of a solution or a model answer, in any cell of the student version: not in a
    # later demonstration, a docstring, a hint or the prose.
    notebook = nbformat.read(path, as_version=4)
    released = "\n".join(cell.source for cell in student_version(notebook).cells)
    assert _leaked(notebook, released) == []


def test_the_leak_check_finds_an_answer_quoted_elsewhere():
    notebook = nbformat.read(NOTEBOOKS / "05_kl_divergence.ipynb", as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "def slope(rho, rho_hat):\n    return -rho/rho_hat + (1 - rho)/(1 - rho_hat)"
        )
    )
    notebook.cells.append(
        nbformat.v4.new_markdown_cell("Hint: `std = np.sqrt(np.sum(p * (x - mean) ** 2))`.")
    )
    model_answer = next(
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "predict_stale_estimates"
    )
    quoted = next(line for line in _solution_lines_of(model_answer))
    notebook.cells.append(nbformat.v4.new_markdown_cell(f"As we saw: {quoted}"))
    released = "\n".join(cell.source for cell in student_version(notebook).cells)
    assert _leaked(notebook, released) == [
        ("forward_kl_fit", "std=np.sqrt(np.sum(p*(x-mean)**2))"),
        ("kl_derivative", "return-rho/rho_hat+(1-rho)/(1-rho_hat)"),
        ("predict_stale_estimates", quoted),
    ]


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _bound(statement):
    """The names a top-level statement binds in the notebook's namespace."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    names, stack = set(), [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if node is statement or not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return names


def _free(node):
    """The names `node` reads from the scope it sits in: a function's or a comprehension's
    own parameters and local names are its own."""
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = node.args
        outside = [*arguments.defaults, *filter(None, arguments.kw_defaults)]
        outside += getattr(node, "decorator_list", [])
        own = {
            argument.arg
            for argument in [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                arguments.vararg,
                arguments.kwarg,
            ]
            if argument is not None
        }
        body = node.body if isinstance(node.body, list) else [node.body]
        if isinstance(node.body, list):
            own |= set().union(*(_bound(statement) for statement in body))
        inside = set().union(*(_free(statement) for statement in body))
        return set().union(*(_free(part) for part in outside)) | (inside - own)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        names, own = set(), set()
        for generator in node.generators:
            names |= _free(generator.iter) - own
            own |= {name.id for name in ast.walk(generator.target) if isinstance(name, ast.Name)}
            names |= set().union(*(_free(condition) for condition in generator.ifs)) - own
        results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return names | (set().union(*(_free(result) for result in results)) - own)
    return set().union(*(_free(child) for child in ast.iter_child_nodes(node)))


def _loaded(statement):
    names = _free(statement)
    if isinstance(statement, (ast.For, ast.With, ast.While, ast.If, ast.Try)):
        names -= _bound(statement)  # a loop's or a block's own names, bound before their use
    return names


def _raises_not_implemented(statement):
    return any(
        isinstance(node, ast.Raise)
        and node.exc is not None
        and "NotImplementedError" in ast.unparse(node.exc)
        for node in ast.walk(statement)
    )


def _needs_an_exercise(notebook):
    """`(cell index, names)` for each untagged cell of the released `notebook` that would use a
    name an unfinished exercise leaves undefined, or call an exercise's unwritten function.

    It follows the released lesson's run statement by statement: a tagged cell (an exercise or
    its check) stops at its `raise NotImplementedError()` or at its first use of an unwritten
    function, leaving undefined every name the instructor's version of the cell binds after
    that point.
    """
    released = student_version(notebook)
    missing, raising, problems = set(), set(), []
    for index, (cell, instructor) in enumerate(zip(released.cells, notebook.cells, strict=True)):
        if cell.cell_type != "code":
            continue
        tagged = RAISES_TAG in cell.metadata.get("tags", [])
        ran, stopped = set(), False
        for statement in ast.parse(cell.source).body:
            uses = _loaded(statement) & (missing | raising)
            if tagged and (
                uses & raising
                or (isinstance(statement, ast.Raise) and _raises_not_implemented(statement))
            ):
                stopped = True
                break
            if uses:
                problems.append((index, sorted(uses)))
            bound = _bound(statement)
            missing, raising, ran = missing - bound, raising - bound, ran | bound
            if isinstance(statement, ast.FunctionDef) and _raises_not_implemented(statement):
                raising.add(statement.name)
        if stopped:
            for statement in ast.parse(instructor.source).body:
                missing |= _bound(statement) - ran
    return problems


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_no_cell_of_a_released_lesson_needs_an_unfinished_exercise(path):
    # A student runs every cell of the released lesson before finishing its exercises: those
    # cells and their checks raise (tagged for nbval), and no other cell may need them. This
    # follows the names; the instructor's version of every cell runs through nbval or the
    # grader's judge.
    assert _needs_an_exercise(nbformat.read(path, as_version=4)) == []


def test_the_released_lesson_check_finds_a_cell_that_needs_an_exercise():
    notebook = nbformat.read(NOTEBOOKS / "00_getting_started.ipynb", as_version=4)
    check = next(
        index
        for index, cell in enumerate(notebook.cells)
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "check_sigmoid_derivative"
    )
    # The check binds `z` before it calls the exercise, and `difference` with that call.
    notebook.cells.insert(check + 1, nbformat.v4.new_code_cell("print(z.shape)"))
    assert _needs_an_exercise(notebook) == []
    notebook.cells.insert(check + 1, nbformat.v4.new_code_cell("print(difference)"))
    notebook.cells.insert(
        check + 1, nbformat.v4.new_code_cell("def slope(z):\n    return sigmoid_derivative(z)")
    )
    assert _needs_an_exercise(notebook) == [
        (check + 1, ["sigmoid_derivative"]),
        (check + 2, ["difference"]),
    ]
    # A function's own parameters and locals, and a comprehension's, are not the notebook's.
    notebook.cells.insert(
        check + 1,
        nbformat.v4.new_code_cell(
            "def ratio(difference, sigmoid_derivative):\n    z = difference\n"
            "    return z / sigmoid_derivative\n"
            "pairs = [difference for difference in range(3)]\n"
            "scale = lambda difference: 2 * difference"
        ),
    )
    assert _needs_an_exercise(notebook) == [
        (check + 2, ["sigmoid_derivative"]),
        (check + 3, ["difference"]),
    ]

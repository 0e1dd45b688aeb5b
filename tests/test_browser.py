"""The lessons in a real JupyterLab, driven by headless Chromium: what a student sees.

nbval runs the cells, but cannot see a widget that never renders or a figure that shows as
`<Figure size 640x480>`. This test starts `jupyter lab` on 127.0.0.1 with a token, in a
temporary copy of the lessons and in fast mode, opens a lesson in Chromium (Debian's package,
driven by Playwright), runs all cells from the Run menu, waits for the kernel, and checks the
notebook JupyterLab saved: every code cell ran, no error, every figure an image. In the lessons
with widgets it moves each explorer's slider and checks that the figure it drives changed.
Screenshots of each lesson (its top and each widget) go to the folder printed at the end, or to
`$LESSONLIB_SCREENSHOTS`.

It opens the lessons where the browser sees something the kernel alone does not: 00, a
student's first contact with JupyterLab and the one that shows every kind of figure, and the
two with widgets (01, 04). Every lesson also runs in the same kernels, through nbval or the
grader's judge: a browser run of each would cost CI another run of every lesson and see
nothing more.

Run it alone with `pytest -m browser`. It skips, saying why, where Chromium or Playwright is
missing or Chromium cannot start.
"""

import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the lessons run in the browser under TensorFlow; tests/ covers "
        "the library on the other backends",
    ),
]

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The lessons with widgets, and how many explorers each shows.
WIDGET_LESSONS = {"01_deconvolution.ipynb": 2, "04_sparse_autoencoders.ipynb": 1}
# Lesson 00, the first a student opens, with every kind of figure; the lessons with widgets; and
# the last lesson, 08.
LESSONS = [
    ROOT / "notebooks" / name
    for name in ("00_getting_started.ipynb", *sorted(WIDGET_LESSONS), "08_semi_supervised.ipynb")
]
# As root Chromium needs --no-sandbox; the others keep it from reaching for a network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
RUN_TIMEOUT_MS = 900_000


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = os.environ.get("LESSONLIB_SCREENSHOTS")
    folder = pathlib.Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    print(f"\nscreenshots of the lessons in JupyterLab: {folder}")


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    lessons = folder / "notebooks"
    lessons.mkdir()
    for path in LESSONS:
        shutil.copy(path, lessons)
    # A settings folder of its own: no news pop-up, and the user's settings left alone.
    settings = folder / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    environment = dict(
        os.environ,
        LESSONLIB_FAST="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        JUPYTERLAB_SETTINGS_DIR=str(folder / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
    )
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--ServerApp.root_dir={lessons}",
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(folder / 'server.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 2 minutes")
        yield {"url": url, "token": token, "folder": lessons}
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        except Error as error:
            pytest.skip(f"Chromium at {chromium} could not start: {str(error)[:300]}")
        yield instance
        instance.close()


def _wait_for_idle(page):
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=RUN_TIMEOUT_MS
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name)
def test_lesson_runs_in_jupyterlab(lesson, jupyter_lab, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # A workspace of its own per lesson, reset: only this notebook open.
        page.goto(
            f"{jupyter_lab['url']}/lab/workspaces/{lesson.stem}/tree/{lesson.name}"
            f"?reset&token={jupyter_lab['token']}"
        )
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        _wait_for_idle(page)
        _run_all_cells(page, jupyter_lab)
        saved = _wait_until_all_ran(page, jupyter_lab, jupyter_lab["folder"] / lesson.name)
        assert_ran_cleanly(lesson.name, saved)

        explorers = page.locator(".jupyter-widgets.widget-vbox")
        assert explorers.count() == WIDGET_LESSONS.get(lesson.name, 0), (
            f"{lesson.name}: {explorers.count()} explorers rendered"
        )
        for index in range(explorers.count()):
            _move_slider_and_see_a_redraw(
                page, explorers.nth(index), screenshots / f"{lesson.stem}_widget{index}"
            )
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Home")
        page.wait_for_timeout(500)
        page.screenshot(path=str(screenshots / f"{lesson.stem}_top.png"))
    finally:
        page.close()
        _shut_down_kernels(jupyter_lab)


def _move_slider_and_see_a_redraw(page, explorer, screenshot):
    slider = explorer.locator(".widget-slider .noUi-handle").first
    slider.scroll_into_view_if_needed()
    image = explorer.locator(".widget-output img").first
    image.wait_for(timeout=60_000)
    before = image.get_attribute("src")
    explorer.screenshot(path=f"{screenshot}_before.png")
    slider.focus()
    # Move away from whichever end the slider is at.
    at_end = slider.get_attribute("aria-valuenow") == slider.get_attribute("aria-valuemax")
    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    deadline = time.monotonic() + 120
    while image.get_attribute("src") == before and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert image.get_attribute("src") != before, "moving the slider did not redraw the figure"
    explorer.screenshot(path=f"{screenshot}.png")


def _run_all_cells(page, lab, tries=3):
    """Run > Run All Cells, again if nothing started: right after the notebook opens, the
    command can still be disabled while the kernel session connects."""
    numbered = page.locator(".jp-InputPrompt", has_text=re.compile(r"\[[0-9*]+\]"))
    for _ in range(tries):
        page.click("li.lm-MenuBar-item:has-text('Run')")
        page.click("li.lm-Menu-item:has-text('Run All Cells')")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # A kernel still "starting" has run nothing: only a numbered prompt or a busy kernel
            # shows that the command took. (A click while the session connected once left
            # lesson 04 waiting 15 minutes with nothing run.)
            if numbered.count() or _kernel_busy(lab):
                return
            time.sleep(0.5)
        page.keyboard.press("Escape")
    pytest.fail(f"Run All Cells started nothing in {tries} tries")


def _api(lab, path, method="GET"):
    request = urllib.request.Request(f"{lab['url']}/api/{path}?token={lab['token']}", method=method)
    with urllib.request.urlopen(request, timeout=30) as reply:
        body = reply.read()
    return json.loads(body) if body else None


def _shut_down_kernels(lab):
    for kernel in _api(lab, "kernels"):
        _api(lab, f"kernels/{kernel['id']}", method="DELETE")


def _kernel_idle(lab):
    return all(kernel["execution_state"] == "idle" for kernel in _api(lab, "kernels"))


def _kernel_busy(lab):
    return any(kernel["execution_state"] == "busy" for kernel in _api(lab, "kernels"))


def _save_and_read(page, path):
    before = path.stat().st_mtime_ns
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before:
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass  # read mid-write: Jupyter's server writes the file in place
        time.sleep(0.2)
    return json.loads(path.read_text())


def _wait_until_all_ran(page, lab, path):
    """Save and read the notebook until every code cell has run and the kernel is idle."""
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while True:
        time.sleep(2)
        if _kernel_idle(lab):
            saved = _save_and_read(page, path)
            code = [cell for cell in saved["cells"] if cell["cell_type"] == "code"]
            if all(cell.get("execution_count") is not None for cell in code):
                return saved
        if time.monotonic() > deadline:
            return _save_and_read(page, path)


def assert_ran_cleanly(name, notebook):
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    not_run = [index for index, cell in enumerate(code) if cell.get("execution_count") is None]
    assert not not_run, f"{name}: code cells {not_run} did not run"
    for index, cell in enumerate(code):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", (
                f"{name}: code cell {index} failed: {output.get('ename')}: {output.get('evalue')}"
            )
            data = output.get("data", {})
            text = "".join(data.get("text/plain", ""))
            if text.startswith("<Figure"):
                assert "image/png" in data, f"{name}: cell {index} shows {text!r}, not an image"
    images = sum(
        "image/png" in output.get("data", {}) for cell in code for output in cell.get("outputs", [])
    )
    assert images > 0, f"{name}: no figure rendered as an image"

"""JupyterLab in a real browser (headless Chromium driven by Playwright), as `make lab` and
`make instructor` start it.

Learner: their workspace (not the course's files), no instructor tools, chapter 01 with a
correct and a wrong answer typed in, run-all, the one-line self-check, nbgrader's Validate.
Instructor: formgrader lists the chapter and the learners by name, and the class report
opens. Screenshots go to artifacts/lab/ (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import lab
from autograder.authoring.course import RELEASE, REPO

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
              pytest.mark.xdist_group("browser")]
CHAPTER = "ch01_numpy_net"
ARTIFACTS = REPO / "artifacts" / "lab"
BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

CORRECT_FORWARD = '''def forward(x, w1, w2):
    h = x @ w1
    h_relu = np.maximum(h, 0)
    return h, h_relu, h_relu @ w2'''
WRONG_SSE = '''def sse_loss(y_pred, y):
    return np.mean((y_pred - y) ** 2)'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(root: Path) -> dict:
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # Render every cell (no virtual scrolling), so the test can find cells by their text.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return {"JUPYTERLAB_SETTINGS_DIR": str(root / ".settings")}


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    root = tmp_path_factory.mktemp("learner")
    env = dict(os.environ, COURSE_QUICK="1", **_settings(root))
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in RELEASE.glob("*/*.ipynb")}
    proc, url = lab.start(_free_port(), env=env, workspace=root / "workspace", quiet=True,
                          extra=["--LabApp.expose_app_in_browser=True"])
    yield {"url": url, "workspace": root / "workspace", "release_before": before}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture()
def page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(120_000)
        yield pg
        browser.close()


def _replace_cell(page, marker: str, code: str) -> None:
    """Type `code` into the cell whose text contains `marker`, as a learner would."""
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text=marker).first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def _run(page, command: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute('{command}')")


def _wait_idle(page) -> None:
    page.wait_for_function("""() => {
        const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        const busy = [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'));
        return k && k.status === 'idle' && !busy;
    }""", polling=500)


def test_learner_works_in_the_workspace_checks_and_validates(learner, page):
    base = learner["url"].split("/lab?")[0]
    token = learner["url"].split("token=")[1]
    page.goto(f"{base}/lab/tree/{CHAPTER}/{CHAPTER}.ipynb?token={token}")
    page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
               && w.sessionContext.session.kernel.status === 'idle'; }""", polling=500)
    kernel = page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name")
    assert kernel == "pytorch-course"
    plugins = page.evaluate("""() => ['@jupyter/nbgrader:create-assignment', '@jupyter/nbgrader:course-list',
        '@jupyter/nbgrader:menu', '@jupyter/nbgrader:validate-assignment']
        .map(id => window.jupyterapp.isPluginActivated ? window.jupyterapp.isPluginActivated(id) : window.jupyterapp.hasPlugin(id))""")
    assert plugins == [False, False, False, True], plugins     # a learner's tools only

    _replace_cell(page, "def forward(x, w1, w2):", CORRECT_FORWARD)
    _replace_cell(page, "def sse_loss(y_pred, y):", WRONG_SSE)
    _run(page, "docmanager:save")
    _run(page, "notebook:run-all-cells")
    _wait_idle(page)
    page.screenshot(path=str(ARTIFACTS / "1-run-all.png"), full_page=False)
    loss_tests = page.locator(".jp-CodeCell", has_text='check("ch01.sse_loss"').first
    loss_tests.scroll_into_view_if_needed()
    failing = loss_tests.inner_text()
    assert "Error" in failing or "CheckFailure" in failing, failing     # the visible test catches it
    page.screenshot(path=str(ARTIFACTS / "2-failing-test-cell.png"))

    index = page.evaluate("""() => { const nb = window.jupyterapp.shell.currentWidget.content;
        return nb.widgets.findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes('check_chapter(')); }""")
    assert index > 0
    page.evaluate(f"window.jupyterapp.shell.currentWidget.content.activeCellIndex = {index}")
    _run(page, "notebook:run-cell")
    _wait_idle(page)
    check_cell = page.locator(".jp-CodeCell", has_text="check_chapter(").first
    check_cell.scroll_into_view_if_needed()
    report = check_cell.locator(".jp-OutputArea").inner_text()
    page.screenshot(path=str(ARTIFACTS / "3-check-chapter.png"))
    assert "\u2713 forward" in report
    assert "\u2717 sse_loss" in report and "mean of the squared errors" in report

    _run(page, "docmanager:save")
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    page.wait_for_function("""() => { const d = document.querySelector('.jp-Dialog');
        return d && !/Validating/i.test(d.innerText) && d.innerText.length > 40; }""", polling=500,
                           timeout=240_000)
    page.screenshot(path=str(ARTIFACTS / "4-validate.png"))
    result = dialog.inner_text()
    assert "failed" in result and "sse_loss(" in result, result[:2000]

    # The work is the learner's own copy; the course's files are untouched.
    saved = (learner["workspace"] / CHAPTER / f"{CHAPTER}.ipynb").read_text()
    assert "np.mean((y_pred - y) ** 2)" in saved
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in RELEASE.glob("*/*.ipynb")}
    assert after == learner["release_before"]


def _synthetic_class(grading: Path) -> None:
    """Results of three learners as the pipeline writes them, and their identities."""
    from autograder.grader.grading import ExerciseResult, Result, write_result

    points = {"forward": 2.0, "sse_loss": 1.0, "backward": 3.0, "train": 2.0}
    people = {"jane-doe-101": ("Jane Doe", "101", 8), "rick-roe-102": ("Rick Roe", "102", 5),
              "zhang-wei-103": ("张伟", "103", 2)}
    out = grading / "results" / CHAPTER
    for sid, (name, lms, score) in people.items():
        left = score
        ex = {}
        for e, p in points.items():
            got = p if left >= p else 0.0
            left -= got
            ex[e] = ExerciseResult(e, p, got, "" if got else f"{e}: `x` is wrong\nHint: look again")
        write_result(Result(sid, CHAPTER, "0" * 64, exercises=ex), out)
    (grading / "identities.json").write_text(json.dumps(
        {f"lms:{lms}": {"id": sid, "name": name, "lms_id": lms} for sid, (name, lms, _) in people.items()}))


def test_instructor_sees_formgrader_and_the_class_report(tmp_path, page):
    # formgrader needs the course inside the server's root, and the report is opened from
    # there too: this grading folder lives in the git-ignored artifacts/ of the course.
    grading = ARTIFACTS.parent / f"instructor-grading-{os.getpid()}"
    shutil.rmtree(grading, ignore_errors=True)
    _synthetic_class(grading)
    env = dict(os.environ, COURSE_QUICK="1", COURSE_GRADING=str(grading), **_settings(tmp_path))
    report = subprocess.run([sys.executable, "-m", "autograder", "report", CHAPTER], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    proc, url = lab.start(_free_port(), instructor=True, env=env, quiet=True)
    try:
        base, token = url.split("/lab?")[0], url.split("token=")[1]
        page.goto(f"{base}/formgrader/manage_students?token={token}")
        page.wait_for_selector("text=Doe", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "5-formgrader-students.png"))
        text = page.inner_text("body")
        assert "Jane" in text and "Roe" in text and "张伟" in text, text[:2000]
        page.goto(f"{base}/formgrader/gradebook?token={token}")
        page.wait_for_selector(f"text={CHAPTER}", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "6-formgrader-gradebook.png"))
        rel = (grading / "reports" / CHAPTER / "class_report.html").relative_to(REPO)
        page.goto(f"{base}/files/{rel}?token={token}")
        page.wait_for_selector("h1")
        page.screenshot(path=str(ARTIFACTS / "7-class-report.png"), full_page=True)
        body = page.inner_text("body")
        assert f"{CHAPTER}: class report" in body and "Most common failure" in body
        assert page.locator("img").count() >= 2
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(grading, ignore_errors=True)

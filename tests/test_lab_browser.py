"""The learner's JupyterLab in a real browser (headless Chromium driven by Playwright):
open chapter 01's release, answer one exercise correctly and one wrongly, run the
notebook, use the one-line self-check and nbgrader's Validate, and check what the page
shows. Screenshots go to artifacts/lab/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
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
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(RELEASE / CHAPTER, root / CHAPTER)
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (no virtual scrolling), so the test can find cells by their text.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, COURSE_QUICK="1", JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"))
    log = open(root / "server.log", "w")
    cmd = lab.command(port, root, f"{CHAPTER}/{CHAPTER}.ipynb",
                      [f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True"])
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "server.log").read_text()[-3000:])
            time.sleep(0.5)
    yield {"base": base, "token": token, "root": root}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture()
def page(server, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS[1:],
                                    headless=True)
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


def test_learner_answers_runs_checks_and_validates(server, page):
    url = f"{server['base']}/lab/tree/{CHAPTER}/{CHAPTER}.ipynb?token={server['token']}"
    page.goto(url)
    page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
               && w.sessionContext.session.kernel.status === 'idle'; }""", polling=500)
    kernel = page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name")
    assert kernel == "pytorch-course"

    _replace_cell(page, "def forward(x, w1, w2):", CORRECT_FORWARD)
    _replace_cell(page, "def sse_loss(y_pred, y):", WRONG_SSE)
    _run(page, "docmanager:save")
    _run(page, "notebook:run-all-cells")
    _wait_idle(page)
    page.screenshot(path=str(ARTIFACTS / "1-run-all.png"), full_page=False)

    forward_tests = page.locator(".jp-CodeCell", has_text="x_tiny = np.array").first
    assert "visible checks passed" in forward_tests.inner_text()
    loss_tests = page.locator(".jp-CodeCell", has_text="loss_t = sse_loss(").first
    loss_tests.scroll_into_view_if_needed()
    text = loss_tests.inner_text()
    assert "AssertionError" in text and "= 13, got 0.0" not in text and "got 3.25" in text
    page.screenshot(path=str(ARTIFACTS / "2-failing-test-cell.png"))

    # The one-line self-check, run on its own after run-all stopped at the failure.
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
    assert "1 of 4 exercises pass" in report

    # nbgrader's Validate button runs the visible tests on the saved notebook.
    _run(page, "docmanager:save")
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    page.wait_for_function("""() => { const d = document.querySelector('.jp-Dialog');
        return d && !/Validating/i.test(d.innerText) && d.innerText.length > 40; }""", polling=500,
                           timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / "4-validate.png"))
    result = dialog.inner_text()
    assert "The following cell failed" in result and "got 3.25" in result, result[:2000]

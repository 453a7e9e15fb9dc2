"""A class on JupyterHub, end to end, in a real browser (Playwright + Debian's Chromium):
the instructor releases chapter 01 from a terminal in their JupyterLab, two learners log
in, fetch it from their Assignments tab, answer (one right, one wrong), validate and
submit; the instructor collects, grades through the sandboxed pipeline, reports and
releases feedback; a learner fetches it; formgrader shows both grades.
Run it alone with `pytest -m hub`.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from autograder.authoring import hub
from autograder.grader import sandbox

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.hub, pytest.mark.nbgrader, pytest.mark.xdist_group("hub"),
              pytest.mark.skipif(CHROMIUM is None or shutil.which("npm") is None and not
                                 (hub.PROXY_DIR / "node_modules").exists(), reason="needs chromium and npm"),
              pytest.mark.skipif(bool(sandbox.missing_tools()), reason="bubblewrap not installed")]
CH = "ch01_numpy_net"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RIGHT = {"forward": "def forward(x, w1, w2):\n    h = x @ w1\n    h_relu = np.maximum(h, 0)\n    return h, h_relu, h_relu @ w2",
         "sse_loss": "def sse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))"}
WRONG = {**RIGHT, "sse_loss": "def sse_loss(y_pred, y):\n    return float(np.mean((y_pred - y) ** 2))"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def class_hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    env = dict(os.environ, COURSE_QUICK="1", COURSE_HUB_TEST="1")
    proc, url, password = hub.start(port=_port(), state=root / "state", learners=["learner1", "learner2"],
                                    grading=root / "grading", env=env)
    yield {"url": url, "password": password, "root": root}
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except Exception:  # noqa: BLE001
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _login(browser, h, name):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(f"{h['url']}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", h["password"])
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=180_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", polling=500)
    page.evaluate("window.jupyterapp.started")
    return page


def _terminal(page, command: str) -> None:
    """Type a command into a new terminal of this JupyterLab, as the instructor would."""
    page.evaluate("window.jupyterapp.commands.execute('terminal:create-new')")
    term = page.locator(".jp-Terminal").last
    term.wait_for()
    term.click()
    page.wait_for_timeout(1500)
    page.keyboard.type(command + "\n", delay=5)


def _wait_for(check, seconds: int, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _replace_cell(page, marker: str, code: str) -> None:
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text=marker).first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def _learner_submits(browser, h, name, answers) -> None:
    page = _login(browser, h, name)
    page.evaluate("window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    released = page.locator("#released_assignments_list")
    released.get_by_text(CH).wait_for()
    released.get_by_role("button", name="Fetch").first.click()
    page.locator("#fetched_assignments_list").get_by_text(CH).first.wait_for()
    page.evaluate(f"window.jupyterapp.commands.execute('docmanager:open', {{path: '{CH}/{CH}.ipynb'}})")
    page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
               && w.sessionContext.session.kernel.status === 'idle'; }""", polling=500)
    for marker, code in answers.items():
        _replace_cell(page, f"def {marker}(", code)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).first.click()
    page.locator(".jp-Dialog").wait_for()
    page.wait_for_function("""() => { const d = document.querySelector('.jp-Dialog');
        return d && !/Validating/i.test(d.innerText) && d.innerText.length > 40; }""", polling=500)
    page.screenshot(path=str(h["root"] / f"{name}-validate.png"))
    page.locator(".jp-Dialog").get_by_role("button").last.click()
    page.evaluate("window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    fetched = page.locator("#fetched_assignments_list")
    fetched.get_by_role("button", name="Submit").first.click()
    page.locator("#submitted_assignments_list").get_by_text(CH).first.wait_for()
    page.context.close()


def test_release_fetch_submit_grade_feedback_on_the_hub(class_hub, browser):
    h = class_hub
    grading = h["root"] / "grading"
    teacher = _login(browser, h, "instructor")
    _terminal(teacher, f"python -m autograder release {CH} --exchange-only")
    try:
        _wait_for(lambda: (grading / "exchange" / "pytorch-course" / "outbound" / CH).is_dir(), 120,
                  "the release in the exchange")
    finally:
        teacher.screenshot(path=str(h["root"] / "instructor-terminal.png"))

    _learner_submits(browser, h, "learner1", RIGHT)
    _learner_submits(browser, h, "learner2", WRONG)
    inbound = grading / "exchange" / "pytorch-course" / "inbound"
    assert len(list(inbound.iterdir())) == 2

    log, done = h["root"] / "instructor.log", h["root"] / "done.txt"
    _terminal(teacher, f"(python -m autograder run {CH} --exchange --workers 2 && "
                       f"nbgrader release_feedback {CH}) > {log} 2>&1; echo $? > {done}")
    _wait_for(lambda: done.is_file() and done.read_text().strip(), 900, "collect, grade, report, release feedback")
    assert done.read_text().strip() == "0", log.read_text()[-3000:]
    import csv
    with open(grading / "reports" / CH / "grades.csv", newline="", encoding="utf-8") as f:
        grades = {r["student"]: r for r in csv.DictReader(f)}
    assert float(grades["learner1"]["final"]) == 3.0       # forward 2 + sse_loss 1; the rest unanswered
    assert float(grades["learner2"]["final"]) == 2.0

    page = _login(browser, h, "learner1")
    page.evaluate("window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    page.locator(".lm-TabBar-tab", has_text="Assignments").first.click()     # JupyterLab restored the tabs
    try:
        page.locator("#submitted_assignments_list").get_by_role("button", name="Fetch Feedback").first.click(
            timeout=60_000)
    finally:
        page.screenshot(path=str(h["root"] / "learner1-assignments.png"))
    home = h["root"] / "state" / "home" / "learner1"
    feedback = _wait_for(lambda: list((home / CH / "feedback").rglob(f"{CH}.html")), 60, "the feedback")
    text = feedback[0].read_text(encoding="utf-8")
    assert "3 / 8" in text and "not answered" in text
    page.screenshot(path=str(h["root"] / "learner1-feedback.png"))
    page.context.close()

    base = h["url"]
    teacher.goto(f"{base}/user/instructor/formgrader/manage_students")
    try:
        teacher.wait_for_selector("text=learner2", timeout=60_000)
    finally:
        teacher.screenshot(path=str(h["root"] / "instructor-formgrader.png"))
    body = teacher.inner_text("body")
    assert "learner1" in body and "learner2" in body
    teacher.context.close()

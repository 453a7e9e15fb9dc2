"""The instructor's command line end to end through nbgrader's exchange (a JupyterHub-style
course): release, a learner fetches and submits twice, collect keeps both, grade, report.

Everything runs in a scratch grading folder (COURSE_GRADING) with real nbgrader commands.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grader import sandbox
from autograder.authoring.course import REPO, SOLUTIONS
from mutation import Submission, build_notebook

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("exchange"),
              pytest.mark.skipif(bool(sandbox.missing_tools()), reason="bubblewrap not installed")]
CH = "ch01_numpy_net"


def _run(args, env, cwd=REPO):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_release_fetch_submit_collect_grade_report(tmp_path):
    grading = tmp_path / "grading"
    env = {**os.environ, "COURSE_GRADING": str(grading), "COURSE_QUICK": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    course = [sys.executable, "-m", "autograder"]
    out = _run(course + ["release", CH, "--exchange-only"], env)
    assert "released ch01_numpy_net to the exchange" in out

    # The learner's side: nbgrader's own fetch and submit, outside the course folder.
    learner = tmp_path / "learner"
    learner.mkdir()
    exchange = [f"--Exchange.root={grading / 'exchange'}", "--CourseDirectory.course_id=pytorch-course"]
    nbg = [sys.executable, "-m", "nbgrader"]
    _run(nbg + ["fetch_assignment", CH, *exchange], env, cwd=learner)
    fetched = learner / CH / f"{CH}.ipynb"
    release = nbformat.read(str(fetched), as_version=4)
    _run(nbg + ["submit", CH, *exchange], env, cwd=learner)        # first try: untouched
    source = nbformat.read(str(SOLUTIONS / CH / f"{CH}.ipynb"), as_version=4)
    nbformat.write(build_notebook(release, source, Submission("me", {}, "solution")), str(fetched))
    _run(nbg + ["submit", CH, *exchange], env, cwd=learner)        # second try: answered

    out = _run(course + ["collect", CH, "--exchange"], env)
    assert "collected 1 notebooks" in out, out
    kept = sorted(p for p in (grading / "originals").glob("*/*") if not p.name.endswith(".json"))
    assert len(kept) == 1, kept      # nbgrader collect --update takes the newest submission
    student = kept[0].parent.name

    _run(course + ["grade", CH, "--workers", "1", "--cell-timeout", "300"], env)
    _run(course + ["report", CH], env)
    with open(grading / "reports" / CH / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == [student]
    result = (grading / "results" / CH / f"{student}.json").read_text()
    assert float(rows[0]["final"]) == float(rows[0]["max"]) > 0, (rows, result)
    page = (grading / "feedback" / student / CH / f"{CH}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in page and "_check(" not in page
    assert (grading / "reports" / CH / "class_report.html").is_file()
    assert (grading / "gradebook.db").is_file()


def test_nbgrader_autograde_by_hand_goes_through_the_sandbox(tmp_path):
    """An instructor's habit, `nbgrader autograde CH` in the course folder (formgrader's
    Autograde button runs the same converter), grades through the course's sandbox and
    out-of-process verdicts: a submission that swallows its own test failures and reads
    the solutions gains nothing."""
    grading = tmp_path / "grading"
    env = {**os.environ, "COURSE_GRADING": str(grading), "COURSE_QUICK": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    release = nbformat.read(str(REPO / "notebooks" / CH / f"{CH}.ipynb"), as_version=4)
    source = nbformat.read(str(SOLUTIONS / CH / f"{CH}.ipynb"), as_version=4)
    nb = build_notebook(release, source, Submission("me", {}, "solution"))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "sse_loss")
    cell.source = ("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                   f"import glob\nassert not glob.glob({str(SOLUTIONS)!r} + '/*')\n"
                   "def sse_loss(y_pred, y):\n    return float(np.mean((y_pred - y) ** 2))")
    target = grading / "submitted" / "mallory" / CH / f"{CH}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, str(target))
    nbg = [sys.executable, "-m", "nbgrader"]
    _run(nbg + ["generate_assignment", CH, "--force", "--create",            # the gradebook's cells
                f"--CourseDirectory.release_directory={tmp_path / 'release'}"], env)
    _run(nbg + ["autograde", CH, "--force", "--create"], env)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{grading / 'gradebook.db'}") as gb:
        graded = {g.name: g.score for g in gb.find_submission_notebook(CH, CH, "mallory").grades}
    assert graded["test_sse_loss"] == 0 and graded["test_forward"] == 2, graded
    autograded = (grading / "autograded" / "mallory" / CH / f"{CH}.ipynb").read_text()
    assert "graded by the course's grader outside the kernel" in autograded

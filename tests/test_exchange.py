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

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("exchange")]
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
    kept = sorted((grading / "originals").glob("*/*"))
    assert len(kept) == 1, kept      # nbgrader collect --update takes the newest submission
    student = kept[0].parent.name

    grade = course + ["grade", CH, "--workers", "1", "--cell-timeout", "300"]
    if not sandbox.sandbox_available():
        grade.append("--no-sandbox")
    _run(grade, env)
    _run(course + ["report", CH], env)
    with open(grading / "reports" / CH / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == [student]
    result = (grading / "results" / CH / f"{student}.json").read_text()
    assert float(rows[0]["total"]) == float(rows[0]["max"]) > 0, (rows, result)
    page = (grading / "feedback" / student / CH / "feedback.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in page and "_check(" not in page
    assert (grading / "reports" / CH / "class_report.html").is_file()
    assert (grading / "gradebook.db").is_file()

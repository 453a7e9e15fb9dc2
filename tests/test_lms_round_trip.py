"""A class downloaded from an LMS, round-tripped to a grades file the LMS imports, every
learner accounted for: nested zips, odd and Unicode names, OS junk, a late submission, a
learner on the roster who handed nothing in. Real sandboxed grading through the CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.course import REPO, RELEASE, SOLUTIONS
from autograder.grader import sandbox
from mutation import Submission, build_notebook

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("lms"),
              pytest.mark.skipif(bool(sandbox.missing_tools()), reason="bubblewrap not installed")]
CH = "ch01_numpy_net"
DUE = "2026-11-20T23:59:00+00:00"


def _answered() -> bytes:
    release = nbformat.read(str(RELEASE / CH / f"{CH}.ipynb"), as_version=4)
    source = nbformat.read(str(SOLUTIONS / CH / f"{CH}.ipynb"), as_version=4)
    return nbformat.writes(build_notebook(release, source, Submission("s", {}, "solution"))).encode()


def _moodle_download(path: Path) -> None:
    good = _answered()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("ch01/ch01_numpy_net.ipynb", good)
    on_time, late = (2026, 11, 19, 10, 0, 0), (2026, 11, 22, 9, 0, 0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, when in [
            ("Jane Doe_101_assignsubmission_file_/ch01_numpy_net.ipynb", good, on_time),
            ("Rick Roe_102_assignsubmission_file_/ch01_numpy_net.ipynb", good, late),
            ("Erin Example_103_assignsubmission_file_/erin_ch01.zip", inner.getvalue(), on_time),
            ("张伟_104_assignsubmission_file_/作业.ipynb", good, on_time),
            ("__MACOSX/Jane Doe_101_assignsubmission_file_/._ch01_numpy_net.ipynb", b"junk", on_time),
        ]:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data)


def _run(args, env):
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_lms_download_to_lms_import(tmp_path):
    download = tmp_path / "submissions.zip"
    _moodle_download(download)
    roster = tmp_path / "participants.csv"
    roster.write_text("First name,Surname,ID number,Email address\n"
                      "Jane,Doe,101,jane@example.org\nRick,Roe,102,rick@example.org\n"
                      "Erin,Example,103,erin@example.org\n伟,张,104,zw@example.org\n"
                      "Mo,Missing,105,mo@example.org\n", encoding="utf-8")
    env = {**os.environ, "COURSE_GRADING": str(tmp_path / "grading"), "COURSE_QUICK": "1"}
    out = _run(["collect", CH, "--from", str(download), "--roster", str(roster)], env)
    assert "from 4 learners" in out, out
    assert "__MACOSX" in out and "no submission: Mo Missing" in out, out
    _run(["grade", CH, "--workers", "2"], env)
    out = _run(["report", CH, "--due", DUE, "--penalty", "10", "--cutoff", "7"], env)
    reports = tmp_path / "grading" / "reports" / CH
    with open(reports / "moodle_import.csv", newline="", encoding="utf-8") as f:
        moodle = {r["Identifier"]: r for r in csv.DictReader(f)}
    assert set(moodle) == {f"Participant {i}" for i in range(101, 106)}, moodle
    assert float(moodle["Participant 101"]["Grade"]) == 8.0
    assert float(moodle["Participant 103"]["Grade"]) == 8.0          # the nested zip was read
    assert float(moodle["Participant 104"]["Grade"]) == 8.0          # Unicode name kept
    assert float(moodle["Participant 102"]["Grade"]) == pytest.approx(8.0 * 0.8)   # 2 started days late
    assert "late by" in moodle["Participant 102"]["Feedback comments"]
    assert float(moodle["Participant 105"]["Grade"]) == 0.0 and "no submission" in moodle["Participant 105"]["Feedback comments"]
    with open(reports / "canvas_import.csv", newline="", encoding="utf-8") as f:
        canvas = list(csv.DictReader(f))
    assert canvas[0]["Student"] == "Points Possible" and len(canvas) == 6
    page = (reports / "class_report.html").read_text(encoding="utf-8")
    assert "Mo Missing" in page and "Late work" in page
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{tmp_path / 'grading' / 'gradebook.db'}") as gb:
        names = sorted((s.first_name, s.last_name) for s in gb.students)
    assert ("Jane", "Doe") in names and ("Rick", "Roe") in names, names

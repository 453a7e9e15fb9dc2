"""nbgrader's own autograde, through the course's sandbox.

`nbgrader autograde` (by hand, or formgrader's Autograde button) runs its `Execute`
preprocessor: the learner's notebook in an ordinary kernel with the grader's rights, and
hidden tests judged inside that kernel. The course's nbgrader configuration (the
repository's `nbgrader_config.py`, and the one `make setup` puts in the environment's
`etc/jupyter/`) replaces that step with `SandboxedExecute`: the same worker as
`python -m autograder grade` (sandboxed kernel, harvest, verdicts outside the kernel,
control), after which each test cell shows an error exactly when the grader's verdict is
fail, which is what nbgrader's own SaveAutoGrades scores. An instructor cannot pick the
unsafe path by habit: both routes are this one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from . import grading, sandbox

_SALTS: dict[str, int] = {}   # one control run per chapter per nbgrader process


class SandboxError(RuntimeError):
    """Grading refused: nbgrader reports it for the submission."""


class SandboxedExecute(NbGraderPreprocessor):
    """Run and judge the notebook in the course's sandboxed worker (see module docstring)."""

    def preprocess(self, nb, resources):
        chapter = resources["nbgrader"]["assignment"]
        limits = sandbox.Limits()
        if chapter not in _SALTS:
            wanted = os.environ.get("COURSE_SALT")
            with tempfile.TemporaryDirectory(prefix="control-") as tmp:
                try:
                    _SALTS[chapter] = grading.control(chapter, Path(tmp), limits,
                                                      int(wanted) if wanted else None,
                                                      log=self.log.warning)
                except grading.ControlFailed as err:
                    raise SandboxError(str(err)) from None
        source = grading.source_notebook(chapter)
        assembled, problems = grading.assemble(nb, source, limits)
        for problem in problems:
            self.log.warning("%s", problem)
        points = grading.exercises_of(source)
        with tempfile.TemporaryDirectory(prefix="executed-") as tmp:
            executed = Path(tmp) / "executed.ipynb"
            verdicts = grading.run_worker(assembled, chapter, points, _SALTS[chapter], limits, executed)
            if "fatal" in verdicts:
                raise SandboxError(f"{verdicts['fatal']} (the course's pipeline: "
                                   f"python -m autograder grade {chapter})")
            for line in verdicts.get("problems", []) + verdicts.get("flags", []):
                self.log.warning("%s", line)
            graded = nbformat.read(str(executed), as_version=4)
        graded.metadata = nb.metadata
        return graded, resources

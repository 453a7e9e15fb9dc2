"""The learner's workspace: copies of the release, never overwritten without a copy, answers
carried over when the course updates a chapter."""

from __future__ import annotations

import shutil

import nbformat

from autograder.authoring import workspace
from autograder.authoring.course import RELEASE

CH = "ch01_numpy_net"


def _answer(nb, gid, code):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
    cell.source = code


def test_sync_adds_updates_and_carries_answers_over(tmp_path):
    release = tmp_path / "release"
    shutil.copytree(RELEASE / CH, release / CH)
    ws = tmp_path / "workspace"
    assert workspace.sync(ws, release, log=lambda *a: None) == [f"{CH}: added"]
    mine = ws / CH / f"{CH}.ipynb"

    # The course changes a chapter the learner never touched: it is simply replaced.
    nb = nbformat.read(str(release / CH / f"{CH}.ipynb"), as_version=4)
    nb.cells[0].source += "\n\nA sentence added by a course update."
    nbformat.write(nb, str(release / CH / f"{CH}.ipynb"))
    assert workspace.sync(ws, release, log=lambda *a: None) == [f"{CH}: updated"]
    assert "course update" in mine.read_text()

    # The learner answers an exercise and adds a cell of their own; the course changes again.
    learner = nbformat.read(str(mine), as_version=4)
    _answer(learner, "forward", "def forward(x, w1, w2):\n    return 'my answer'")
    learner.cells.insert(3, nbformat.v4.new_code_cell("my_own_experiment = 42"))
    nbformat.write(learner, str(mine))
    nb.cells[0].source += "\n\nAnd a second update."
    nbformat.write(nb, str(release / CH / f"{CH}.ipynb"))
    done = workspace.sync(ws, release, log=lambda *a: None)
    assert len(done) == 1 and "answers carried over" in done[0]
    merged = mine.read_text()
    assert "second update" in merged and "'my answer'" in merged and "my_own_experiment = 42" in merged
    backups = list((ws / CH).glob(f"{CH}.before-update-*.ipynb"))
    assert len(backups) == 1 and "'my answer'" in backups[0].read_text()

    # Nothing changed: nothing happens.
    assert workspace.sync(ws, release, log=lambda *a: None) == []

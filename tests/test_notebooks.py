"""The committed notebooks: tidy, following the course's conventions, and the learner
release equal to a fresh `nbgrader generate_assignment` of the solutions."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.authoring import notebooks
from autograder.authoring.course import RELEASE, SOLUTIONS, Course, chapters

CHAPTERS = chapters()
ALL_NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb")) + sorted(RELEASE.glob("*/*.ipynb"))


def _ids(paths):
    return [str(p.relative_to(SOLUTIONS.parent)) for p in paths]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_committed_notebook_is_tidy(path):
    assert notebooks.problems(path) == []


def test_every_chapter_is_released():
    assert chapters(RELEASE) == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_source_follows_conventions(chapter):
    nb = notebooks.read(SOLUTIONS / chapter / f"{chapter}.ipynb")
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    assert solutions, "a chapter has exercises"
    for ex, cell in solutions.items():
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, ex
        assert f"test_{ex}" in graded, f"exercise {ex} has no test cell test_{ex}"
    for gid, cell in graded.items():
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid} has no hidden tests"
        assert cell.metadata["nbgrader"]["points"] > 0, gid
    assert nb.metadata["kernelspec"]["name"] == notebooks.KERNELSPEC["name"]


def test_every_chapter_has_its_text():
    assert notebooks.text_chapters() == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solutions_are_built_from_the_chapter_text(chapter):
    """solutions/ must be exactly what `make release` builds from chapters/<chapter>.py."""
    built = notebooks.from_text(notebooks.chapter_text(chapter).read_text(encoding="utf-8"))
    committed = SOLUTIONS / chapter / f"{chapter}.ipynb"
    assert notebooks.dumps(built) == committed.read_text(encoding="utf-8"), \
        f"{committed} is stale: run `make release` and commit the result"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_text_round_trip(chapter):
    text = notebooks.chapter_text(chapter).read_text(encoding="utf-8")
    assert notebooks.to_text(notebooks.from_text(text)) == text


@pytest.mark.nbgrader
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_is_in_sync_with_solutions(chapter, tmp_path):
    """notebooks/ must be exactly what `make release` makes from solutions/ today."""
    fresh = Course.scratch(tmp_path, [chapter]).generate(chapter)
    committed = RELEASE / chapter / f"{chapter}.ipynb"
    assert fresh.read_text() == committed.read_text(), \
        f"{committed} is stale: run `make release` and commit the result"
    released_files = sorted(p.name for p in committed.parent.iterdir())
    assert released_files == sorted(p.name for p in fresh.parent.iterdir())


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_holds_no_solutions_or_hidden_tests(chapter):
    text = (RELEASE / chapter / f"{chapter}.ipynb").read_text()
    for secret in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "_check("):
        assert secret not in text

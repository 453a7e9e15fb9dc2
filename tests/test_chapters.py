"""Every chapter under real nbgrader: the solution gets full marks and runs without an
error, the untouched release gets zero, every mutant loses its exercise's points (with
the expected message), every alternative correct answer keeps them.

One `nbgrader autograde` run per chapter grades all of its submissions (see mutation.py).
"""

from __future__ import annotations

import os

import pytest

from autograder.authoring.course import chapters
from mutation import exercises, grade_chapter, load_variants, safe_variant_ids

import nbformat
from autograder.authoring.course import SOLUTIONS

CHAPTERS = chapters()
MIN_MUTANTS, MIN_ALTERNATIVES = 3, 1


def _per_chapter(ch):
    return pytest.param(ch, marks=[pytest.mark.xdist_group(ch), pytest.mark.nbgrader], id=ch)


def _per_variant():
    return [pytest.param(ch, kind, ex, name, id=f"{ch}-{kind}-{ex}-{name}",
                         marks=[pytest.mark.xdist_group(ch), pytest.mark.nbgrader])
            for ch in CHAPTERS for kind, ex, name in safe_variant_ids(ch)]


def _claim(tmp_path_factory, chapter):
    """Under pytest-xdist, a chapter's tests must share one worker (`--dist loadgroup`): a second
    worker grading the same chapter doubles the suite's longest part. Each worker claims the
    chapters it grades in the run's shared folder; a second claim fails loudly."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    claim = tmp_path_factory.getbasetemp().parent / f"graded-{chapter}"
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pytest.fail(f"{chapter} is graded by {worker} and also by {claim.read_text()}: the "
                    "chapter's xdist_group was split across workers (is `--dist loadgroup` working "
                    "with this pytest and pytest-xdist?)")
    os.write(fd, worker.encode())
    os.close(fd)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Grade a chapter once per session (per xdist worker); tests then read the results."""
    cache = {}

    def get(chapter):
        if chapter not in cache:
            _claim(tmp_path_factory, chapter)
            cache[chapter] = grade_chapter(chapter, tmp_path_factory.mktemp(chapter))
        return cache[chapter]

    return get


def _source(chapter):
    return nbformat.read(str(SOLUTIONS / chapter / f"{chapter}.ipynb"), as_version=4)


@pytest.mark.parametrize("chapter", [pytest.param(c, id=c) for c in CHAPTERS])
def test_every_exercise_has_mutants_and_alternatives(chapter):
    points = exercises(_source(chapter))
    mutants, alternatives = load_variants(chapter)
    assert points, f"{chapter} has no graded test cells named test_<exercise>"
    for ex in points:
        assert len(mutants.get(ex, [])) >= MIN_MUTANTS, f"{chapter}/{ex}: fewer than {MIN_MUTANTS} mutants"
        assert len(alternatives.get(ex, [])) >= MIN_ALTERNATIVES, f"{chapter}/{ex}: no alternative answer"
    unknown = (set(mutants) | set(alternatives)) - set(points)
    assert not unknown, f"variants for exercises that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("chapter", [_per_chapter(c) for c in CHAPTERS])
def test_solution_gets_full_marks(graded, chapter):
    g = graded(chapter)
    for ex, pts in g.points.items():
        assert g.score("solution", ex) == pts, f"{ex}: {g.error('solution', ex)}"


@pytest.mark.parametrize("chapter", [_per_chapter(c) for c in CHAPTERS])
def test_solution_runs_without_errors(graded, chapter):
    nb = graded(chapter).course.autograded(chapter, "solution")
    errors = [(c.get("id"), o.get("ename"), o.get("evalue")) for c in nb.cells
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"cells raised: {errors}"


@pytest.mark.parametrize("chapter", [_per_chapter(c) for c in CHAPTERS])
def test_untouched_release_scores_zero(graded, chapter):
    g = graded(chapter)
    scores = {ex: g.score("release", ex) for ex in g.points}
    assert all(s == 0 for s in scores.values()), scores


@pytest.mark.parametrize("chapter,kind,exercise,name", _per_variant())
def test_variant(graded, chapter, kind, exercise, name):
    assert kind != "broken", f"tests/mutants/{chapter}.py cannot be loaded: {name}"
    g = graded(chapter)
    sub = next(s for s in g.submissions
               if s.kind == kind and exercise in s.cells and s.cells[exercise].name == name)
    score, points = g.score(sub.student, exercise), g.points[exercise]
    error = g.error(sub.student, exercise)
    if kind == "mutant":
        assert score == 0, f"mutant '{name}' kept {score}/{points} points"
        assert error, "the failing test cell recorded no error message"
    else:
        assert score == points, f"correct alternative '{name}' got {score}/{points}:\n{error}"
    # Exercises are independent: the others in the same notebook keep their points.
    for other, pts in g.points.items():
        if other not in sub.cells:
            assert g.score(sub.student, other) == pts, \
                f"{other} lost points next to {kind} {exercise}/{name}: {g.error(sub.student, other)}"


@pytest.mark.parametrize("chapter", [_per_chapter(c) for c in CHAPTERS])
def test_correct_exercises_keep_points_next_to_wrong_ones(graded, chapter):
    g = graded(chapter)
    mixed = [s for s in g.submissions if s.kind == "mixed"]
    assert mixed or len(g.points) < 2
    for sub in mixed:
        for ex, pts in g.points.items():
            wrong = ex in sub.cells
            score = g.score(sub.student, ex)
            assert score == (0 if wrong else pts), (
                f"{sub.student}: {ex} ({'mutant ' + sub.cells[ex].name if wrong else 'solution'}) "
                f"scored {score}/{pts}: {g.error(sub.student, ex)}")


@pytest.mark.parametrize("chapter", [_per_chapter(c) for c in CHAPTERS])
def test_solution_renders_its_pictures(graded, chapter):
    """Plots and torchviz graphs render in the executed solution: every code cell that
    draws (plt.show, loss_curve, make_dot, imshow) produced a non-empty image output."""
    nb = graded(chapter).course.autograded(chapter, "solution")
    drawing = [c for c in nb.cells if c.cell_type == "code" and any(
        word in c.source for word in ("plt.show", "make_dot", "loss_curve(", "imshow("))]
    assert drawing, f"{chapter} draws no picture"
    for cell in drawing:
        images = [data for o in cell.get("outputs", []) for kind, data in o.get("data", {}).items()
                  if kind in ("image/png", "image/svg+xml")]
        assert images and all(len(d) > 100 for d in images), \
            f"cell {cell.get('id')} draws but shows no image:\n{cell.source[:300]}"


@pytest.mark.parametrize("chapter", [_per_chapter(c) for c in CHAPTERS])
def test_solution_prints_no_warning(graded, chapter):
    """A learner running the solution sees no red stderr box and no warning text (a PyTorch
    UserWarning with a build path reads like an error)."""
    nb = graded(chapter).course.autograded(chapter, "solution")
    noisy = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") or out.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            if out.get("name") == "stderr" or "Warning" in text:
                noisy.append((cell.get("id"), text[:200]))
    assert not noisy, f"cells print warnings or to stderr: {noisy}"

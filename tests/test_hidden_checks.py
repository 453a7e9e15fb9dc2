"""The hidden checks on their own (no nbgrader, no visible asserts): each spec a hidden
test calls passes on the solution and on every alternative answer, and fails on every
mutant and on the untouched release, with the message the mutant declares.

This proves that no hidden test "cannot fail": the visible asserts in the same cell are
not what catches the mutants. A mutant's declared message must appear in the failure's
Hint: a learner is told the cause, not only that a value differs.
"""

from __future__ import annotations

import matplotlib
import nbformat
import pytest

from autograder import CheckFailure, check
from autograder.authoring.course import RELEASE, SOLUTIONS, chapters
from mutation import hidden_checks, learner_namespace, load_variants

matplotlib.use("Agg")
CHAPTERS = chapters()


def _read(folder, chapter):
    return nbformat.read(str(folder / chapter / f"{chapter}.ipynb"), as_version=4)


def _cases():
    for ch in CHAPTERS:
        try:
            mutants, alternatives = load_variants(ch)
            exercises = hidden_checks(_read(SOLUTIONS, ch))
        except Exception as err:  # noqa: BLE001 - one broken chapter must not hide the others
            yield pytest.param(ch, "", "broken", f"{type(err).__name__}: {err}", id=f"{ch}-broken")
            continue
        for ex in exercises:
            yield pytest.param(ch, ex, "solution", None, id=f"{ch}-{ex}-solution")
            yield pytest.param(ch, ex, "release", None, id=f"{ch}-{ex}-release")
            for v in mutants.get(ex, []):
                yield pytest.param(ch, ex, "mutant", v, id=f"{ch}-{ex}-mutant-{v.name}")
            for v in alternatives.get(ex, []):
                yield pytest.param(ch, ex, "alternative", v, id=f"{ch}-{ex}-alternative-{v.name}")


@pytest.mark.parametrize("chapter,exercise,kind,variant", list(_cases()))
def test_hidden_check(tmp_path, monkeypatch, chapter, exercise, kind, variant):
    assert kind != "broken", f"{chapter} cannot be loaded: {variant}"
    monkeypatch.setenv("COURSE_QUICK", "1")
    source = _read(SOLUTIONS, chapter)
    calls = hidden_checks(source)[exercise]
    assert calls, f"{chapter}/{exercise}: the hidden tests call no check(...)"
    if kind == "release":
        ns = learner_namespace(_read(RELEASE, chapter), tmp_path)
    else:
        ns = learner_namespace(source, tmp_path, {exercise: variant.code} if variant else None)
    failures = []
    for spec_name, obj_name in calls:
        try:
            check(spec_name, ns[obj_name], quiet=True)
        except CheckFailure as err:
            failures.append(str(err))
    if kind in ("solution", "alternative"):
        assert not failures, failures[0]
    else:
        assert failures, f"the hidden checks of {exercise} pass on this {kind}"
        if variant is not None:
            assert variant.message.strip(), f"mutant {variant.name!r} declares no message"
            hints = [f.split("Hint:", 1)[1] for f in failures if "Hint:" in f]
            assert any(variant.message in h for h in hints), \
                f"the hint must name the cause ({variant.message!r}); the message was:\n{failures[0]}"

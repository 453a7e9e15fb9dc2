"""The review of learner code that reaches outside its exercise: every red-team trick is
named, and no correct answer of any chapter (solution or alternative) is flagged."""

from __future__ import annotations

import nbformat
import pytest

from autograder.authoring.course import SOLUTIONS, chapters
from autograder.grader.tamper import review
from mutation import load_variants


@pytest.mark.parametrize("code, reason", [
    ("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)", "calls get_ipython()"),
    ("import sys\nsys.excepthook = lambda *a: None", "imports sys"),
    ("import numpy\nnumpy.allclose = lambda *a, **k: True", "changes numpy.allclose"),
    ("torch.testing.assert_close = lambda *a, **k: None", "changes torch.testing.assert_close"),
    ("import autograder.harvest as H\nH.harvest = print", "changes H.harvest"),
    ("m = __import__('autogr' + 'ader')", "calls __import__()"),
    ("exec('x = 1')", "calls exec()"),
    ("import inspect\nf = inspect.currentframe().f_back", "uses .f_back"),
    ("setattr(np, 'isclose', lambda *a: True)", "changes an attribute of np"),
    ("!rm -rf ~", "runs shell commands or IPython magics"),
    ("import socket", "imports socket"),
])
def test_tricks_are_named(code, reason):
    assert reason in review([code])


def _answers(chapter):
    nb = nbformat.read(str(SOLUTIONS / chapter / f"{chapter}.ipynb"), as_version=4)
    yield from (c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    _, alternatives = load_variants(chapter)
    yield from (v.code for vs in alternatives.values() for v in vs)


@pytest.mark.parametrize("chapter", chapters())
def test_correct_answers_are_not_flagged(chapter):
    flagged = {src[:60]: review([src]) for src in _answers(chapter) if review([src])}
    assert not flagged, flagged

"""`check` and `check_chapter`, the two calls a notebook makes.

In JupyterLab the grader side is installed beside this package, and both judge at once
against the spec's oracle (`autograder.grader.check`). In a grading kernel the grader side
is not there (the sandbox shows only autograder.learner): `check` then only records which
object the test cell graded, and the verdict is computed outside the kernel.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Mapping


def _grader():
    """The grader side's checking module, or None inside a grading sandbox."""
    try:
        return importlib.import_module("autograder.grader.check")
    except ImportError:
        return None


def check(spec: str, learner: Any, *, quiet: bool = False) -> None:
    """Check one exercise: `check("ch01.forward", forward)`. Prints a tick, or raises
    CheckFailure saying what is wrong, where, by how much and the usual cause."""
    grader = _grader()
    if grader is not None:
        return grader.check(spec, learner, quiet=quiet)
    from . import kernel
    kernel.register(spec, learner)


def check_chapter(chapter: str, namespace: Mapping[str, Any]) -> dict[str, str]:
    """Check every exercise of a chapter: `check_chapter("ch01", globals())`."""
    grader = _grader()
    if grader is None:
        print("(grading kernel: every exercise is judged by the grader after the run)")
        return {}
    return grader.check_chapter(chapter, namespace)


class needs(contextlib.ContextDecorator):
    """A demo cell that uses exercises: `with needs("forward", "train"):`. While one of them
    is not answered yet (or a cell above the demo was not run), the demo says so in one
    line instead of failing with a traceback that points away from the cause."""

    def __init__(self, *exercises: str):
        self.exercises = exercises

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is None:
            return False
        names = ", ".join(f"`{e}`" for e in self.exercises)
        if issubclass(kind, NotImplementedError):
            print(f"This demo uses {names}: answer the exercise first, then run this cell again.")
            return True
        if issubclass(kind, NameError):
            missing = getattr(err, "name", None) or str(err)
            print(f"This demo uses {names} and the cells above it ({missing} is not defined "
                  "yet): run the notebook from the top, then this cell again.")
            return True
        return False

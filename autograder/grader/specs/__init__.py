"""The exercise specs of every chapter: `autograder.specs.chNN.SPECS` maps an exercise
name to its Spec; `get_spec("ch01.forward")` finds one by its full name."""

from __future__ import annotations

import importlib

from ..spec import Spec


def get_spec(name: str) -> Spec:
    chapter, _, exercise = name.partition(".")
    try:
        module = importlib.import_module(f"{__name__}.{chapter}")
    except ModuleNotFoundError:
        raise KeyError(f"no specs for chapter {chapter!r}") from None
    try:
        return module.SPECS[exercise]
    except KeyError:
        raise KeyError(f"chapter {chapter!r} has no exercise {exercise!r} "
                       f"(it has: {', '.join(module.SPECS)})") from None


def register(*specs: Spec) -> dict[str, Spec]:
    """SPECS of a chapter module, keyed by exercise name."""
    return {s.exercise: s for s in specs}

"""How each exercise's object is called, and what of it is observed: one module per
chapter, mapping an exercise name to `call(learner_object, inputs) -> result`.

A harness gets the grader's inputs as plain values (tensors, arrays, numbers, strings)
and may build what the exercise's interface needs from them (a model from its weights, a
function from its name, a loader from tensors). It must not compute an exercise's answer:
this package is what a grading kernel can reach, and no reference solution may live here.
Whatever it returns is captured as plain values (`values.capture`) and judged elsewhere.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

Call = Callable[[Any, dict], Any]


def calls() -> tuple[dict[str, Call], Callable[[str], Callable[[Call], Call]]]:
    """A chapter module's registry and its decorator: `CALLS, harness = calls()`, then
    `@harness("forward")` above the function that calls a learner's `forward`."""
    registry: dict[str, Call] = {}

    def harness(exercise: str):
        def register(fn: Call) -> Call:
            registry[exercise] = fn
            return fn
        return register

    return registry, harness


def get(name: str) -> Call:
    """The harness of "<chapter>.<exercise>"."""
    chapter, _, exercise = name.partition(".")
    try:
        module = importlib.import_module(f"{__name__}.{chapter}")
        return module.CALLS[exercise]
    except (ModuleNotFoundError, KeyError):
        raise KeyError(f"no harness for {name!r}") from None

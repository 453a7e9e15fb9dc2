"""Declared exercise checks ("specs"), the grader's plan of what to observe, and the judge.

A spec says, as data: how to draw fresh seeded inputs (plain values only: tensors,
arrays, numbers, strings), which learner-side harness calls the learner's object on them
(`autograder.learner.harness`), what the independent oracle returns, which outputs are
compared with which tolerance (and why), the contract beyond the outputs (inputs left
unchanged unless `may_modify` names them), extra properties, and source rules.

Running a spec has three steps, always the same whether the learner's code runs in this
process (`check`, JupyterLab) or in a sandboxed kernel (the grading pipeline):
1. `plan` + `make_inputs`   (grader side) every (case, device) gets an id and inputs drawn
                             from the case's seed plus the grader's salt;
2. `observe`                (learner side) the harness calls the learner's object on a copy
                             of those inputs that went through `values.dumps/loads`;
3. `judge`                  (grader side) the observation, which also went through
                             `values.dumps/loads`, is compared with the oracle on the
                             grader's own inputs, under the numeric settings it was made with.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from ..learner import harness as harness_registry
from ..learner import values
from ..learner.devices import available_devices
from ..learner.observe import NOT_ANSWERED
from .compare import CheckFailure, Mistake, Tol, Where, compare
from .inputs import Rand
from .static import NoModule


@dataclass(frozen=True)
class Case:
    """One set of inputs: a label for messages, a seed, and size parameters."""

    label: str
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Property:
    """A claim about the learner's outputs beyond equality with the oracle, e.g. "the loss
    falls at every step". `check(inputs, outputs, case)` raises CheckFailure if broken.
    It must hold for the reference on every input the grader may draw (the sweep proves it)."""

    name: str
    check: Callable[[dict, dict, Case], None]
    why: str
    cases: tuple[str, ...] | None = None   # case labels it applies to (None: all)


@dataclass(frozen=True)
class Spec:
    name: str                                   # "<chapter>.<exercise>", e.g. "ch01.forward"
    inputs: Callable[..., dict]                 # inputs(rand, **case.params) -> {name: plain value}
    outputs: tuple[str, ...]                    # names of the values the harness returns, in order
    oracle: Callable[..., dict]                 # independent expected values by output name
    tol: Tol | Mapping[str, Tol]                # per output, or one for all
    cases: tuple[Case, ...]
    harness: str | None = None                  # learner-side call (default: the spec's name)
    numpy_only: bool = False                    # CPU only, no torch in the source, numpy results
    static: tuple = ()                          # extra source rules (see autograder.grader.static)
    properties: tuple[Property, ...] = ()
    mistakes: Callable[[dict], Mapping[str, Sequence[Mistake]]] | None = None
    # Other exercises the learner's object calls, replaced while it is graded by the
    # chapter's stand-ins (autograder.grader.isolation.<chapter>), so that one mistake is
    # never counted twice.
    isolate: tuple[str, ...] = ()
    # Inputs the exercise may change in place (e.g. the model an update step updates);
    # every other input must be left exactly as it was given (values, requires_grad, .grad).
    may_modify: tuple[str, ...] = ()
    # When the expected value depends on state the learner's object created (e.g. the
    # weights a learner's module initialised), the oracle is called as
    # oracle(inputs, outputs) and recomputes from those captured plain tensors.
    oracle_uses_outputs: bool = False
    # What an input that was changed in place means, for the message (default: generic).
    changed_hint: str = ""
    # (a piece of the learner's error message, the hint to show with it): e.g. a tensor
    # created without device= meeting the inputs' device.
    error_hints: tuple[tuple[str, str], ...] = ()
    # How many salts the sweep proves this spec on (tests/test_sweeps.py): hundreds where
    # a case is cheap, tens where it trains.
    sweep_salts: int = 100

    @property
    def chapter(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def exercise(self) -> str:
        return self.name.split(".", 1)[1]

    def tolerance(self, output: str) -> Tol:
        return self.tol if isinstance(self.tol, Tol) else self.tol[output]

    def devices(self) -> list[str]:
        return ["cpu"] if self.numpy_only else available_devices()

    def source_rules(self) -> tuple:
        extra = (NoModule("torch", "this exercise is numpy only"),) if self.numpy_only else ()
        return extra + tuple(self.static)

    def harness_call(self) -> Callable[[Any, dict], Any]:
        return harness_registry.get(self.harness or self.name)

    def isolation(self) -> dict[str, Any]:
        """The stand-ins for the exercises named in `isolate` (objects, for this process)."""
        if not self.isolate:
            return {}
        module = importlib.import_module(f"{__package__}.isolation.{self.chapter}")
        return {name: getattr(module, name) for name in self.isolate}

    def isolation_source(self) -> str:
        """The source of the chapter's stand-ins, for a grading kernel to run (it cannot
        import the grader side)."""
        if not self.isolate:
            return ""
        module = importlib.import_module(f"{__package__}.isolation.{self.chapter}")
        return module.__loader__.get_source(module.__name__)

    def named_outputs(self, result: Any) -> dict[str, Any]:
        if len(self.outputs) == 1:
            return {self.outputs[0]: result}
        if type(result) is tuple and len(result) == len(self.outputs):
            return dict(zip(self.outputs, result))
        bad = values.Unusable(f"{values.describe(result)}, but {len(self.outputs)} values "
                              f"({', '.join(self.outputs)}) must be returned")
        return {name: bad for name in self.outputs}


# ----------------------------------------------------------------------------- 1. plan
@dataclass(frozen=True)
class Planned:
    """One observation the grader expects: an id it chose, for one case on one device."""

    id: str
    spec: Spec
    case: Case
    device: str


def plan(spec: Spec) -> list[Planned]:
    return [Planned(f"{spec.exercise}.{device}.{k}", spec, case, device)
            for device in spec.devices() for k, case in enumerate(spec.cases)]


def make_inputs(planned: Planned, salt: int = 0) -> dict:
    """Fresh inputs for one planned observation: the case's seed shifted by the salt."""
    spec, case = planned.spec, planned.case
    return spec.inputs(Rand(case.seed + salt, planned.device), **case.params)


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    parts = []
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor) or type(v).__name__ == "ndarray":
            dtype = str(v.dtype).replace("torch.", "")
            parts.append(f"{k} {tuple(v.shape)} {dtype}")
        elif type(v) in (int, float):
            parts.append(f"{k}={v:g}")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- 3. judge
@contextlib.contextmanager
def numeric_settings(recorded: Mapping[str, Any]):
    """Run the oracle with the math thread count the observation was made with: the
    order of a parallel sum, and so its rounding, depends on it."""
    before = torch.get_num_threads()
    threads = recorded.get("threads") if isinstance(recorded, Mapping) else None
    wanted = threads if type(threads) is int and 1 <= threads <= (os.cpu_count() or 1) * 4 else before
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _error_message(spec: Spec, planned: Planned, context: str, error: str) -> str:
    if error == NOT_ANSWERED:
        return (f"{spec.exercise}: not answered yet\n"
                "Hint: replace `raise NotImplementedError()` with your code and run the cell")
    hint = next((h for piece, h in spec.error_hints if piece in error),
                "run your function on the visible example and read the traceback")
    return f"{spec.exercise} raised an error (device {planned.device}, {context})\n{error}\nHint: {hint}"


def judge(planned: Planned, inputs: dict, observation: Any) -> None:
    """Raise CheckFailure unless the observation shows a correct answer for `inputs`."""
    spec, case = planned.spec, planned.case
    context = f"case '{case.label}': {describe_inputs(inputs)}"
    if not isinstance(observation, dict) or not isinstance(observation.get("changed", {}), dict):
        raise CheckFailure(f"{spec.exercise}: the grader could not read what your code returned")
    error = observation.get("error")
    if error is not None:
        raise CheckFailure(_error_message(spec, planned, context, str(error)))
    for name, what in observation.get("changed", {}).items():
        hint = spec.changed_hint or (
            "the exercise says not to modify what you are given: work on a copy "
            "(array.copy(), tensor.clone()) or use operations that return new values "
            "(x = x - m, not x -= m)")
        raise CheckFailure(f"{spec.exercise} changed its input `{name}`: {what} "
                           f"(device {planned.device}, {context})\nHint: {hint}")
    outputs = spec.named_outputs(observation.get("result"))
    with numeric_settings(observation.get("numerics", {})):
        expected = spec.oracle(inputs, outputs) if spec.oracle_uses_outputs else spec.oracle(inputs)
        mistakes = spec.mistakes(inputs) if spec.mistakes else {}
    for name, exp in expected.items():
        what = f"{spec.exercise}: `{name}`" if len(spec.outputs) > 1 or name != spec.outputs[0] \
            else f"{spec.exercise}: the result"
        where = Where(what, planned.device, context, tuple(mistakes.get(name, ())))
        compare(outputs.get(name, values.Unusable("missing")), exp, spec.tolerance(name), where)
    for prop in spec.properties:
        if prop.cases is None or case.label in prop.cases:
            prop.check(inputs, outputs, case)

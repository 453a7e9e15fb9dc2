"""Declared exercise checks ("specs") and the two steps that run them.

A spec says, as data: how to build fresh seeded inputs, how the learner's object is
called, what the independent oracle returns, which outputs are compared with which
tolerance (and why), and any extra properties or source rules.

Running a spec is two separate steps:
1. `observe` runs the learner's object on the inputs and captures plain values
   (learner side: the only step that executes learner code);
2. `judge` rebuilds the inputs from the seed, asks the oracle, and compares
   (grader side: never trusts the learner's copy of the inputs).
`check` does both in one process; `Observation.dumps`/`loads` let step 2 run elsewhere.
"""

from __future__ import annotations

import warnings

import json
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import values
from .compare import CheckFailure, Mistake, Tol, Where, compare
from .devices import available_devices
from .inputs import Rand
from .static import NoModule, check_source


@dataclass(frozen=True)
class Case:
    """One set of inputs: a label for messages, a seed, and size parameters."""

    label: str
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Property:
    """A claim about the learner's outputs beyond equality with the oracle, e.g. "the loss
    falls at every step". `check(inputs, outputs, case)` raises CheckFailure if broken."""

    name: str
    check: Callable[[dict, dict, Case], None]
    why: str
    cases: tuple[str, ...] | None = None   # case labels it applies to (None: all)


@dataclass(frozen=True)
class Spec:
    name: str                                   # "<chapter>.<exercise>", e.g. "ch01.forward"
    inputs: Callable[..., dict]                 # inputs(rand, **case.params) -> {name: value}
    call: Callable[[Any, dict], Any]            # how the learner's object is called
    outputs: tuple[str, ...]                    # names of the returned values, in order
    oracle: Callable[..., dict]                 # independent expected values by output name
    tol: Tol | Mapping[str, Tol]                # per output, or one for all
    cases: tuple[Case, ...]
    numpy_only: bool = False                    # CPU only, no torch in the source, numpy results
    static: tuple = ()                          # extra source rules (see autograder.static)
    properties: tuple[Property, ...] = ()
    mistakes: Callable[[dict], Mapping[str, Sequence[Mistake]]] | None = None
    isolate: Callable[[], Mapping[str, Any]] | None = None   # globals swapped in for the call
    # When the expected value depends on state the learner's object created (e.g. the
    # weights a learner's module initialised), the oracle is called as
    # oracle(inputs, outputs) and recomputes from those captured plain tensors.
    oracle_uses_outputs: bool = False

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


@dataclass
class Observation:
    """What the learner's object did on one case: captured outputs, or the error it raised."""

    spec: str
    case: str
    device: str
    outputs: dict[str, Any]
    error: str | None = None
    salt: int = 0          # added to the case's seed: the grader's choice of fresh inputs

    def dumps(self) -> bytes:
        meta = {"spec": self.spec, "case": self.case, "device": self.device, "error": self.error,
                "salt": self.salt}
        return json.dumps(meta).encode() + b"\n" + values.dumps(self.outputs)

    @classmethod
    def loads(cls, blob: bytes) -> "Observation":
        head, _, body = blob.partition(b"\n")
        meta = json.loads(head)
        return cls(str(meta["spec"]), str(meta["case"]), str(meta["device"]), values.loads(body),
                   None if meta["error"] is None else str(meta["error"]), int(meta.get("salt", 0)))


def _with_globals(fn: Any, overrides: Mapping[str, Any]) -> Any:
    """A copy of a plain function that sees `overrides` in place of those global names,
    so one exercise is graded with the reference versions of the others it calls."""
    if not overrides or not isinstance(fn, types.FunctionType):
        return fn
    copy = types.FunctionType(fn.__code__, {**fn.__globals__, **overrides}, fn.__name__,
                              fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _case_inputs(spec: Spec, case: Case, device: str, salt: int = 0) -> dict:
    return spec.inputs(Rand(case.seed + salt, device), **case.params)


def _describe_inputs(inputs: Mapping[str, Any]) -> str:
    parts = []
    for k, v in inputs.items():
        if type(v) is np.ndarray or isinstance(v, torch.Tensor):
            dtype = str(v.dtype).replace("torch.", "")
            parts.append(f"{k} {tuple(v.shape)} {dtype}")
        elif isinstance(v, (int, float)):
            parts.append(f"{k}={v:g}")
    return ", ".join(parts)


def observe(spec: Spec, learner: Any, case: Case, device: str, salt: int = 0) -> Observation:
    """Step 1 (learner side): call the learner's object and capture what it returns.
    `salt` shifts the case's seed, so a grader can choose inputs nobody saw before."""
    inputs = _case_inputs(spec, case, device, salt)
    overrides = spec.isolate() if spec.isolate else {}
    try:
        result = spec.call(_with_globals(learner, overrides), inputs)
    except NotImplementedError:
        return Observation(spec.name, case.label, device, {}, "NotImplementedError: not answered yet", salt)
    except BaseException as err:  # noqa: BLE001 - any failure of learner code is a verdict
        if isinstance(err, KeyboardInterrupt):
            raise
        return Observation(spec.name, case.label, device, {}, f"{type(err).__name__}: {err}", salt)
    captured = values.capture(result)
    if len(spec.outputs) == 1:
        outputs = {spec.outputs[0]: captured}
    elif type(captured) is tuple and len(captured) == len(spec.outputs):
        outputs = dict(zip(spec.outputs, captured))
    else:
        bad = values.Unusable(f"{values.describe(captured)}, but {len(spec.outputs)} values "
                              f"({', '.join(spec.outputs)}) must be returned")
        outputs = {name: bad for name in spec.outputs}
    return Observation(spec.name, case.label, device, outputs, None, salt)


def judge(spec: Spec, obs: Observation) -> None:
    """Step 2 (grader side): compare an observation with the oracle on fresh inputs."""
    case = next((c for c in spec.cases if c.label == obs.case), None)
    if case is None or obs.spec != spec.name:
        raise CheckFailure(f"{spec.name}: observation of an unknown case {obs.case!r}")
    inputs = _case_inputs(spec, case, obs.device, obs.salt)
    context = f"case '{case.label}': {_describe_inputs(inputs)}"
    if obs.error is not None:
        hint = ("replace `raise NotImplementedError()` with your code and run the cell"
                if obs.error.startswith("NotImplementedError") else
                "run your function on the visible example and read the traceback")
        raise CheckFailure(f"{spec.exercise} raised an error (device {obs.device}, {context})\n"
                           f"{obs.error}\nHint: {hint}")
    expected = spec.oracle(inputs, obs.outputs) if spec.oracle_uses_outputs else spec.oracle(inputs)
    mistakes = spec.mistakes(inputs) if spec.mistakes else {}
    for name, exp in expected.items():
        what = f"{spec.exercise}: `{name}`" if len(spec.outputs) > 1 or name != spec.outputs[0] \
            else f"{spec.exercise}: the result"
        where = Where(what, obs.device, context, tuple(mistakes.get(name, ())))
        compare(obs.outputs.get(name, values.Unusable("missing")), exp, spec.tolerance(name), where)
    for prop in spec.properties:
        if prop.cases is None or case.label in prop.cases:
            prop.check(inputs, obs.outputs, case)


def observe_all(spec: Spec, learner: Any, salt: int = 0) -> list[Observation]:
    return [observe(spec, learner, case, device, salt)
            for device in spec.devices() for case in spec.cases]


def check(spec: Spec | str, learner: Any, *, quiet: bool = False) -> None:
    """Run every case of a spec on every device; raise CheckFailure on the first failure.

    This is what a hidden test cell calls: `check("ch01.forward", forward)`.
    """
    if isinstance(spec, str):
        from .specs import get_spec
        spec = get_spec(spec)
    check_source(learner, spec.source_rules(), spec.exercise)
    # Warnings the learner's code raises while being checked are noise here, and nbgrader
    # scores a test cell that wrote to stderr as failed: keep them out of the output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observations = observe_all(spec, learner)
    failures: list[CheckFailure] = []
    for obs in observations:
        try:
            judge(spec, obs)
        except CheckFailure as err:
            failures.append(err)
    if failures:
        more = f"\n({len(failures) - 1} more failing case(s) not shown)" if len(failures) > 1 else ""
        raise CheckFailure(f"{failures[0]}{more}") from None
    if not quiet:
        devices = ", ".join(dict.fromkeys(o.device for o in observations))
        print(f"\u2713 {spec.exercise}: {len(spec.cases)} case(s) passed on {devices}")


def check_chapter(chapter: str, namespace: Mapping[str, Any]) -> dict[str, str]:
    """Check every exercise of a chapter against the learner's definitions (found by
    exercise name in `namespace`, e.g. `globals()`) and print one verdict per exercise.

    The one-line self-check of a notebook: `check_chapter("ch01", globals())`.
    Returns {exercise: "" if it passes, else the failure message}.
    """
    import importlib

    specs = importlib.import_module(f"{__package__}.specs.{chapter}").SPECS
    verdicts: dict[str, str] = {}
    for name, spec in specs.items():
        if name not in namespace:
            verdicts[name] = f"{name} is not defined: run its cell first"
        else:
            try:
                check(spec, namespace[name], quiet=True)
                verdicts[name] = ""
            except CheckFailure as err:
                verdicts[name] = str(err)
        mark = "\u2713" if not verdicts[name] else "\u2717"
        print(f"{mark} {name}" + (f"\n    " + verdicts[name].replace("\n", "\n    ") if verdicts[name] else ""))
    passed = sum(not v for v in verdicts.values())
    print(f"{passed} of {len(verdicts)} exercises pass")
    return verdicts

"""Prove a spec on the inputs the grader may draw: the reference must pass, and known
wrong answers must fail, for many salts and for each math thread count the grader may use.
`make test` runs these sweeps (tests/test_sweeps.py); `bench/tolerances.py` prints, per
spec and output, how much of its tolerance the reference used at worst, so every
tolerance rests on a measured error distribution.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..learner import values
from ..learner.errors import CheckFailure
from ..learner.observe import observe
from .check import failures, get_spec
from .compare import error_ratio
from .spec import Spec, make_inputs, numeric_settings, plan


def thread_counts() -> list[int]:
    """1 (what a grading kernel uses) and every core of this machine."""
    return sorted({1, max(1, os.cpu_count() or 1)})


@dataclass
class SweepReport:
    spec: str
    runs: int = 0
    failed: list[tuple[int, int, str]] = field(default_factory=list)    # (salt, threads, message)
    worst: dict[str, float] = field(default_factory=dict)               # output -> error ratio

    @property
    def passed(self) -> int:
        return self.runs - len({(s, t) for s, t, _ in self.failed})


def sweep(spec: Spec | str, learner: Any, salts: Iterable[int],
          threads: Iterable[int] = (1,), *, measure: bool = False) -> SweepReport:
    """Check `learner` on every salt under every thread count; with `measure`, also record
    the worst error ratio of each output (for tolerances)."""
    spec = get_spec(spec)
    report = SweepReport(spec.name)
    before = torch.get_num_threads()
    try:
        for t in threads:
            torch.set_num_threads(t)
            for salt in salts:
                report.runs += 1
                for err in failures(spec, learner, salt=salt):
                    report.failed.append((salt, t, str(err)))
                if measure:
                    for name, ratio in _ratios(spec, learner, salt).items():
                        report.worst[name] = max(report.worst.get(name, 0.0), ratio)
    finally:
        torch.set_num_threads(before)
    return report


def _ratios(spec: Spec, learner: Any, salt: int) -> dict[str, float]:
    out: dict[str, float] = {}
    call, stand_ins = spec.harness_call(), spec.isolation()
    for planned in plan(spec):
        inputs = make_inputs(planned, salt)
        obs = observe(call, learner, values.loads(values.dumps(inputs)),
                      may_modify=spec.may_modify, isolate=stand_ins)
        obs = values.loads(values.dumps(obs))
        if obs.get("error"):
            continue
        outputs = spec.named_outputs(obs.get("result"))
        with numeric_settings(obs.get("numerics", {})):
            try:
                expected = spec.oracle(inputs, outputs) if spec.oracle_uses_outputs else spec.oracle(inputs)
            except (CheckFailure, Exception):  # noqa: BLE001 - measured only where it runs
                continue
        for name, exp in expected.items():
            ratio = error_ratio(outputs.get(name), exp, spec.tolerance(name))
            out[name] = max(out.get(name, 0.0), ratio)
    return out

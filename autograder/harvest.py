"""The learner-side half of out-of-process grading, run as the last cell of a submission
in its sandboxed kernel: call each exercise's object on the grader's salted inputs and
write plain observations (never pickle) for the grader to judge in its own process."""

from __future__ import annotations

import importlib
from pathlib import Path

from .spec import observe_all

CANARY = "__grader_canary__"


def _canary(*args, **kwargs):
    """A wrong answer the grader slips in: if it ever passes, the harvest was tampered with."""
    return None


def harvest(chapter: str, salt: int, out_dir: str, namespace: dict) -> int:
    specs = importlib.import_module(f"autograder.specs.{chapter}").SPECS
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    targets = [(name, namespace.get(name)) for name in specs] + [(CANARY, _canary)]
    for name, obj in targets:
        spec = specs[name] if name in specs else next(iter(specs.values()))
        if obj is None:
            continue
        for i, obs in enumerate(observe_all(spec, obj, salt)):
            (out / f"{name}.{i:03d}.obs").write_bytes(obs.dumps())
            count += 1
    return count

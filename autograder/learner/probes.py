"""Measurements a harness can take of a learner's code while calling it, for rules that no
output value shows: how many tensor operations it issues (a Python loop, `map` or a
comprehension issues more as the input grows; vectorised code does not), which
operations it uses (e.g. `F.conv2d` where the exercise says "write it yourself"), and
where it creates tensors (a tensor made without `device=` lands on the default device,
which a probe can move away from the input's, so the mistake shows without a GPU).

They run inside the learner's process, so a learner who set out to defeat them could;
the grader also reads the answer cell's text (grader.static), and what a probe reports is
one more observation, judged outside. They only measure: every verdict is the grader's.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


def torch_ops(fn: Callable[..., Any], *args, **kwargs) -> tuple[Any, Counter]:
    """Call fn and count the ATen operations it issues, by name (e.g. {"mm": 1, "sum": 2})."""
    counter = _OpCounter()
    with counter:
        result = fn(*args, **kwargs)
    return result, counter.ops


def python_events(fn: Callable[..., Any], *args, **kwargs) -> tuple[Any, int]:
    """Call fn and count the Python-level calls and lines it runs (numpy code has no ATen
    operations to count): a loop over the rows of an array runs more lines as it grows."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event in ("call", "line", "c_call"):
            count += 1
        return tracer

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(tracer)
    sys.setprofile(lambda frame, event, arg: tracer(frame, event, arg) if event == "c_call" else None)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(old_trace)
        sys.setprofile(old_profile)
    return result, count


@contextlib.contextmanager
def default_device(device: str):
    """While the block runs, tensors created without `device=` land on `device` (e.g.
    "meta" while the inputs are on the CPU): code that forgets the input's device then
    mixes devices, or returns a tensor on the wrong one, on a machine without a GPU."""
    before = torch.get_default_device()
    # Whether a default device was set at all: restoring "cpu" would otherwise leave a
    # device mode installed for good, which slows every later torch call about twofold.
    was_set = getattr(getattr(torch, "_GLOBAL_DEVICE_CONTEXT", None), "device_context", None) is not None
    torch.set_default_device(device)
    try:
        yield
    finally:
        torch.set_default_device(before if was_set else None)


def counting(optimizer_class: type) -> type:
    """`optimizer_class` that also counts its `step()` calls in `.steps`: shows that the
    optimizer an exercise is given is the one it uses, once per training batch."""

    class Counting(optimizer_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps = 0

        def step(self, closure=None):
            self.steps += 1
            return super().step(closure)

    Counting.__name__ = Counting.__qualname__ = f"Counting{optimizer_class.__name__}"
    return Counting


CountingSGD = counting(torch.optim.SGD)
CountingAdam = counting(torch.optim.Adam)

"""Call a learner's object through its exercise's harness and capture what happened, as
plain values: the result, the error it raised, which inputs it changed in place, and the
numeric settings it ran under. The same function runs in JupyterLab (`check`) and in a
grading kernel (`kernel.harvest`); the verdict is always computed from its output alone.
"""

from __future__ import annotations

import contextlib
import types
import warnings
from typing import Any, Callable, Mapping

import numpy as np
import torch

from .values import MAX_TEXT, capture

NOT_ANSWERED = "NotImplementedError: not answered yet"


@contextlib.contextmanager
def stand_ins(obj: Any, overrides: Mapping[str, Any]):
    """While the block runs, the global names in `overrides` mean the given stand-ins in the
    namespace `obj` was defined in (a notebook's globals), so one exercise is graded with
    stand-ins for the others it calls, also through the learner's own helper functions.
    The namespace is restored afterwards."""
    namespace = _namespace_of(obj)
    if not overrides or namespace is None:
        yield
        return
    missing = object()
    saved = {name: namespace.get(name, missing) for name in overrides}
    namespace.update(overrides)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def _namespace_of(obj: Any) -> dict | None:
    if isinstance(obj, types.FunctionType):
        return obj.__globals__
    if isinstance(obj, type):
        for value in vars(obj).values():
            fn = getattr(value, "__func__", value)
            if isinstance(fn, types.FunctionType):
                return fn.__globals__
    return None


# ----------------------------------------------------------------------------- inputs kept
def _snapshot(value: Any) -> Any:
    """A copy of the plain inputs (tensors, arrays, nested containers) to compare with later."""
    if type(value) is torch.Tensor:
        grad = value.grad.detach().clone() if value.grad is not None else None
        return ("tensor", value.detach().clone(), value.requires_grad, grad)
    if type(value) is np.ndarray:
        return ("ndarray", value.copy())
    if type(value) in (tuple, list):
        return ("seq", [_snapshot(v) for v in value])
    if type(value) is dict:
        return ("dict", {k: _snapshot(v) for k, v in value.items()})
    return ("other", None)


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.device.type == "meta" or b.device.type == "meta":
        return a.shape == b.shape and a.dtype == b.dtype
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)


def _change(snap: Any, value: Any) -> str:
    """'' if `value` still equals its snapshot, else what changed."""
    kind = snap[0]
    if kind == "tensor":
        _, before, requires_grad, grad = snap
        if type(value) is not torch.Tensor:
            return "was replaced"
        if not _same_tensor(before, value.detach()):
            return "its values were changed in place"
        if value.requires_grad != requires_grad:
            return f"its requires_grad was switched {'on' if value.requires_grad else 'off'}"
        now = value.grad
        if (grad is None) != (now is None) or (grad is not None and not _same_tensor(grad, now)):
            return "its .grad was changed"
        return ""
    if kind == "ndarray":
        if type(value) is not np.ndarray:
            return "was replaced"
        before = snap[1]
        same = before.shape == value.shape and before.dtype == value.dtype and \
            np.array_equal(before, value, equal_nan=True)
        return "" if same else "its values were changed in place"
    if kind == "seq":
        if type(value) not in (tuple, list) or len(value) != len(snap[1]):
            return "was changed"
        return next((f"item {i} {c}" for i, (s, v) in enumerate(zip(snap[1], value))
                     if (c := _change(s, v))), "")
    if kind == "dict":
        if type(value) is not dict or set(value) != set(snap[1]):
            return "was changed"
        return next((f"entry {k!r} {c}" for k, s in snap[1].items() if (c := _change(s, value[k]))), "")
    return ""


# ----------------------------------------------------------------------------- one call
def numerics() -> dict:
    """The numeric settings a result depends on: the judge recomputes under the same ones."""
    return {"threads": torch.get_num_threads(),
            "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
            "matmul_precision": torch.get_float32_matmul_precision(),
            "default_dtype": str(torch.get_default_dtype()).replace("torch.", "")}


def error_text(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= 1000 else text[:1000] + " [...]"


def observe(call: Callable[[Any, dict], Any], obj: Any, inputs: dict, *,
            may_modify: tuple[str, ...] = (), isolate: Mapping[str, Any] | None = None) -> dict:
    """Run `call(obj, inputs)` and return the observation: {"result", "error",
    "changed" (input name -> what changed), "numerics"}. Never raises for learner code."""
    kept = {k: _snapshot(v) for k, v in inputs.items() if k not in may_modify}
    result, error = None, None
    try:
        with warnings.catch_warnings(), stand_ins(obj, isolate or {}):
            warnings.simplefilter("ignore")   # learner-code warnings are noise to a verdict
            result = call(obj, inputs)
    except NotImplementedError as err:
        # The release's stub raises it bare; PyTorch raises it with a message (e.g. an op
        # the meta device lacks), which is an error of the answer, not a missing answer.
        error = NOT_ANSWERED if not str(err) else error_text(err)
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - any failure of learner code is a verdict
        error = error_text(err)
    changed = {}
    for name, snap in kept.items():
        try:
            what = _change(snap, inputs[name])
        except Exception as err:  # noqa: BLE001
            what = f"could not be compared ({type(err).__name__})"
        if what:
            changed[name] = what[:MAX_TEXT]
    return {"result": capture(result) if error is None else None, "error": error,
            "changed": changed, "numerics": numerics()}

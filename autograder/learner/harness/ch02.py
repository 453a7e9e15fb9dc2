"""Chapter 02: tensors on a device. How each exercise is called, and what is measured.

Nothing here computes an answer. Besides the return value, the harnesses measure:
- how many ATen operations the learner's function issues on a small and on a larger input
  (`probes.torch_ops`): vectorised code issues the same number whatever the size, a Python
  loop, `map` or recursion issues more as the input grows;
- whether the learner's code called a function the exercise says to write yourself
  (`python_calls`, by code object, so an alias or a helper is seen too);
- whether autograd recorded anything (tensors saved for a backward pass) in an exercise
  whose gradients are written by hand;
- for an in-place exercise, whether the returned object is the input itself.
Inputs on PyTorch's `meta` device (shape and dtype, no data) show a function that leaves
the input's device without a GPU: its result cannot stay there.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterable

import torch

from ..probes import torch_ops
from . import calls

CALLS, harness = calls()


# ----------------------------------------------------------------------------- probes
def python_calls(fn: Callable[..., Any], targets: Iterable[Callable], *args, **kwargs) -> tuple[Any, int]:
    """Call fn and count the calls it makes (directly, through an alias or through a
    helper) into the given Python functions, recognised by their code objects."""
    codes = {getattr(t, "__code__", None) for t in targets} - {None}
    count = 0

    def profiler(frame, event, arg):
        nonlocal count
        if event == "call" and frame.f_code in codes:
            count += 1

    old = sys.getprofile()
    sys.setprofile(profiler)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(old)
    return result, count


@contextlib.contextmanager
def saved_for_backward():
    """Counts the tensors autograd saves for a backward pass while the block runs (zero
    for code that records no graph). Yields a one-item list holding the count."""
    count = [0]

    def pack(t):
        count[0] += 1
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield count


def op_count(fn: Callable[..., Any], *args) -> float:
    _, ops = torch_ops(fn, *args)
    return float(sum(ops.values()))


def _sizes(fn, i, names: tuple[str, str]):
    """(ops on the case's input, ops on its larger twin `i["large"]`) for the op-count
    case (CPU inputs), else (None, None)."""
    if "large" not in i:
        return None, None
    return op_count(fn, *(i[n] for n in names)), op_count(fn, *(i["large"][n] for n in names))


def run(fn, *args, **kwargs):
    """Call the learner's function. PyTorch raises NotImplementedError for a copy out of a
    meta tensor (.cpu(), .tolist()); it is passed on as a RuntimeError, so that it is not
    taken for an unanswered exercise (whose stub raises a bare NotImplementedError)."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        if "meta" in str(err):
            raise RuntimeError(f"{type(err).__name__}: {err}") from None
        raise


# ----------------------------------------------------------------------------- exercises
@harness("make_grid_tensor")
def _make_grid_tensor(fn, i):
    if i["dtype"] is None:                     # the default dtype of the signature
        return run(fn, i["h"], i["w"], device=i["device"])
    return run(fn, i["h"], i["w"], device=i["device"], dtype=i["dtype"])


@harness("one_hot")
def _one_hot(fn, i):
    return run(fn, i["labels"], i["num_classes"])


@harness("to_channels_first")
def _to_channels_first(fn, i):
    out = run(fn, i["images"])
    contiguous = float(out.is_contiguous()) if type(out) is torch.Tensor else None
    return out, contiguous


@harness("normalize_rows")
def _normalize_rows(fn, i):
    import torch.nn.functional as F
    out, calls_made = python_calls(run, (F.normalize,), fn, i["x"])
    return out, float(calls_made)


@harness("pairwise_sq_distances")
def _pairwise_sq_distances(fn, i):
    out = run(fn, i["a"], i["b"])
    return (out,) + _sizes(fn, i, ("a", "b"))


@harness("batched_outer")
def _batched_outer(fn, i):
    out = run(fn, i["u"], i["v"])
    return (out,) + _sizes(fn, i, ("u", "v"))


@harness("center_columns_")
def _center_columns_(fn, i):
    x = i["x"]
    out = run(fn, x)
    return x, 1.0 if out is x else 0.0


@harness("two_layer_step")
def _two_layer_step(fn, i):
    with saved_for_backward() as saved:
        result = run(fn, i["x"], i["y"], i["w1"], i["w2"], i["lr"])
    if type(result) not in (tuple, list) or len(result) != 3:
        return result
    return tuple(result) + (float(saved[0]),)

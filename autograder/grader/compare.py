"""Compare one captured learner value with the oracle's, failing closed.

Order of checks: present, exact type, shape, dtype, device, then values with
`torch.testing.assert_close` (allow_subclasses=False). Each failure raises `CheckFailure`
whose message says what was compared, where, how far off, and a hint at the usual cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from ..learner.errors import CheckFailure
from ..learner.values import Unusable, describe


@dataclass(frozen=True)
class Tol:
    """An explicit tolerance and the reason it is what it is."""

    rtol: float
    atol: float
    why: str


# Tolerances the course uses again and again.
FLOAT64 = Tol(1e-7, 1e-9, "float64 on both sides; only the order of summation differs")
FLOAT32 = Tol(1e-4, 1e-5, "float32 sums of up to ~1000 terms; CUDA may reorder them")
EXACT = Tol(0.0, 0.0, "integer or bit-exact result")


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: if the learner's value equals `value`, say `hint`."""

    value: Any
    hint: str


@dataclass
class Where:
    """What is being compared, for the message."""

    what: str                      # e.g. "forward: output `y_pred`"
    device: str = "cpu"
    context: str = ""              # e.g. "case 'classic', inputs x (64, 1000) float64"
    mistakes: Sequence[Mistake] = field(default_factory=tuple)

    def header(self) -> str:
        place = f"device {self.device}" + (f", {self.context}" if self.context else "")
        return f"{self.what} is wrong ({place})"


def _fail(where: Where, expected: Any, actual: Any, detail: str = "", hint: str = "") -> None:
    lines = [where.header(),
             f"expected: {describe(expected)}",
             f"got:      {describe(actual)}"]
    if detail:
        lines.append(detail)
    if hint:
        lines.append(f"Hint: {hint}")
    raise CheckFailure("\n".join(lines))


def _as_tensor(value: Any) -> torch.Tensor:
    if type(value) is np.ndarray:
        return torch.from_numpy(value)
    if type(value) is float:
        return torch.tensor(value, dtype=torch.float64)
    if type(value) is tuple:
        return torch.tensor([float(v) for v in value], dtype=torch.float64)
    return value


def compare(actual: Any, expected: Any, tol: Tol, where: Where) -> None:
    """Raise CheckFailure unless `actual` is exactly what `expected` is, within `tol`."""
    if isinstance(actual, Unusable):
        _fail(where, expected, actual, hint="return a plain torch.Tensor / numpy array, "
              "not another kind of object")
    if expected is None:
        if actual is not None:
            _fail(where, expected, actual, hint="this result must be None")
        return
    if actual is None:
        _fail(where, expected, actual, hint="got None: a missing `return`, or a gradient "
              "that was never computed (e.g. a bias left out of the backward pass)?")
    _check_kind(actual, expected, where)
    if type(expected) is tuple:
        if len(actual) != len(expected):
            _fail(where, expected, actual, hint=f"expected {len(expected)} values, got "
                  f"{len(actual)}: a loop that runs one step too few or too many?")
        if any(type(v) is not float for v in actual):
            _fail(where, expected, actual, hint="every item must be a plain number "
                  "(use float(loss) or loss.item())")
    _check_shape_dtype_device(actual, expected, where)
    _check_values(actual, expected, tol, where)


def _check_kind(actual: Any, expected: Any, where: Where) -> None:
    if type(actual) is type(expected):
        return
    hint = ""
    if type(expected) is np.ndarray and type(actual) is torch.Tensor:
        hint = "this exercise is numpy only: compute with numpy and return numpy arrays, not torch tensors"
    elif type(expected) is torch.Tensor and type(actual) is np.ndarray:
        hint = "compute with torch operations so the result stays a tensor on the input's device"
    elif type(expected) is float:
        hint = "return a plain number (float(...) or tensor.item())"
    elif type(expected) is torch.Tensor and type(actual) is float:
        hint = ("return a tensor (a 0-d tensor for a single number), not a Python number: "
                ".item() and float() copy the value off the tensor's device")
    elif type(expected) is tuple:
        hint = "return a list of numbers"
    _fail(where, expected, actual, hint=hint)


def _check_shape_dtype_device(actual: Any, expected: Any, where: Where) -> None:
    if type(expected) not in (torch.Tensor, np.ndarray):
        return
    a_shape, e_shape = tuple(actual.shape), tuple(expected.shape)
    if a_shape != e_shape:
        hint = ""
        if len(a_shape) == 2 and a_shape == e_shape[::-1]:
            hint = "the shape is the transpose of the expected one: check the order of the matrix product (or transpose)"
        elif int(np.prod(a_shape)) == int(np.prod(e_shape)):
            hint = "same number of elements in another shape: a missing reshape, keepdim=True or squeeze?"
        elif len(a_shape) < len(e_shape):
            hint = "fewer dimensions than expected: did a reduction (sum/mean) run over the wrong dim?"
        _fail(where, expected, actual, hint=hint)
    if actual.dtype != expected.dtype:
        _fail(where, expected, actual, hint=f"keep the input's dtype ({expected.dtype}): "
              "no casts, and create new tensors/arrays with dtype=<input>.dtype")
    if type(expected) is torch.Tensor and actual.device != expected.device:
        _fail(where, expected, actual, hint=f"the result must live on the input's device "
              f"({expected.device}): create tensors with device=x.device, or use *_like")


def _check_values(actual: Any, expected: Any, tol: Tol, where: Where) -> None:
    a, e = _as_tensor(actual), _as_tensor(expected)
    try:
        torch.testing.assert_close(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=False,
                                   allow_subclasses=False, check_device=True, check_dtype=True)
        return
    except AssertionError as err:
        stats = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
    detail = "\n".join(stats + [f"(allowed: rtol={tol.rtol:g}, atol={tol.atol:g}: {tol.why})"])
    _fail(where, expected, actual, detail=detail, hint=diagnose(a, e, tol, where.mistakes))


def _close(a: torch.Tensor, b: torch.Tensor, tol: Tol) -> bool:
    if a.shape != b.shape:
        return False
    b = b.to(a.dtype)
    return bool(torch.allclose(a, b, rtol=max(tol.rtol, 1e-6), atol=max(tol.atol, 1e-8)))


def diagnose(actual: torch.Tensor, expected: torch.Tensor, tol: Tol,
             mistakes: Sequence[Mistake] = ()) -> str:
    """A hint naming the likely mistake when a wrong value has a recognisable shape."""
    a, e = actual.detach().cpu().double(), expected.detach().cpu().double()
    for m in mistakes:
        if m.value is not None and _close(a, _as_tensor(m.value).detach().cpu().double(), tol):
            return m.hint
    if not bool(torch.isfinite(a).all()) and bool(torch.isfinite(e).all()):
        n = int((~torch.isfinite(a)).sum())
        return (f"{n} value(s) are nan or inf where the expected ones are finite: an overflow "
                "(exp of a large number?) or a division by zero")
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1 and _close(a, e.T, tol):
        return "this is the transpose of the expected value: check the order of the matrix product"
    if _close(a, -e, tol):
        return "the sign is flipped: gradient ascent instead of descent, or a - where a + belongs?"
    denom = float((e * e).sum())
    counts = bool((a == a.round()).all() and (e == e.round()).all())
    if denom > 0 and not counts:   # for whole numbers (counts) a ratio says nothing of sums and means
        ratio = float((a * e).sum()) / denom
        for r, name in ((ratio, "larger"), (1 / ratio if ratio else 0.0, "smaller")):
            k = round(r)
            if k >= 2 and abs(r - k) < 1e-6 * k and _close(a, e * ratio, tol):
                return (f"the result is {k} times {name} than expected: a sum where a mean "
                        "belongs (or the other way round), or a factor counted twice?")
    return ""


def error_ratio(actual: Any, expected: Any, tol: Tol) -> float:
    """How much of its tolerance a correct value uses: max |a - e| / (atol + rtol |e|) over
    the elements (0 when equal, > 1 when it would fail, inf when kinds or shapes differ).
    The sweeps report it, so every tolerance rests on a measured error distribution."""
    if expected is None or actual is None:
        return 0.0 if actual is expected else float("inf")
    if type(expected) is tuple:
        if type(actual) is not tuple or len(actual) != len(expected):
            return float("inf")
        return max((error_ratio(a, e, tol) for a, e in zip(actual, expected)), default=0.0)
    if type(actual) is not type(expected):
        return float("inf")
    a, e = _as_tensor(actual), _as_tensor(expected)
    if not isinstance(a, torch.Tensor) or a.shape != e.shape or a.dtype != e.dtype:
        return float("inf")
    if a.device.type == "meta" or e.device.type == "meta" or a.numel() == 0:
        return 0.0
    a, e = a.detach().cpu().double(), e.detach().cpu().double()
    if a.dtype == torch.bool:
        return 0.0 if torch.equal(a, e) else float("inf")
    diff = (a - e).abs()
    allowed = tol.atol + tol.rtol * e.abs()
    both_nan = torch.isnan(a) & torch.isnan(e)
    ratio = torch.where(both_nan, torch.zeros_like(diff),
                        torch.where(diff == 0, torch.zeros_like(diff), diff / allowed))
    return float(ratio.max()) if ratio.numel() else 0.0

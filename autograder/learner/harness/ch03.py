"""Chapter 03: autograd. How each exercise is called, and what is observed.

The functions the learner differentiates are built here from plain data (a kind name and
its matrices), the same way on both sides: the oracle builds them with `scalar_function`
and `vector_function` too. They are test functions, not answers.

Besides the return values, the harnesses observe: calls into torch.func /
torch.autograd.functional (which `jacobian_rows` must not use), whether returned
parameters are the caller's own tensors and still trainable leaves, and the caller's
parameters after a training loop that updates them in place. The caller's other tensors
(values, requires_grad, .grad) are checked generically after every call.
"""

from __future__ import annotations

import torch

from . import calls
from .ch02 import python_calls, run

CALLS, harness = calls()


# ----------------------------------------------------------------------------- builders
def scalar_function(kind: str, A: torch.Tensor | None = None):
    """f: tensor -> 0-dim tensor, by name (grad_of's test functions)."""
    if kind == "cubic":                       # sum(x^3 - 3x)
        return lambda v: (v ** 3 - 3 * v).sum()
    if kind == "tanh layer":                  # sum(tanh(A x)), x a (non-square) matrix
        return lambda v: torch.tanh(A @ v).sum()
    if kind == "logsumexp+norm":
        return lambda v: torch.logsumexp(v, 0) + v.pow(2).sum().sqrt()
    if kind == "x sin x":
        return lambda v: (v * v.sin()).sum()
    if kind == "scalar":                      # x^2 e^x for a 0-dim x
        return lambda v: v ** 2 * v.exp()
    raise ValueError(f"unknown function {kind!r}")


def vector_function(kind: str, A: torch.Tensor | None = None, c: torch.Tensor | None = None):
    """f: (n,) -> (m,), by name (jacobian_rows's test functions)."""
    if kind == "tanh layer":                  # tanh(A x + c)
        return lambda v: torch.tanh(A @ v + c)
    if kind == "squares":                     # (A x)^2
        return lambda v: (A @ v) ** 2
    if kind == "linear":                      # A x
        return lambda v: A @ v
    if kind == "sum of exp":                  # one output
        return lambda v: v.exp().sum().reshape(1)
    if kind == "powers":                      # one input: (x, x^2, sin x)
        return lambda v: torch.cat([v, v ** 2, v.sin()])
    raise ValueError(f"unknown function {kind!r}")


def _function_args(i: dict) -> dict:
    return {k: i[k] for k in ("A", "c") if k in i}


def _three(out, names: str):
    """The learner's (a, b, losses), or a TypeError saying what must be returned."""
    if type(out) not in (tuple, list) or len(out) != 3:
        from ..values import describe
        raise TypeError(f"return {names}: 3 values; got {describe(out)}")
    a, b, losses = out
    if type(losses) is torch.Tensor and losses.ndim == 1:
        losses = [float(v) for v in losses.detach()]   # a tensor of losses is as good as a list
    return a, b, losses


def _trainable(w) -> float:
    """1.0 if w is a plain tensor that is a leaf and requires grad (can be trained further)."""
    return 1.0 if type(w) in (torch.Tensor, torch.nn.Parameter) and w.is_leaf and w.requires_grad else 0.0


def _forbidden_jacobian_helpers():
    """The library functions that build a Jacobian (or its rows in a batch) for you."""
    import torch.autograd.functional as AF
    import torch.func as TF
    found = [getattr(TF, n, None) for n in ("jacrev", "jacfwd", "vmap", "hessian", "vjp", "jvp",
                                             "grad", "grad_and_value", "linearize")]
    found += [getattr(AF, n, None) for n in ("jacobian", "hessian", "vjp", "jvp", "hvp", "vhp")]
    return [f for f in found if f is not None]


# ----------------------------------------------------------------------------- exercises
@harness("grad_of")
def _grad_of(fn, i):
    f = scalar_function(i["kind"], **_function_args(i))
    if i["caller"] == "no_grad":
        with torch.no_grad():
            return run(fn, f, i["x"])
    return run(fn, f, i["x"])


@harness("jacobian_rows")
def _jacobian_rows(fn, i):
    f = vector_function(i["kind"], **_function_args(i))
    J, used = python_calls(run, _forbidden_jacobian_helpers(), fn, f, i["x"])
    return J, float(used)


@harness("fixed_update_loop")
def _fixed_update_loop(fn, i):
    w, b = i["w"], i["b"]
    w_out, b_out, losses = _three(fn(i["x"], i["y"], w, b, i["lr"], i["steps"]), "(w, b, losses)")
    same = (1.0 if w_out is w else 0.0, 1.0 if b_out is b else 0.0)
    # the caller's own w and b after the call: the loop trains them in place
    return same, losses, w, b, (_trainable(w), _trainable(b))


@harness("autograd_two_layer_train")
def _autograd_two_layer_train(fn, i):
    w1, w2, losses = _three(fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"]),
                            "(w1, w2, losses)")
    return losses, w1, w2, (_trainable(w1), _trainable(w2))

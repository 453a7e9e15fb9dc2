"""Gradient oracles: PyTorch's autograd, `gradcheck` in float64, and centred finite
differences for numpy code."""

from __future__ import annotations

import importlib
from typing import Callable, Mapping

import numpy as np
import torch

from .compare import CheckFailure

# torch.autograd.gradcheck is shadowed by the function of that name; import the error class.
GradcheckError = importlib.import_module("torch.autograd.gradcheck").GradcheckError


def autograd_grads(fn: Callable[..., torch.Tensor], inputs: Mapping[str, torch.Tensor],
                   wrt: list[str], cotangent: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """d(fn)/d(inputs[wrt]) by torch.autograd, on fresh leaf copies of the inputs.

    A non-scalar output is reduced with `cotangent` (a vector-Jacobian product), which is
    how a check exercises every entry of a backward pass with one call.
    """
    leaves = {k: (v.detach().clone().requires_grad_(k in wrt) if isinstance(v, torch.Tensor) else v)
              for k, v in inputs.items()}
    out = fn(**leaves)
    if cotangent is None:
        if out.numel() != 1:
            raise ValueError("a non-scalar output needs a cotangent")
        cotangent = torch.ones_like(out)
    grads = torch.autograd.grad(out, [leaves[k] for k in wrt], grad_outputs=cotangent,
                                allow_unused=True)
    return {k: (g if g is not None else torch.zeros_like(leaves[k])) for k, g in zip(wrt, grads)}


def gradcheck(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, what: str = "backward",
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> None:
    """torch.autograd.gradcheck in float64; raises CheckFailure with gradcheck's finding.

    Tolerances are gradcheck's own defaults, which suit float64 finite differences.
    """
    doubles = tuple(x.detach().double().requires_grad_(x.requires_grad) for x in inputs)
    try:
        torch.autograd.gradcheck(fn, doubles, eps=eps, atol=atol, rtol=rtol, raise_exception=True)
    except GradcheckError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckFailure(
            f"{what}: gradcheck (float64 finite differences) disagrees with your backward\n"
            f"{first}\nHint: derive the local derivative again, and make sure backward "
            "multiplies it by grad_output") from None
    except Exception as err:  # the learner's backward raised
        raise CheckFailure(f"{what}: gradcheck could not run your backward: "
                           f"{type(err).__name__}: {err}") from None


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred finite differences of the scalar f() with respect to x (perturbed in place
    and restored): (f(x + eps) - f(x - eps)) / (2 eps), error O(eps^2)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 when equal, 1 when unrelated, scale free."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def finite_difference_check(loss: Callable[[], float], params: Mapping[str, np.ndarray],
                            grads: Mapping[str, np.ndarray], *, what: str,
                            max_rel_error: float = 1e-6) -> None:
    """Compare analytic gradients with centred differences of `loss` (float64 numpy)."""
    for name, p in params.items():
        g = grads[name]
        if type(g) is not np.ndarray or g.shape != p.shape:
            raise CheckFailure(f"{what}: gradient of {name} must be a numpy array of shape "
                               f"{p.shape} for the finite-difference check")
        num = numeric_gradient(loss, p)
        err = relative_error(g, num)
        if not err < max_rel_error:
            worst = np.unravel_index(int(np.argmax(np.abs(g - num))), g.shape)
            raise CheckFailure(
                f"{what}: gradient of {name} disagrees with centred finite differences\n"
                f"relative error {err:.3g} (allowed < {max_rel_error:g}); largest gap at index "
                f"{tuple(int(i) for i in worst)}: yours {g[worst]:.6g}, numeric {num[worst]:.6g}")

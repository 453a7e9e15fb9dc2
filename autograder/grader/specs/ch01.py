"""Chapter 01: a two-layer ReLU network in numpy, gradients by hand.

Oracles are PyTorch float64 computations with autograd: independent of any numpy code.
The learner's results must be numpy arrays (float64 in, float64 out), and no exercise may
use torch (each statement says "numpy only"; the source is read for it).

Every exercise is told "do not modify the arrays you are given": the generic check of the
inputs after the call enforces it (no spec here has `may_modify`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..compare import CheckFailure, Mistake, Tol
from ..gradients import finite_difference_check
from ..spec import Case, Property, Spec
from . import register

# Both sides compute in float64; numpy and torch may sum in a different order. Measured
# worst error ratio (|error| / allowed, sweep of 200 salts x {1, 2} threads): below 1e-4
# for forward and sse_loss, 1e-4 for backward's grad_w1: the margin is for other BLAS
# builds, whose summation order may differ more.
SAME_MATH = Tol(1e-7, 1e-9, "float64 on both sides; only the order of summation differs")
# Gradient descent repeats that rounding at every step; measured worst ratio over 40 salts
# x {1, 2} threads: below 1e-4 (losses and weights).
TRAJECTORY = Tol(1e-6, 1e-9, "float64 over tens of steps: per-step rounding differences add up")

SIZES = {  # N: batch, D_in: inputs, H: hidden units, D_out: outputs
    "small": dict(N=5, D_in=7, H=4, D_out=3),
    "single": dict(N=1, D_in=3, H=6, D_out=2),
    "batch of 64": dict(N=64, D_in=100, H=50, D_out=10),
    "classic": dict(N=64, D_in=1000, H=100, D_out=10),
}
# Small cases first: the message a learner reads is the first failing case's. The classic
# size (1000 inputs) only in `train`, where it sets the scale of the loss; elsewhere it
# would prove nothing the batch of 64 does not, at ten times the cost per salt.
CASES = tuple(Case(label, seed, SIZES[label]) for seed, label in enumerate(("small", "single", "batch of 64")))
NUMPY_ONLY_HINT = "this exercise is numpy only"


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def _net_inputs(rand, N, D_in, H, D_out) -> dict:
    return {"x": rand.array(N, D_in), "y": rand.array(N, D_out),
            "w1": rand.array(D_in, H), "w2": rand.array(H, D_out)}


def reference_forward(x, w1, w2):
    h = _t(x) @ _t(w1)
    h_relu = torch.relu(h)
    return h.numpy(), h_relu.numpy(), (h_relu @ _t(w2)).numpy()


def reference_loss(y_pred, y) -> float:
    return float(((_t(y_pred) - _t(y)) ** 2).sum())


def reference_grads(x, y, w1, w2):
    """d(SSE)/d(w1, w2) by torch.autograd: the gradient oracle."""
    w1_t = _t(w1).requires_grad_()
    w2_t = _t(w2).requires_grad_()
    loss = ((torch.relu(_t(x) @ w1_t) @ w2_t - _t(y)) ** 2).sum()
    g1, g2 = torch.autograd.grad(loss, [w1_t, w2_t])
    return g1.numpy(), g2.numpy()


CHANGED = ("the exercise says not to modify the arrays you are given: `a -= b` and "
           "`a[...] = v` write into the caller's array; compute new arrays instead "
           "(d = y_pred - y), or work on a copy (a.copy())")


# ------------------------------------------------------------------------ forward
def _forward_mistakes(inp):
    h = _t(inp["x"]) @ _t(inp["w1"])
    y_pred = torch.relu(h) @ _t(inp["w2"])
    return {"y_pred": [Mistake((h @ _t(inp["w2"])).numpy(),
                               "y_pred equals h @ w2: apply the ReLU (h_relu) before the second layer"),
                       Mistake(torch.relu(y_pred).numpy(),
                               "y_pred has no negative entries: the ReLU belongs to the hidden layer "
                               "only; the output layer is linear, y_pred = h_relu @ w2")],
            "h_relu": [Mistake(h.numpy(), "h_relu equals h: the ReLU max(h, 0) is missing")],
            "h": [Mistake(torch.relu(h).numpy(),
                          "h has no negative entries: h is the first layer's output before the ReLU; "
                          "np.maximum(h, 0, out=h) or h[h < 0] = 0 overwrote it (make h_relu a new array)")]}


forward = Spec(
    name="ch01.forward",
    inputs=_net_inputs,
    outputs=("h", "h_relu", "y_pred"),
    oracle=lambda i: dict(zip(("h", "h_relu", "y_pred"), reference_forward(i["x"], i["w1"], i["w2"]))),
    tol=SAME_MATH,
    cases=CASES,
    numpy_only=True,
    mistakes=_forward_mistakes,
    changed_hint=CHANGED,
    sweep_salts=100,
)

# ------------------------------------------------------------------------ sse_loss
def _loss_inputs(rand, N, D_out, **_):
    return {"y_pred": rand.array(N, D_out), "y": rand.array(N, D_out)}


def _loss_mistakes(inp):
    d = _t(inp["y_pred"]) - _t(inp["y"])
    return {"loss": [
        Mistake(float((d ** 2).mean()), "this is the mean of the squared errors: the exercise asks for their sum"),
        Mistake(float(d.abs().sum()), "this is the sum of absolute errors: square the differences"),
        Mistake(float(torch.linalg.norm(d)), "this is the square root of the sum: leave out the sqrt"),
        Mistake(float(d.sum() ** 2), "this squares the sum of the errors: square each error, then sum"),
    ]}


sse_loss = Spec(
    name="ch01.sse_loss",
    inputs=_loss_inputs,
    outputs=("loss",),
    oracle=lambda i: {"loss": reference_loss(i["y_pred"], i["y"])},
    tol=SAME_MATH,
    cases=CASES,
    numpy_only=True,
    mistakes=_loss_mistakes,
    changed_hint=CHANGED,
    sweep_salts=200,
)

# ------------------------------------------------------------------------ backward
def _backward_inputs(rand, **sizes):
    inp = _net_inputs(rand, **sizes)
    inp["h"], inp["h_relu"], inp["y_pred"] = reference_forward(inp["x"], inp["w1"], inp["w2"])
    return inp


def _backward_mistakes(inp):
    x, h, w2 = _t(inp["x"]), _t(inp["h"]), _t(inp["w2"])
    grad_y = 2 * (_t(inp["y_pred"]) - _t(inp["y"]))
    g1, g2 = reference_grads(inp["x"], inp["y"], inp["w1"], inp["w2"])
    return {
        "grad_w1": [
            Mistake((x.T @ (grad_y @ w2.T)).numpy(),
                    "grad_w1 ignores the ReLU: zero grad_h where h < 0 (the ReLU mask)"),
            Mistake((x.T @ ((grad_y @ w2.T) * (h < 0))).numpy(),
                    "the ReLU mask is inverted: keep grad_h where h > 0 and zero it where h < 0 "
                    "(the ReLU passes gradient only where it passed its input)"),
            Mistake(g1 / 2, "grad_w1 is half the expected: d/dy_pred of (y_pred - y)^2 is 2 (y_pred - y)"),
            Mistake(-g1, "grad_w1 has the wrong sign: the error is y_pred - y, not y - y_pred"),
        ],
        "grad_w2": [
            Mistake(g2 / 2, "grad_w2 is half the expected: d/dy_pred of (y_pred - y)^2 is 2 (y_pred - y)"),
            Mistake((_t(inp["h_relu"]).T @ (-grad_y)).numpy(),
                    "grad_w2 has the wrong sign: the error is y_pred - y, not y - y_pred"),
            Mistake((h.T @ grad_y).numpy(),
                    "grad_w2 uses h: the second layer's input is h_relu, so grad_w2 = h_relu.T @ grad_y_pred"),
        ],
    }


def _fd_property(inp, out, case):
    """Centred finite differences of the SSE loss agree with the learner's gradients."""
    w1, w2 = inp["w1"].copy(), inp["w2"].copy()

    def loss() -> float:
        return reference_loss(reference_forward(inp["x"], w1, w2)[2], inp["y"])

    grads = {"w1": out.get("grad_w1"), "w2": out.get("grad_w2")}
    finite_difference_check(loss, {"w1": w1, "w2": w2}, grads, what="backward", max_rel_error=1e-6)


backward = Spec(
    name="ch01.backward",
    inputs=_backward_inputs,
    outputs=("grad_w1", "grad_w2"),
    oracle=lambda i: dict(zip(("grad_w1", "grad_w2"), reference_grads(i["x"], i["y"], i["w1"], i["w2"]))),
    tol=SAME_MATH,
    cases=CASES,
    numpy_only=True,
    mistakes=_backward_mistakes,
    changed_hint=CHANGED,
    properties=(Property("finite differences", _fd_property,
                         "an oracle that does not rely on autograd: relative error below 1e-6",
                         cases=("small", "single")),),
    sweep_salts=100,
)

# ------------------------------------------------------------------------ train
TRAIN_CASES = (   # one step first: its message names a wrong update most plainly
    Case("one step", 2, dict(SIZES["small"], lr=1e-2, steps=1)),
    Case("small", 1, dict(SIZES["small"], lr=1e-3, steps=25)),
    Case("classic", 0, dict(SIZES["classic"], lr=2e-7, steps=8)),
)


def _train_inputs(rand, lr, steps, **sizes):
    return dict(_net_inputs(rand, **sizes), lr=lr, steps=steps)


def reference_train(x, y, w1, w2, lr, steps, *, lr_w1=None):
    """Plain gradient descent with torch autograd: weights after `steps` updates and the
    loss before each update. `lr_w1` (default lr) reproduces a known mistake."""
    lr_w1 = lr if lr_w1 is None else lr_w1
    w1_t, w2_t = _t(w1).requires_grad_(), _t(w2).requires_grad_()
    x_t, y_t = _t(x), _t(y)
    losses = []
    for _ in range(steps):
        loss = ((torch.relu(x_t @ w1_t) @ w2_t - y_t) ** 2).sum()
        losses.append(float(loss.detach()))
        g1, g2 = torch.autograd.grad(loss, [w1_t, w2_t])
        with torch.no_grad():
            w1_t -= lr_w1 * g1
            w2_t -= lr * g2
    return w1_t.detach().numpy(), w2_t.detach().numpy(), tuple(losses)


def _rotate(w1_w2_losses):
    w1, w2, losses = w1_w2_losses
    return losses, w1, w2


def _train_mistakes(inp):
    if inp["x"].shape[1] > 100:   # the known mistakes are named on the small cases, which come first
        return {}
    x, y, w1, w2, lr, steps = (inp[k] for k in ("x", "y", "w1", "w2", "lr", "steps"))
    ascent = reference_train(x, y, w1, w2, -lr, steps)
    after = reference_train(x, y, w1, w2, lr, steps + 1)
    frozen_w1 = reference_train(x, y, w1, w2, lr, steps, lr_w1=0.0)
    found = {
        "losses": [Mistake(ascent[2], "the loss grows: subtract lr * gradient (descent), do not add it"),
                   Mistake(after[2][1:], "losses[t] is the loss after the update of step t: record "
                           "each loss before its update, so that losses[0] is the loss of the "
                           "weights you were given"),
                   Mistake(frozen_w1[2], "w1 never changes: update both weights at every step")],
        "w1": [Mistake(ascent[0], "w1 moved up the gradient: subtract lr * gradient (descent), "
                       "w1 - lr * grad_w1"),
               Mistake(w1, "w1 never changes: update both weights at every step")],
        "w2": [Mistake(ascent[1], "w2 moved up the gradient: subtract lr * gradient (descent), "
                       "w2 - lr * grad_w2")],
    }
    return found


def _monotone(inp, out, case):
    losses = out.get("losses")
    if type(losses) is tuple and all(type(v) is float for v in losses):
        rises = [t for t in range(1, len(losses)) if not losses[t] < losses[t - 1]]
        if rises:
            t = rises[0]
            raise CheckFailure(
                f"train: the loss must fall at every step for a small learning rate "
                f"(case '{case.label}', lr={inp['lr']:g}), but losses[{t}] = {losses[t]:.6g} "
                f">= losses[{t - 1}] = {losses[t - 1]:.6g}\nHint: subtract lr * gradient "
                "(descent), and update with the gradients of the current step")


train = Spec(
    name="ch01.train",
    inputs=_train_inputs,
    outputs=("losses", "w1", "w2"),
    # losses first: a loop that runs too few steps is then named as such
    oracle=lambda i: dict(zip(("losses", "w1", "w2"), _rotate(reference_train(**i)))),
    tol=TRAJECTORY,
    cases=TRAIN_CASES,
    numpy_only=True,
    # Grade the loop alone: inside `train`, the learner's own forward/sse_loss/backward are
    # replaced by stand-ins, so a mistake there is not counted twice.
    isolate=("forward", "sse_loss", "backward"),
    mistakes=_train_mistakes,
    changed_hint=("the exercise says not to modify the arrays you are given: `w1 -= lr * grad_w1` "
                  "writes into the caller's array; write w1 = w1 - lr * grad_w1 (a new array), "
                  "or start from copies (w1 = w1.copy())"),
    error_hints=(("could not be broadcast",
                  "an update mixes arrays of different shapes: backward returns (grad_w1, grad_w2) "
                  "in that order, and w1 is updated with grad_w1, w2 with grad_w2"),),
    properties=(Property("loss falls", _monotone, "small learning rate: every step lowers the loss"),),
    sweep_salts=20,
)

SPECS = register(forward, sse_loss, backward, train)

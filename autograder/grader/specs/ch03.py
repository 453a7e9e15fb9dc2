"""Chapter 03: autograd.

Oracles are independent of any learner code: `torch.func.grad` and `torch.func.jacrev`
(functional transforms, which never touch a tensor's `.grad`), hand-derived analytic
gradients, and reference training loops (one with `torch.autograd.grad`, one with the
analytic gradient of the mean squared error, no autograd at all).

Besides the values, this chapter grades *side effects*, which is what autograd is mostly
about: the learner-side call records the state of the caller's tensors after the call
(values, `requires_grad`, `.grad`) and whether returned parameters are still trainable
leaves; those records are captured plain values that the grader judges.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ...learner import values
from ..compare import CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec
from ..static import ForbiddenCalls
from . import register

# Some grad_of / jacobian_rows cases are float32: the oracle runs the same ops on the same
# device, but CUDA may choose other kernels (another order of summation) for the learner.
GRAD = Tol(1e-5, 1e-6, "set by the float32 cases: same ops as the oracle, but CUDA may sum "
           "in another order (float64 cases agree far closer)")
# Gradient descent repeats small rounding differences at every step (float64, <= 30 steps).
TRAJECTORY = Tol(1e-6, 1e-9, "float64 over up to 30 steps: per-step rounding differences add up")


# ------------------------------------------------------------------ shared helpers
def _run(hints: tuple[tuple[str, str], ...], thunk: Callable[[], Any]) -> Any:
    """Call learner code; if it raises an error we recognise, add the usual cause to the
    message (the judge shows the error text to the learner)."""
    try:
        return thunk()
    except (RuntimeError, TypeError, AttributeError) as err:
        text = str(err)
        for needle, hint in hints:
            if needle in text:
                raise type(err)(f"{text}\nUsual cause: {hint}") from None
        raise


IN_PLACE_ON_LEAF = ("a leaf Variable that requires grad is being used in an in-place operation",
                    "the update `w -= lr * w.grad` ran while autograd was recording: do the "
                    "update inside `with torch.no_grad():`")
GRAD_IS_NONE = ("NoneType",
                "a parameter's .grad is None: after `w = w - lr * w.grad` the name w points to "
                "a new tensor that is not the leaf backward() filled; update in place "
                "(`w -= lr * w.grad` under torch.no_grad()) instead of re-assigning")
NO_GRAD_FN = ("does not require grad and does not have a grad_fn",
              "the loss does not depend on any tensor that requires grad: a parameter was "
              "re-assigned under no_grad (it no longer requires grad), or the caller switched "
              "gradients off (use `with torch.enable_grad():` inside your function)")
SECOND_BACKWARD = ("backward through the graph a second time",
                   "backward() frees the graph it walked: pass retain_graph=True to every "
                   "backward / autograd.grad call but the last (or rebuild the graph per row)")
TRAIN_HINTS = (IN_PLACE_ON_LEAF, GRAD_IS_NONE, NO_GRAD_FN)
LOSS_AFTER_UPDATE = ("losses[t] is the loss after the update of step t: record each loss before "
                     "its update, so that losses[0] is the loss of the weights you were given")


def _trainable(w: Any) -> float:
    """1.0 if w is a plain tensor that is a leaf and requires grad (can be trained further)."""
    ok = type(w) in values.TENSOR_TYPES and w.is_leaf and w.requires_grad
    return 1.0 if ok else 0.0


def _trainable_property(names: tuple[str, ...], exercise: str):
    def prop(inp, out, case):
        flags = out.get("trainable")
        if type(flags) is not tuple or len(flags) != len(names):
            raise CheckFailure(f"{exercise}: could not record whether the returned parameters "
                               "are trainable leaves")
        bad = [n for n, f in zip(names, flags) if f != 1.0]
        if bad:
            raise CheckFailure(
                f"{exercise}: the returned {', '.join(bad)} must still be leaf tensors that "
                f"require grad (case '{case.label}'), so training can go on from them\n"
                "Hint: re-assigning `w = w - lr * w.grad` makes a new tensor (a non-leaf, or one "
                "that no longer requires grad under no_grad): update in place, "
                "`w -= lr * w.grad`, inside `with torch.no_grad():`")
    return Property("trainable leaves", prop, "parameters stay leaves that require grad")


def _x_state(x: torch.Tensor) -> tuple:
    """What the caller's x looks like after the learner's call (learner side, captured)."""
    return (values.capture(x), 1.0 if x.requires_grad else 0.0, values.capture(x.grad))


def _untouched_property(exercise: str):
    def prop(inp, out, case):
        x = inp["x"]
        before_rg = bool(x.requires_grad)
        after_values, after_rg = out.get("x_values"), out.get("x_requires_grad")
        after_grad = out.get("x_grad")
        if type(after_rg) is not float or after_rg != float(before_rg):
            raise CheckFailure(
                f"{exercise} changed x.requires_grad of the caller's tensor from {before_rg} to "
                f"{not before_rg} (case '{case.label}')\nHint: leave the caller's x as it is: "
                "work on a copy, `xx = x.detach().requires_grad_()`, and differentiate with "
                "respect to xx")
        if x.grad is None and after_grad is not None:
            raise CheckFailure(
                f"{exercise} left a gradient behind in the caller's x.grad (case '{case.label}'; "
                "x.grad was None before the call)\nHint: backward() stores into the .grad of "
                "the leaves it reaches: differentiate a detached copy, or use "
                "torch.autograd.grad, which returns the gradient without storing it")
        if x.grad is not None and (type(after_grad) is not torch.Tensor
                                   or after_grad.shape != x.grad.shape
                                   or not torch.equal(after_grad, x.grad.detach())):
            raise CheckFailure(
                f"{exercise} changed the caller's x.grad, which held a gradient before the call "
                f"(case '{case.label}')\nHint: backward() adds into (or you reset) the .grad of "
                "the caller's tensor: differentiate a detached copy instead")
        if type(after_values) is not torch.Tensor or after_values.shape != x.shape or \
                not torch.equal(after_values, x.detach()):
            raise CheckFailure(f"{exercise} changed the values of the caller's x "
                               f"(case '{case.label}')\nHint: no in-place operations on x")
    return Property("caller's x untouched", prop,
                    "values, requires_grad and .grad of x are as they were before the call")


def _analytic_property(exercise: str, output: str, tol: Tol):
    def prop(inp, out, case):
        expected = inp["analytic"](inp["x"].detach())
        where = Where(f"{exercise}: the result (against the hand-derived formula)", str(
            inp["x"].device), f"case '{case.label}'")
        compare(out.get(output, values.Unusable("missing")), expected, tol, where)
    return Property("analytic gradient", prop, "agrees with a gradient derived by hand")


# ------------------------------------------------------------------ grad_of
def _grad_of_inputs(rand, kind, shape, dtype, requires_grad=False, preset_grad=False,
                    no_grad=False):
    x = rand.randn(max(1, int(torch.Size(shape).numel())), dtype=dtype).reshape(shape)
    if kind == "cubic":          # sum(x^3 - 3x)
        def f(v):
            return (v ** 3 - 3 * v).sum()

        def analytic(v):
            return 3 * v ** 2 - 3
    elif kind == "tanh layer":   # sum(tanh(A x)), x a (non-square) matrix
        A = rand.randn(4, shape[0], dtype=dtype)

        def f(v):
            return torch.tanh(A @ v).sum()

        def analytic(v):
            return A.T @ (1 - torch.tanh(A @ v) ** 2)
    elif kind == "logsumexp+norm":   # logsumexp(x) + ||x||
        def f(v):
            return torch.logsumexp(v, 0) + v.pow(2).sum().sqrt()

        def analytic(v):
            return torch.softmax(v, 0) + v / v.pow(2).sum().sqrt()
    elif kind == "x sin x":
        def f(v):
            return (v * v.sin()).sum()

        def analytic(v):
            return v.sin() + v * v.cos()
    elif kind == "scalar":       # x^2 e^x for a 0-dim x
        def f(v):
            return v ** 2 * v.exp()

        def analytic(v):
            return (2 * v + v ** 2) * v.exp()
    else:
        raise ValueError(kind)
    if requires_grad:
        x.requires_grad_(True)
    if preset_grad:
        x.grad = rand.randn(int(torch.Size(shape).numel()), dtype=dtype).reshape(shape)
    # a string, so that the case description does not print it as a number
    return {"f": f, "x": x, "analytic": analytic, "caller": "no_grad" if no_grad else "plain"}


def _call_grad_of(fn, i):
    x = i["x"]

    def call():
        if i["caller"] == "no_grad":
            with torch.no_grad():
                return fn(i["f"], x)
        return fn(i["f"], x)

    hints = (("does not require grad and does not have a grad_fn",
              "grad_of was called inside `with torch.no_grad():` (the caller switched "
              "gradients off): wrap your computation in `with torch.enable_grad():`"),
             ("NoneType", "the gradient you read is None: call f on a tensor that requires "
              "grad and differentiate with respect to that very tensor"))
    g = _run(hints, call)
    return (g,) + _x_state(x)


def _grad_of_oracle(i):
    x = i["x"].detach()
    return {"grad": torch.func.grad(i["f"])(x)}


def _grad_of_mistakes(i):
    g = torch.func.grad(i["f"])(i["x"].detach())
    found = [Mistake(-g, "the sign is flipped: return df/dx, not -df/dx")]
    if i["x"].grad is not None:
        found.append(Mistake(g + i["x"].grad, "the result includes what x.grad held before the "
                             "call: backward() adds into .grad. Differentiate a detached copy "
                             "(or use torch.autograd.grad)"))
    return {"grad": found}


GRAD_OF_CASES = (
    Case("vector", 0, dict(kind="cubic", shape=(7,), dtype=torch.float64)),
    Case("non-square matrix, float32", 1, dict(kind="tanh layer", shape=(3, 5), dtype=torch.float32)),
    Case("x requires grad and already has a .grad", 2,
         dict(kind="logsumexp+norm", shape=(6,), dtype=torch.float64, requires_grad=True,
              preset_grad=True)),
    Case("called inside torch.no_grad()", 3,
         dict(kind="x sin x", shape=(2, 4), dtype=torch.float64, no_grad=True)),
    Case("0-dim x", 4, dict(kind="scalar", shape=(), dtype=torch.float64)),
)

grad_of = Spec(
    name="ch03.grad_of",
    inputs=_grad_of_inputs,
    call=_call_grad_of,
    outputs=("grad", "x_values", "x_requires_grad", "x_grad"),
    oracle=_grad_of_oracle,
    tol={"grad": GRAD},
    cases=GRAD_OF_CASES,
    mistakes=_grad_of_mistakes,
    properties=(_analytic_property("grad_of", "grad", GRAD), _untouched_property("grad_of")),
)


# ------------------------------------------------------------------ jacobian_rows
def _jacobian_inputs(rand, kind, n, m, dtype):
    x = rand.randn(n, dtype=dtype)
    if kind == "tanh layer":     # tanh(A x + c): J = diag(1 - t^2) A
        A, c = rand.randn(m, n, dtype=dtype), rand.randn(m, dtype=dtype)

        def f(v):
            return torch.tanh(A @ v + c)

        def analytic(v):
            return (1 - torch.tanh(A @ v + c) ** 2)[:, None] * A
    elif kind == "squares":      # (B x)^2: J = 2 diag(B x) B
        B = rand.randn(m, n, dtype=dtype)

        def f(v):
            return (B @ v) ** 2

        def analytic(v):
            return 2 * (B @ v)[:, None] * B
    elif kind == "linear":       # A x: J = A
        A = rand.randn(m, n, dtype=dtype)

        def f(v):
            return A @ v

        def analytic(v):
            return A.clone()
    elif kind == "sum of exp":   # one output: J = exp(x) as a row
        def f(v):
            return v.exp().sum().reshape(1)

        def analytic(v):
            return v.exp()[None, :]
    elif kind == "powers":       # one input: (x, x^2, sin x)
        def f(v):
            return torch.cat([v, v ** 2, v.sin()])

        def analytic(v):
            return torch.stack([torch.ones_like(v), 2 * v, v.cos()])
    else:
        raise ValueError(kind)
    return {"f": f, "x": x, "analytic": analytic}


def _call_jacobian(fn, i):
    x = i["x"]
    hints = (SECOND_BACKWARD,
             ("does not require grad and does not have a grad_fn",
              "f was called on a tensor that does not require grad: differentiate with "
              "respect to a copy made with x.detach().requires_grad_()"))
    J = _run(hints, lambda: fn(i["f"], x))
    return (J,) + _x_state(x)


def _jacobian_mistakes(i):
    J = torch.func.jacrev(i["f"])(i["x"].detach())
    total = J.sum(0, keepdim=True).expand_as(J)
    return {"J": [
        Mistake(J.cumsum(0), "row i holds the sum of rows 0..i: .grad accumulates over "
                "backward calls; zero x.grad (or use torch.autograd.grad) before each row"),
        Mistake(total, "every row is the gradient of the sum of all outputs: differentiate "
                "one output f(x)[i] per row (or pass a one-hot grad_outputs)"),
    ]}


JACOBIAN_CASES = (
    Case("3 outputs, 5 inputs", 10, dict(kind="tanh layer", n=5, m=3, dtype=torch.float64)),
    Case("7 outputs, 2 inputs, float32", 11, dict(kind="squares", n=2, m=7, dtype=torch.float32)),
    Case("linear map", 12, dict(kind="linear", n=6, m=4, dtype=torch.float64)),
    Case("one output", 13, dict(kind="sum of exp", n=4, m=1, dtype=torch.float64)),
    Case("one input", 14, dict(kind="powers", n=1, m=3, dtype=torch.float64)),
)

jacobian_rows = Spec(
    name="ch03.jacobian_rows",
    inputs=_jacobian_inputs,
    call=_call_jacobian,
    outputs=("J", "x_values", "x_requires_grad", "x_grad"),
    oracle=lambda i: {"J": torch.func.jacrev(i["f"])(i["x"].detach())},
    tol={"J": GRAD},
    cases=JACOBIAN_CASES,
    mistakes=_jacobian_mistakes,
    static=(ForbiddenCalls(frozenset({"jacrev", "jacfwd", "jacobian", "vmap", "hessian"}),
                           "build the Jacobian row by row yourself with backward() or "
                           "torch.autograd.grad, not with torch.func / torch.autograd.functional"),),
    properties=(_analytic_property("jacobian_rows", "J", GRAD),
                _untouched_property("jacobian_rows")),
)


# ------------------------------------------------------------------ fixed_update_loop
def reference_linear_fit(x, y, w, b, lr, steps, *, mean=True, zero_w=True, zero_b=True):
    """Gradient descent on the mean squared error of x @ w + b, with the analytic gradient
    (no autograd): d/dw = 2/(N K) x^T r, d/db = 2/(N K) sum_n r, r = x @ w + b - y.
    The flags reproduce known mistakes (sum instead of mean, gradients never zeroed)."""
    w, b = w.detach().clone(), b.detach().clone()
    scale = 2.0 / y.numel() if mean else 2.0
    acc_w, acc_b = torch.zeros_like(w), torch.zeros_like(b)
    losses = []
    for _ in range(steps):
        r = x @ w + b - y
        losses.append(float((r ** 2).mean() if mean else (r ** 2).sum()))
        acc_w = (acc_w if not zero_w else 0) + scale * (x.T @ r)
        acc_b = (acc_b if not zero_b else 0) + scale * r.sum(0)
        w, b = w - lr * acc_w, b - lr * acc_b
    return {"losses": tuple(losses), "w": w, "b": b}


def _linear_inputs(rand, N, D, K, lr, steps):
    return {"x": rand.randn(N, D, dtype=torch.float64), "y": rand.randn(N, K, dtype=torch.float64),
            "w": rand.randn(D, K, dtype=torch.float64, requires_grad=True),
            "b": rand.randn(K, dtype=torch.float64, requires_grad=True), "lr": lr, "steps": steps}


def _call_fixed(fn, i):
    out = _run(TRAIN_HINTS, lambda: fn(i["x"], i["y"], i["w"], i["b"], i["lr"], i["steps"]))
    if type(out) not in (tuple, list) or len(out) != 3:
        return out
    w, b, losses = out
    if type(losses) is torch.Tensor and losses.ndim == 1:
        losses = [float(v) for v in losses.detach()]   # a tensor of losses is as good as a list
    return losses, w, b, (_trainable(w), _trainable(b))


def _fixed_mistakes(i):
    args = (i["x"], i["y"], i["w"], i["b"], i["lr"], i["steps"])
    acc = reference_linear_fit(*args, zero_w=False, zero_b=False)
    acc_b = reference_linear_fit(*args, zero_b=False)
    acc_w = reference_linear_fit(*args, zero_w=False)
    summed = reference_linear_fit(*args, mean=False)
    after = reference_linear_fit(*args[:-1], args[-1] + 1)["losses"][1:]
    out = {"losses": [Mistake(after, LOSS_AFTER_UPDATE)]}
    for k in ("losses", "w", "b"):
        out.setdefault(k, []).extend([
            Mistake(acc[k], "the gradients accumulate from step to step: zero w.grad and b.grad "
                    "(or set them to None) after every update"),
            Mistake(acc_b[k], "b.grad is never zeroed, so it accumulates from step to step"),
            Mistake(acc_w[k], "w.grad is never zeroed, so it accumulates from step to step"),
            Mistake(summed[k], "this is the trajectory of the summed squared error: the loss is "
                    "the mean, ((x @ w + b - y) ** 2).mean()"),
        ])
    return out


FIXED_CASES = (
    Case("one step", 20, dict(N=8, D=3, K=2, lr=0.1, steps=1)),
    Case("several outputs", 21, dict(N=32, D=5, K=3, lr=0.05, steps=20)),
    Case("batch of one", 22, dict(N=1, D=4, K=1, lr=0.02, steps=10)),
)

fixed_update_loop = Spec(
    name="ch03.fixed_update_loop",
    inputs=_linear_inputs,
    call=_call_fixed,
    outputs=("losses", "w", "b", "trainable"),
    oracle=lambda i: reference_linear_fit(i["x"], i["y"], i["w"], i["b"], i["lr"], i["steps"]),
    tol=TRAJECTORY,
    cases=FIXED_CASES,
    mistakes=_fixed_mistakes,
    properties=(_trainable_property(("w", "b"), "fixed_update_loop"),),
)


# ------------------------------------------------------------------ autograd_two_layer_train
def reference_two_layer(x, y, w1, w2, lr, steps, *, mean=False, accumulate=False):
    """Chapter 01's loop with torch.autograd.grad (no .grad fields involved): the sum of
    squared errors of relu(x @ w1) @ w2, losses recorded before each update."""
    w1, w2 = w1.detach().clone().requires_grad_(), w2.detach().clone().requires_grad_()
    acc1, acc2 = torch.zeros_like(w1), torch.zeros_like(w2)
    losses = []
    for _ in range(steps):
        err = torch.relu(x @ w1) @ w2 - y
        loss = (err ** 2).mean() if mean else (err ** 2).sum()
        losses.append(float(loss.detach()))
        g1, g2 = torch.autograd.grad(loss, [w1, w2])
        acc1, acc2 = (acc1 + g1, acc2 + g2) if accumulate else (g1, g2)
        with torch.no_grad():
            w1 -= lr * acc1
            w2 -= lr * acc2
    return {"losses": tuple(losses), "w1": w1.detach(), "w2": w2.detach()}


def _two_layer_inputs(rand, N, D_in, H, D_out, lr, steps):
    return {"x": rand.randn(N, D_in, dtype=torch.float64),
            "y": rand.randn(N, D_out, dtype=torch.float64),
            "w1": rand.randn(D_in, H, dtype=torch.float64, requires_grad=True),
            "w2": rand.randn(H, D_out, dtype=torch.float64, requires_grad=True),
            "lr": lr, "steps": steps}


def _call_two_layer(fn, i):
    out = _run(TRAIN_HINTS, lambda: fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"]))
    if type(out) not in (tuple, list) or len(out) != 3:
        return out
    w1, w2, losses = out
    if type(losses) is torch.Tensor and losses.ndim == 1:
        losses = [float(v) for v in losses.detach()]
    return losses, w1, w2, (_trainable(w1), _trainable(w2))


def _two_layer_mistakes(i):
    args = (i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    acc = reference_two_layer(*args, accumulate=True)
    mean = reference_two_layer(*args, mean=True)
    after = reference_two_layer(*args[:-1], args[-1] + 1)["losses"][1:]
    out = {k: [Mistake(acc[k], "the gradients accumulate from step to step: zero w1.grad and "
                       "w2.grad (or set them to None) after every update"),
               Mistake(mean[k], "this is the trajectory of the mean squared error: the loss is "
                       "the sum, as in chapter 01")]
           for k in ("losses", "w1", "w2")}
    out["losses"].append(Mistake(after, LOSS_AFTER_UPDATE))
    return out


TWO_LAYER_CASES = (
    Case("one step", 30, dict(N=5, D_in=7, H=4, D_out=3, lr=1e-2, steps=1)),
    Case("classic", 31, dict(N=64, D_in=1000, H=100, D_out=10, lr=2e-7, steps=30)),
    Case("small", 32, dict(N=5, D_in=7, H=4, D_out=3, lr=1e-3, steps=25)),
    Case("batch of one", 33, dict(N=1, D_in=3, H=6, D_out=2, lr=1e-2, steps=10)),
)

autograd_two_layer_train = Spec(
    name="ch03.autograd_two_layer_train",
    inputs=_two_layer_inputs,
    call=_call_two_layer,
    outputs=("losses", "w1", "w2", "trainable"),
    oracle=lambda i: reference_two_layer(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"]),
    tol=TRAJECTORY,
    cases=TWO_LAYER_CASES,
    mistakes=_two_layer_mistakes,
    properties=(_trainable_property(("w1", "w2"), "autograd_two_layer_train"),),
)

SPECS = register(grad_of, jacobian_rows, fixed_update_loop, autograd_two_layer_train)

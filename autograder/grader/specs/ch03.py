"""Chapter 03: autograd.

Oracles are independent of any learner code: `torch.func.grad` and `torch.func.jacrev`
(functional transforms, which never touch a tensor's `.grad`), hand-derived analytic
gradients, and reference training loops (one with `torch.autograd.grad`, one with the
analytic gradient of the mean squared error, no autograd at all).

Besides the values, this chapter grades *side effects*, which is what autograd is mostly
about. The caller's tensors must come back as they were given (values, `requires_grad`,
`.grad`): the generic check of every spec's inputs does that, and the exercise texts say
so. The training loops update the parameters they are given in place (`may_modify`); their
harnesses report the caller's parameters after the call, whether the returned ones are
the caller's own, and whether they are still trainable leaves.
"""

from __future__ import annotations

import torch

from ...learner.harness.ch03 import scalar_function, vector_function
from ..compare import CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec
from . import register
from .ch02 import META_HINTS

# Some grad_of / jacobian_rows cases are float32: the oracle runs the same ops on the same
# device, but CUDA may choose other kernels (another order of summation) for the learner.
GRAD = Tol(1e-5, 1e-6, "set by the float32 cases: same ops as the oracle, but CUDA may sum "
           "in another order (float64 cases agree far closer)")
# Gradient descent repeats small rounding differences at every step (float64, <= 30 steps).
# Measured worst error ratios (sweep, {1, 2} threads, CPU): grad_of and jacobian_rows 0 (the
# same operations as the oracle), fixed_update_loop 2e-8, autograd_two_layer_train 0.
TRAJECTORY = Tol(1e-6, 1e-9, "float64 over up to 30 steps: per-step rounding differences add up")
EXACT = Tol(0.0, 0.0, "flags (1.0 yes, 0.0 no)")

UNTOUCHED = ("leave the caller's x exactly as it was (values, requires_grad, .grad): "
             "differentiate a copy, xx = x.detach().requires_grad_(), and use "
             "torch.autograd.grad, which returns the gradient (backward() would store into the "
             ".grad of the caller's tensor, and requires_grad_() would switch it on)")

IN_PLACE_ON_LEAF = ("a leaf Variable that requires grad is being used in an in-place operation",
                    "the update `w -= lr * w.grad` ran while autograd was recording: do the "
                    "update inside `with torch.no_grad():`")
GRAD_IS_NONE = ("NoneType",
                "a parameter's .grad is None: after `w = w - lr * w.grad` the name w points to "
                "a new tensor that is not the leaf backward() filled; update in place "
                "(`w -= lr * w.grad` under torch.no_grad()) instead of re-assigning")
NO_GRAD_FN = ("does not require grad and does not have a grad_fn",
              "the loss does not depend on any tensor that requires grad: a parameter was "
              "re-assigned under no_grad (the new tensor does not require grad); update it in "
              "place instead, `w -= lr * w.grad` inside `with torch.no_grad():`")
SECOND_BACKWARD = ("backward through the graph a second time",
                   "backward() frees the tensors the graph saved: pass retain_graph=True to "
                   "every backward / autograd.grad call but the last (or rebuild the graph per row)")
TRAIN_HINTS = (IN_PLACE_ON_LEAF, GRAD_IS_NONE, NO_GRAD_FN)
LOSS_AFTER_UPDATE = ("losses[t] is the loss after the update of step t: record each loss before "
                     "its update, so that losses[0] is the loss of the weights you were given")


def _trainable_property(names: tuple[str, ...], exercise: str, what: str = "returned"):
    def prop(inp, out, case):
        flags = out.get("trainable")
        if type(flags) is not tuple or len(flags) != len(names):
            raise CheckFailure(f"{exercise}: could not record whether the {what} parameters "
                               "are trainable leaves")
        bad = [n for n, f in zip(names, flags) if f != 1.0]
        if bad:
            raise CheckFailure(
                f"{exercise}: the {what} {', '.join(bad)} must still be leaf tensors that "
                f"require grad (case '{case.label}'), so training can go on from them\n"
                "Hint: re-assigning `w = w - lr * w.grad` makes a new tensor (a non-leaf, or one "
                "that no longer requires grad under no_grad): update in place, "
                "`w -= lr * w.grad`, inside `with torch.no_grad():`")
    return Property("trainable leaves", prop, "parameters stay leaves that require grad")


def _analytic_property(exercise: str, output: str, analytic):
    def prop(inp, out, case):
        expected = analytic(inp)
        where = Where(f"{exercise}: the result (against the hand-derived formula)",
                      str(inp["x"].device), f"case '{case.label}'")
        compare(out.get(output), expected, GRAD, where)
    return Property("analytic gradient", prop, "agrees with a gradient derived by hand")


# ------------------------------------------------------------------ grad_of
def _meta(t: torch.Tensor, meta: bool) -> torch.Tensor:
    return t.to("meta") if meta else t


def _grad_of_inputs(rand, kind, shape, dtype, requires_grad=False, preset_grad=False,
                    no_grad=False, meta=False):
    size = max(1, int(torch.Size(shape).numel()))
    x = _meta(rand.randn(size, dtype=dtype).reshape(shape), meta)
    out = {"kind": kind, "x": x, "caller": "no_grad" if no_grad else "plain"}
    if kind == "tanh layer":
        out["A"] = _meta(rand.randn(4, shape[0], dtype=dtype), meta)
    if requires_grad:
        x.requires_grad_(True)
    if preset_grad:
        x.grad = rand.randn(size, dtype=dtype).reshape(shape)
    return out


def _scalar_f(i):
    return scalar_function(i["kind"], **({"A": i["A"]} if "A" in i else {}))


def _grad_of_analytic(i):
    v, kind = i["x"].detach(), i["kind"]
    if kind == "cubic":
        return 3 * v ** 2 - 3
    if kind == "tanh layer":
        A = i["A"]
        return A.T @ (1 - torch.tanh(A @ v) ** 2)
    if kind == "logsumexp+norm":
        return torch.softmax(v, 0) + v / v.pow(2).sum().sqrt()
    if kind == "x sin x":
        return v.sin() + v * v.cos()
    if kind == "scalar":
        return (2 * v + v ** 2) * v.exp()
    raise ValueError(kind)


def _grad_of_oracle(i):
    return {"grad": torch.func.grad(_scalar_f(i))(i["x"].detach())}


def _grad_of_mistakes(i):
    if i["x"].device.type == "meta":
        return {}
    g = torch.func.grad(_scalar_f(i))(i["x"].detach())
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
    Case("meta device", 5, dict(kind="tanh layer", shape=(3, 2), dtype=torch.float32, meta=True)),
)

grad_of = Spec(
    name="ch03.grad_of",
    inputs=_grad_of_inputs,
    outputs=("grad",),
    oracle=_grad_of_oracle,
    tol=GRAD,
    cases=GRAD_OF_CASES,
    mistakes=_grad_of_mistakes,
    changed_hint=UNTOUCHED,
    error_hints=(("does not require grad and does not have a grad_fn",
                  "grad_of was called inside `with torch.no_grad():` (the caller switched "
                  "gradients off): wrap your computation in `with torch.enable_grad():`"),
                 ("NoneType", "the gradient you read is None: call f on a tensor that requires "
                  "grad and differentiate with respect to that very tensor")) + META_HINTS,
    properties=(_analytic_property("grad_of", "grad", _grad_of_analytic),),
    sweep_salts=120,
)


# ------------------------------------------------------------------ jacobian_rows
def _jacobian_inputs(rand, kind, n, m, dtype, meta=False):
    out = {"kind": kind, "x": rand.randn(n, dtype=dtype)}
    if kind in ("tanh layer", "squares", "linear"):
        out["A"] = rand.randn(m, n, dtype=dtype)
    if kind == "tanh layer":
        out["c"] = rand.randn(m, dtype=dtype)
    return {k: (_meta(v, meta) if isinstance(v, torch.Tensor) else v) for k, v in out.items()}


def _vector_f(i):
    return vector_function(i["kind"], **{k: i[k] for k in ("A", "c") if k in i})


def _jacobian_analytic(i):
    v, kind = i["x"].detach(), i["kind"]
    if kind == "tanh layer":     # J = diag(1 - t^2) A
        return (1 - torch.tanh(i["A"] @ v + i["c"]) ** 2)[:, None] * i["A"]
    if kind == "squares":        # J = 2 diag(A x) A
        return 2 * (i["A"] @ v)[:, None] * i["A"]
    if kind == "linear":
        return i["A"].clone()
    if kind == "sum of exp":
        return v.exp()[None, :]
    if kind == "powers":
        return torch.stack([torch.ones_like(v), 2 * v, v.cos()])
    raise ValueError(kind)


def _jacobian_mistakes(i):
    if i["x"].device.type == "meta":
        return {}
    J = torch.func.jacrev(_vector_f(i))(i["x"].detach())
    total = J.sum(0, keepdim=True).expand_as(J)
    return {"J": [
        Mistake(J.cumsum(0), "row i holds the sum of rows 0..i: .grad accumulates over "
                "backward calls; zero x.grad (or use torch.autograd.grad) before each row"),
        Mistake(total, "every row is the gradient of the sum of all outputs: differentiate "
                "one output f(x)[i] per row (or pass a one-hot grad_outputs)"),
    ]}


def _row_by_row_property(inp, out, case):
    if out.get("helper_calls") != 0.0:
        raise CheckFailure(
            f"jacobian_rows called a function of torch.func or torch.autograd.functional "
            f"(case '{case.label}'), which build the Jacobian for you\nHint: build it row by row "
            "yourself: one backward() or torch.autograd.grad call per output f(x)[i]")


JACOBIAN_CASES = (
    Case("3 outputs, 5 inputs", 10, dict(kind="tanh layer", n=5, m=3, dtype=torch.float64)),
    Case("7 outputs, 2 inputs, float32", 11, dict(kind="squares", n=2, m=7, dtype=torch.float32)),
    Case("linear map", 12, dict(kind="linear", n=6, m=4, dtype=torch.float64)),
    Case("one output", 13, dict(kind="sum of exp", n=4, m=1, dtype=torch.float64)),
    Case("one input", 14, dict(kind="powers", n=1, m=3, dtype=torch.float64)),
    Case("meta device", 15, dict(kind="tanh layer", n=4, m=3, dtype=torch.float32, meta=True)),
)

jacobian_rows = Spec(
    name="ch03.jacobian_rows",
    inputs=_jacobian_inputs,
    outputs=("J", "helper_calls"),
    oracle=lambda i: {"J": torch.func.jacrev(_vector_f(i))(i["x"].detach())},
    tol={"J": GRAD},
    cases=JACOBIAN_CASES,
    mistakes=_jacobian_mistakes,
    changed_hint=UNTOUCHED,
    error_hints=(SECOND_BACKWARD,
                 ("does not require grad and does not have a grad_fn",
                  "f was called on a tensor that does not require grad: differentiate with "
                  "respect to a copy made with x.detach().requires_grad_()")) + META_HINTS,
    properties=(_analytic_property("jacobian_rows", "J", _jacobian_analytic),
                Property("row by row", _row_by_row_property,
                         "the statement forbids torch.func and torch.autograd.functional")),
    sweep_salts=80,
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


def _fixed_oracle(i):
    # `same` first: the judge compares in this order, and a parameter re-assigned instead of
    # updated in place is then named as such
    return dict({"same": (1.0, 1.0)},
                **reference_linear_fit(i["x"], i["y"], i["w"], i["b"], i["lr"], i["steps"]))


def _fixed_mistakes(i):
    args = (i["x"], i["y"], i["w"], i["b"], i["lr"], i["steps"])
    acc = reference_linear_fit(*args, zero_w=False, zero_b=False)
    acc_b = reference_linear_fit(*args, zero_b=False)
    acc_w = reference_linear_fit(*args, zero_w=False)
    summed = reference_linear_fit(*args, mean=False)
    after = reference_linear_fit(*args[:-1], args[-1] + 1)["losses"][1:]
    rebound = ("return the tensors you were given, trained in place: re-assigning a parameter "
               "(`w = w - lr * w.grad`) makes a new tensor and leaves the caller's w behind; "
               "update in place, `w -= lr * w.grad`, inside `with torch.no_grad():`")
    out = {"losses": [Mistake(after, LOSS_AFTER_UPDATE)],
           "same": [Mistake((0.0, 0.0), rebound), Mistake((0.0, 1.0), rebound),
                    Mistake((1.0, 0.0), rebound)]}
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
    # `same` first: a parameter re-assigned instead of updated in place is named as such
    outputs=("same", "losses", "w", "b", "trainable"),
    oracle=_fixed_oracle,
    tol={"same": EXACT, "losses": TRAJECTORY, "w": TRAJECTORY, "b": TRAJECTORY},
    cases=FIXED_CASES,
    # the exercise trains the caller's w and b in place; x and y must stay as given
    may_modify=("w", "b"),
    mistakes=_fixed_mistakes,
    error_hints=TRAIN_HINTS,
    properties=(_trainable_property(("w", "b"), "fixed_update_loop", "caller's"),),
    sweep_salts=25,
)


# ------------------------------------------------------------------ autograd_two_layer_train
def reference_two_layer(x, y, w1, w2, lr, steps, *, mean=False, accumulate=False, relu=True):
    """Chapter 01's loop with torch.autograd.grad (no .grad fields involved): the sum of
    squared errors of relu(x @ w1) @ w2, losses recorded before each update."""
    w1, w2 = w1.detach().clone().requires_grad_(), w2.detach().clone().requires_grad_()
    acc1, acc2 = torch.zeros_like(w1), torch.zeros_like(w2)
    losses = []
    for _ in range(steps):
        err = (torch.relu(x @ w1) if relu else x @ w1) @ w2 - y
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


def _two_layer_mistakes(i):
    if i["x"].shape[1] > 100:   # named on the small cases, which come first
        return {}
    args = (i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    acc = reference_two_layer(*args, accumulate=True)
    mean = reference_two_layer(*args, mean=True)
    linear = reference_two_layer(*args, relu=False)
    after = reference_two_layer(*args[:-1], args[-1] + 1)["losses"][1:]
    out = {k: [Mistake(acc[k], "the gradients accumulate from step to step: zero w1.grad and "
                       "w2.grad (or set them to None) after every update"),
               Mistake(mean[k], "this is the trajectory of the mean squared error: the loss is "
                       "the sum, as in chapter 01"),
               Mistake(linear[k], "the hidden layer has no ReLU: the prediction is "
                       "relu(x @ w1) @ w2")]
           for k in ("losses", "w1", "w2")}
    out["losses"].append(Mistake(after, LOSS_AFTER_UPDATE))
    return out


TWO_LAYER_CASES = (
    Case("one step", 30, dict(N=5, D_in=7, H=4, D_out=3, lr=1e-2, steps=1)),
    Case("small", 32, dict(N=5, D_in=7, H=4, D_out=3, lr=1e-3, steps=25)),
    Case("batch of one", 33, dict(N=1, D_in=3, H=6, D_out=2, lr=1e-2, steps=10)),
    Case("classic", 31, dict(N=64, D_in=1000, H=100, D_out=10, lr=2e-7, steps=12)),
)

autograd_two_layer_train = Spec(
    name="ch03.autograd_two_layer_train",
    inputs=_two_layer_inputs,
    outputs=("losses", "w1", "w2", "trainable"),
    oracle=lambda i: reference_two_layer(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"]),
    tol={"losses": TRAJECTORY, "w1": TRAJECTORY, "w2": TRAJECTORY},
    cases=TWO_LAYER_CASES,
    # "updating them in place is the natural way": the caller's w1 and w2 may change
    may_modify=("w1", "w2"),
    mistakes=_two_layer_mistakes,
    error_hints=TRAIN_HINTS,
    properties=(_trainable_property(("w1", "w2"), "autograd_two_layer_train"),),
    sweep_salts=15,
)

SPECS = register(grad_of, jacobian_rows, fixed_update_loop, autograd_two_layer_train)

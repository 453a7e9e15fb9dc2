"""Chapter 04: custom autograd Functions (forward, backward, ctx).

Oracles are PyTorch's own: torch.relu, torch.sigmoid, F.linear and autograd through them
(the Legendre polynomial through autograd in float64), plus torch.autograd.gradcheck in
float64. Every exercise is also checked for what makes a Function a *primitive*:

* its backward is called directly, with a stand-in ctx holding only the saved tensors and
  `needs_input_grad`, under torch.no_grad(): it must compute the gradient from saved
  tensors with plain tensor operations, with no graph to lean on;
* the source of its backward calls no autograd (torch.autograd.grad, .backward(),
  enable_grad, ...), read statically;
* gradcheck in float64 passes.

Only plain values cross to the judge: tensors, floats (flags and line numbers are floats)
and None.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...learner.harness.ch04 import AUTOGRAD_CALLS
from ..compare import EXACT, CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec
from . import register

# ------------------------------------------------------------------------- tolerances
# A ReLU and its mask multiply exactly; only another formula (e.g. x * (x > 0)) may round.
RELU_TOL = Tol(1e-6, 1e-7, "float32; masking is exact, another formula rounds at most 1 ulp")
# 1 / (1 + exp(-x)) and torch.sigmoid differ by a few float32 ulps; so do their derivatives.
SIGMOID_TOL = Tol(1e-5, 1e-6, "float32; exp-based formulas differ from torch.sigmoid by a few ulps")
# The learner computes in float32, the oracle in float64 (rounded to float32); 5x^3 - 3x
# cancels near its roots, so the absolute part covers a few ulps of 5|x|^3 (|x| < 4).
P3_TOL = Tol(1e-5, 2e-5, "float32 polynomial vs float64 oracle; cancellation near the roots")
# Small float32 matrix products (<= 13 terms); CUDA and addmm may sum in another order.
LINEAR_TOL = Tol(1e-5, 1e-6, "float32 sums of <= 13 terms, summed in any order (CPU or CUDA)")
# Float32 training against a float64 oracle: per-step rounding (sums of up to 64 terms)
# grows slowly over 15 steps. Measured on 100 salts x {1, 2} threads: relative errors
# <= 2e-6, so 1e-4 keeps a 50x margin while a loss recorded one step late (each step
# lowers the loss by >= 9e-4, see LR_SCALE) stays 9x outside.
TRAIN_TOL = Tol(1e-4, 1e-5, "float32 training vs float64 oracle over <= 15 steps (measured <= 2e-6)")
# A copy of the input, compared with the input: untouched means bit for bit.
SAME = Tol(0.0, 0.0, "forward must leave its input as it was: bit for bit")


def _gradcheck_property(name: str):
    def check(inp, out, case):
        code = out.get("gradcheck")
        if code == 0.0:
            return
        what = ("disagrees with float64 finite differences" if code == 1.0 else
                "raised an error" if code == 2.0 else "could not run")
        raise CheckFailure(
            f"{name}: torch.autograd.gradcheck in float64 {what} (case '{case.label}')\n"
            f"Run it yourself: torch.autograd.gradcheck({name}.apply, inputs_in_float64)\n"
            "Hint: derive the local derivative again, multiply it by grad_output, return "
            "one gradient (or None) per input of forward, and keep the input's dtype (gradcheck "
            "runs in float64: a cast to float32 inside loses the precision it measures)")
    return Property("gradcheck", check, "torch.autograd.gradcheck in float64 passes")


def _no_autograd_property(name: str):
    def check(inp, out, case):
        line = out.get("autograd call line")
        if line == 0.0:
            return
        if line == -1.0 or type(line) is not float:
            raise CheckFailure(f"{name}: the source of {name}.backward could not be read\n"
                               "Hint: define the class in a notebook cell and run that cell")
        raise CheckFailure(
            f"{name}.backward: line {int(line)} of backward calls one of "
            f"{', '.join(sorted(AUTOGRAD_CALLS))}\nHint: backward calls autograd itself, but "
            "backward IS the derivative: compute the gradient from ctx.saved_tensors and "
            "grad_output with plain tensor operations (autograd does not record what happens "
            "inside backward)")
    return Property("no autograd in backward", check,
                    "backward is a primitive: it computes the gradient with tensor operations")


# ------------------------------------------------------------------------- unary Functions
UNARY_CASES = (
    Case("matrix", 0, dict(shape=(5, 7))),
    Case("single", 1, dict(shape=(1,), zeros=False)),
    Case("3-d", 2, dict(shape=(2, 3, 4))),
    Case("float64", 3, dict(shape=(4, 6), dtype=torch.float64)),
)


def _unary_inputs(rand, shape, scale=2.0, zeros=True, dtype=torch.float32):
    """`x` holds exact zeros (every 4th entry, +0.0 and -0.0) where the values are compared;
    `x_smooth` keeps away from 0 for gradcheck, which cannot measure a kink."""
    x = rand.randn(*shape, scale=scale, dtype=dtype)
    if zeros:
        flat = x.view(-1)
        flat[::8] = 0.0
        flat[4::8] = -0.0
    s = rand.randn(*shape, scale=scale, dtype=dtype)
    s = torch.where(s.abs() < 0.05, torch.full_like(s, 0.05) * torch.where(s < 0, -1.0, 1.0), s)
    return {"x": x, "x_smooth": s, "grad_output": rand.randn(*shape, dtype=dtype)}


UNARY_OUTPUTS = ("y", "grad_x", "x after the call", "number of saved tensors",
                 "grad_x from backward called directly", "gradcheck", "autograd call line")


def _saved_property(name: str):
    """Tensors go through ctx.save_for_backward (the checks of MySigmoid count them exactly)."""
    def check(inp, out, case):
        if type(out.get("number of saved tensors")) is float and out["number of saved tensors"] < 1:
            raise CheckFailure(
                f"{name}: forward saved no tensor with ctx.save_for_backward (case '{case.label}')\n"
                "Hint: nothing was saved with ctx.save_for_backward: store the tensors backward "
                "needs that way (ctx.save_for_backward(x)), not as attributes of ctx")
    return Property("tensors saved with save_for_backward", check,
                    "forward hands its tensors to backward through ctx.save_for_backward")


def _unary_spec(name, oracle, mistakes, tol, saved=False, cases=UNARY_CASES):
    outputs = UNARY_OUTPUTS if not saved else (
        UNARY_OUTPUTS[:4] + ("saved tensor",) + UNARY_OUTPUTS[4:])
    tols = {o: tol for o in outputs}
    tols.update({"x after the call": SAME, "number of saved tensors": EXACT})
    return Spec(
        name=f"ch04.{name}",
        inputs=_unary_inputs,
        outputs=outputs,
        oracle=oracle,
        tol={o: tols[o] for o in outputs},
        cases=cases,
        mistakes=mistakes,
        properties=(_gradcheck_property(name), _no_autograd_property(name))
        + (() if saved else (_saved_property(name),)),
        error_hints=DEVICE_HINTS,
        sweep_salts=60,
    )


_NO_DEVICE = ("a tensor was created without device= (e.g. torch.zeros(shape) or "
              "torch.tensor(...)): it lands on the default device, not on the input's. Create new "
              "tensors with torch.zeros_like(x) / x.new_zeros(...) or device=x.device")
DEVICE_HINTS = (
    ("device meta", _NO_DEVICE),
    ("but got meta", _NO_DEVICE),
    ("modified by an inplace operation", "forward changed its input in place (a "
     "trailing-underscore method such as clamp_, or x[...] = ...): return a new tensor and "
     "leave the input as it was"),
    ("failed when autograd's way of calling it was replayed", "backward must work from "
     "ctx.saved_tensors and grad_output alone, under torch.no_grad(), with no autograd calls"),
)


def _by_autograd(f, i, dtype=None):
    """f(x) and its vector-Jacobian product with grad_output, by PyTorch's autograd
    (in `dtype` if given, then rounded back to the input's dtype)."""
    x0, g0 = i["x"], i["grad_output"]
    x = x0.detach().to(dtype or x0.dtype).requires_grad_()
    y = f(x)
    (gx,) = torch.autograd.grad(y, x, g0.to(x.dtype))
    return y.detach().to(x0.dtype), gx.to(x0.dtype)


def _grads_everywhere(i, y, gx):
    return {"y": y, "grad_x": gx, "x after the call": i["x"],
            "grad_x from backward called directly": gx}


def _inplace_hint(i, y):
    return Mistake(y, "forward changed its input x in place (a trailing-underscore method such "
                   "as clamp_ or x[...] = ...): return a new tensor and leave x as it was")


# MyReLU
def _relu_oracle(i):
    return _grads_everywhere(i, *_by_autograd(torch.relu, i))


def _relu_mistakes(i):
    x, g = i["x"], i["grad_output"]
    mask = (x > 0).to(x.dtype)
    grad_hints = [
        Mistake(g, "backward passes grad_output through unchanged: zero it where the input "
                "was negative (multiply by the mask x > 0)"),
        Mistake(mask, "backward returns the local derivative only (the mask): multiply it by "
                "grad_output (chain rule)"),
        Mistake(g * (x >= 0).to(x.dtype), "at x = 0 the gradient must be 0 (as torch.relu's): "
                "let grad_output through where x > 0 only, not where x >= 0"),
        Mistake(g * (1 - mask), "the mask is inverted: the gradient flows where x > 0, not "
                "where x < 0"),
        Mistake(g * torch.relu(x), "backward multiplies by relu(x): the derivative of ReLU is "
                "the mask (x > 0), 1 or 0"),
        Mistake(g * torch.sign(x), "backward multiplies by sign(x), the derivative of |x|: the "
                "derivative of ReLU is 1 where x > 0 and 0 (not -1) elsewhere"),
    ]
    return {"y": [Mistake(x, "forward returns its input unchanged: clamp negatives to 0"),
                  Mistake(x.clamp(max=0), "forward keeps the negative part: ReLU keeps the "
                          "positive part, max(x, 0)")],
            "x after the call": [_inplace_hint(i, torch.relu(x))],
            "grad_x": grad_hints, "grad_x from backward called directly": grad_hints}


MyReLU = _unary_spec("MyReLU", _relu_oracle, _relu_mistakes, RELU_TOL)


# MySigmoid
def _sigmoid_oracle(i):
    out = _grads_everywhere(i, *_by_autograd(torch.sigmoid, i))
    out.update({"number of saved tensors": 1.0, "saved tensor": out["y"]})
    return out


def _sigmoid_mistakes(i):
    x, g = i["x"], i["grad_output"]
    s = torch.sigmoid(x)
    grad_hints = [
        Mistake(s * (1 - s), "backward returns the local derivative only: multiply "
                "y * (1 - y) by grad_output (chain rule)"),
        Mistake(g * x * (1 - x), "backward uses the input x in y * (1 - y): the formula "
                "needs the OUTPUT y = sigmoid(x)"),
        Mistake(g * s, "backward multiplies grad_output by y only: the derivative is "
                "y * (1 - y)"),
        Mistake(g * (1 - s), "backward multiplies grad_output by (1 - y) only: the "
                "derivative is y * (1 - y)"),
    ]
    return {"y": [Mistake(torch.sigmoid(-x), "forward computes sigmoid(-x) = 1 - sigmoid(x): "
                          "sigmoid(x) = 1 / (1 + exp(-x)), with the minus sign in the exponent"),
                  Mistake(torch.exp(x), "forward computes exp(x) only: sigmoid(x) = "
                          "1 / (1 + exp(-x))")],
            "x after the call": [_inplace_hint(i, s)],
            "number of saved tensors": [
                Mistake(0.0, "nothing was saved with ctx.save_for_backward: save the output "
                        "y (and store tensors only that way)"),
                Mistake(2.0, "two tensors were saved: the derivative y * (1 - y) needs the "
                        "output only, save just y")],
            "saved tensor": [Mistake(x, "MySigmoid saved its input x: save its OUTPUT y "
                                     "instead; backward needs only y * (1 - y), no exp again")],
            "grad_x": grad_hints, "grad_x from backward called directly": grad_hints}


MySigmoid = _unary_spec("MySigmoid", _sigmoid_oracle, _sigmoid_mistakes, SIGMOID_TOL, saved=True)


# LegendreP3
def legendre_p3(x):
    """P3(x) = (5 x^3 - 3 x) / 2, with built-in operations (autograd differentiates it)."""
    return 0.5 * (5 * x ** 3 - 3 * x)


def _p3_oracle(i):
    return _grads_everywhere(i, *_by_autograd(legendre_p3, i, dtype=torch.float64))


def _p3_mistakes(i):
    x, g = i["x"].double(), i["grad_output"].double()
    d = 1.5 * (5 * x ** 2 - 1)
    f = i["x"].dtype
    grad_hints = [
        Mistake((d).to(f), "backward returns P3'(x) only: multiply it by grad_output (chain rule)"),
        Mistake((2 * d * g).to(f), "backward is twice the expected: P3'(x) = (15 x^2 - 3) / 2, "
                "keep the 1/2"),
        Mistake((g * (7.5 * x ** 2 - 3)).to(f), "backward computes (15 x^2 - 6) / 2: the "
                "derivative of 3x/2 is 3/2, not 3"),
        Mistake((g * 0.5 * (5 * x ** 3 - 3 * x)).to(f), "backward multiplies grad_output by "
                "P3(x) itself: use the derivative P3'(x) = 1.5 (5 x^2 - 1)"),
    ]
    return {"y": [Mistake((5 * x ** 3 - 3 * x).to(f), "forward is twice P3: divide 5x^3 - 3x by 2"),
                  Mistake((0.5 * (5 * x ** 3 - 3)).to(f), "forward computes (5x^3 - 3) / 2: "
                          "the second term is 3x, not 3")],
            "x after the call": [_inplace_hint(i, legendre_p3(x).to(f))],
            "grad_x": grad_hints, "grad_x from backward called directly": grad_hints}


LegendreP3 = _unary_spec("LegendreP3", _p3_oracle, _p3_mistakes, P3_TOL)


# ------------------------------------------------------------------------- MyLinear
LINEAR_CASES = (
    Case("bias", 0, dict(N=5, D_in=7, D_out=3, bias=True)),
    Case("batch 1", 1, dict(N=1, D_in=4, D_out=6, bias=True)),
    Case("no bias", 2, dict(N=8, D_in=13, D_out=2, bias=False)),
    Case("float64", 3, dict(N=3, D_in=5, D_out=4, bias=True, dtype=torch.float64)),
)

LIN_GRADS = ("grad_input", "grad_weight", "grad_bias")
# backward called directly: run A needs (input: no, weight: yes, bias: yes if given);
# run B needs (input: yes, weight: no, bias: no).
SKIP_A = tuple(f"{g} from backward when needs_input_grad = (False, True, True)" for g in LIN_GRADS)
SKIP_B = tuple(f"{g} from backward when needs_input_grad = (True, False, False)" for g in LIN_GRADS)


def _linear_inputs(rand, N, D_in, D_out, bias, dtype=torch.float32):
    return {"x": rand.randn(N, D_in, dtype=dtype), "weight": rand.randn(D_out, D_in, dtype=dtype),
            "bias": rand.randn(D_out, dtype=dtype) if bias else None,
            "grad_output": rand.randn(N, D_out, dtype=dtype)}


def _linear_args(i):
    return (i["x"], i["weight"]) + ((i["bias"],) if i["bias"] is not None else ())


def _linear_oracle(i):
    leaves = [a.detach().clone().requires_grad_() for a in _linear_args(i)]
    y = F.linear(*leaves)
    grads = torch.autograd.grad(y, leaves, i["grad_output"])
    gi, gw = grads[0], grads[1]
    gb = grads[2] if len(grads) == 3 else None
    out = {"y": y.detach(), "grad_input": gi, "grad_weight": gw, "grad_bias": gb}
    # the gradients nobody needs must be None: _skip_property checks those, with a message
    # that names ctx.needs_input_grad
    out[SKIP_A[1]], out[SKIP_B[0]] = gw, gi
    if gb is not None:
        out[SKIP_A[2]] = gb
    return out


def _linear_mistakes(i):
    x, w, b, g = i["x"], i["weight"], i["bias"], i["grad_output"]
    gw_hints = [Mistake(g.T @ x / x.shape[0], "grad_weight is divided by the batch size: sum "
                        "over the batch, grad_output.T @ input")]
    gb_hints = ([Mistake(g.mean(0), "grad_bias is the mean over the batch: take the sum, "
                         "grad_output.sum(0)")] if b is not None else [])
    y_hints = [Mistake(x @ w.T, "the bias is missing from forward: add it when it is given")] \
        if b is not None else []
    return {"y": y_hints, "grad_weight": gw_hints, "grad_bias": gb_hints,
            SKIP_A[1]: gw_hints, SKIP_A[2]: gb_hints}


def _skip_property(inp, out, case):
    """Gradients nobody asked for are None (and so is the bias's when there is no bias)."""
    n = 3 if inp["bias"] is not None else 2
    for names, needs in ((SKIP_A, (False, True, True)), (SKIP_B, (True, False, False))):
        for k, (name, grad) in enumerate(zip(LIN_GRADS, names)):
            if (k >= n or not needs[k]) and out.get(grad, 0.0) is not None:
                why = (f"ctx.needs_input_grad = {needs[:n]} says nobody needs it" if k < n
                       else "forward was called without a bias")
                raise CheckFailure(
                    f"MyLinear.backward returned a gradient for the {name[5:]} (case "
                    f"'{case.label}')\nHint: it computed the {name[5:]}'s gradient although "
                    f"{why}: compute each gradient only under `if ctx.needs_input_grad[k]:` and "
                    "return None for the others")


MyLinear = Spec(
    name="ch04.MyLinear",
    inputs=_linear_inputs,
    outputs=("y",) + LIN_GRADS + SKIP_A + SKIP_B + ("gradcheck", "autograd call line",
                                                    "number of saved tensors"),
    oracle=_linear_oracle,
    tol=LINEAR_TOL,
    cases=LINEAR_CASES,
    mistakes=_linear_mistakes,
    properties=(Property("None for what is not needed", _skip_property,
                         "inputs that do not need a gradient get None (ctx.needs_input_grad)"),
                _gradcheck_property("MyLinear"), _no_autograd_property("MyLinear"),
                _saved_property("MyLinear")),
    error_hints=DEVICE_HINTS + (
        ("tuple index out of range", "ctx.needs_input_grad has one flag per input forward "
         "received: without a bias there are only 2, so test `bias is not None` before reading "
         "ctx.needs_input_grad[2]"),
        ("invalid gradient at index", "backward returned a gradient of the wrong shape: each "
         "gradient has its input's shape (grad_weight: (D_out, D_in) = grad_output.T @ x; "
         "grad_input: (N, D_in) = grad_output @ weight)")),
    sweep_salts=60,
)


# ------------------------------------------------------------------------- training
SIZES = {   # small first: a failure is reported on the case that is easiest to read
    "small": dict(N=5, D_in=7, H=4, D_out=3, steps=15),
    "one step": dict(N=3, D_in=2, H=6, D_out=1, steps=1),
    "wide": dict(N=32, D_in=64, H=32, D_out=8, steps=12),
}
TRAIN_CASES = tuple(Case(label, 10 + k, p) for k, (label, p) in enumerate(SIZES.items()))
# The learning rate is set from the drawn data: 0.25 / (|x|^2 (|w1|^2 + |w2|^2) / H) stays
# below the curvature of the loss, so gradient descent lowers the loss at every step for
# every draw (measured on 2000 consecutive seeds per case: no step rises, and the smallest
# relative drop of a step is 9e-4, far above float32 rounding). A fixed lr = 1e-2 let the
# reference's loss rise on ~11% of the draws of the "small" case.
LR_SCALE = 0.25


def _train_inputs(rand, N, D_in, H, D_out, steps):
    x, y = rand.randn(N, D_in), rand.randn(N, D_out)
    w1, w2 = rand.randn(D_in, H), rand.randn(H, D_out)
    curvature = float(x.norm()) ** 2 * (float(w1.norm()) ** 2 + float(w2.norm()) ** 2) / H
    lr = float(f"{LR_SCALE / curvature:.3g}")
    return {"x": x, "y": y, "w1": w1.requires_grad_(), "w2": w2.requires_grad_(),
            "lr": lr, "steps": steps}


def reference_train(x, y, w1, w2, lr, steps, *, mean=False, zero_grad=True, dtype=torch.float64):
    """Gradient descent on the sum of squared errors with torch.relu and autograd."""
    x, y = x.to(dtype), y.to(dtype)
    w1 = w1.detach().to(dtype).clone().requires_grad_()   # a copy: the inputs stay as given
    w2 = w2.detach().to(dtype).clone().requires_grad_()
    losses = []
    for _ in range(steps):
        err = torch.relu(x @ w1) @ w2 - y
        loss = (err ** 2).mean() if mean else (err ** 2).sum()
        losses.append(float(loss.detach()))
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            if zero_grad:
                w1.grad.zero_()
                w2.grad.zero_()
    return w1.detach(), w2.detach(), tuple(losses)


TRAIN_OUTPUTS = ("losses", "w1", "w2", "MyReLU forward calls", "MyReLU backward calls")


def _train_oracle(i):
    w1, w2, losses = reference_train(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    f = i["x"].dtype
    # the calls are judged by the "uses MyReLU" property, with its own message
    return {"losses": losses, "w1": w1.to(f), "w2": w2.to(f)}


def _train_mistakes(i):
    args = (i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    # in the learner's dtype: without zeroing, the steps grow and float64 would drift apart
    acc = reference_train(*args, zero_grad=False, dtype=i["x"].dtype)
    hint_acc = ("the gradients accumulate from step to step: zero w1.grad and w2.grad after "
                "each update (w.grad.zero_() or w.grad = None), or use the given `descend`")
    out = {"losses": [], "w1": [], "w2": []}
    if i["steps"] > 1:
        out["losses"].append(Mistake(acc[2], hint_acc))
        out["w1"].append(Mistake(acc[0], hint_acc))
    late = reference_train(*args[:-1], i["steps"] + 1)[2][1:]
    out["losses"].append(Mistake(late, "each loss is recorded one step late: record the loss "
                                 "of the current weights BEFORE updating them"))
    up = reference_train(*args[:4], -i["lr"], i["steps"])
    hint_up = "the weights move uphill: subtract lr * grad (descent), do not add it"
    out["losses"].append(Mistake(up[2], hint_up))
    out["w1"].append(Mistake(up[0].to(i["x"].dtype), hint_up))
    mean = reference_train(*args, mean=True)
    out["losses"].append(Mistake(mean[2], "this is the mean of the squared errors: the loss "
                                 "is their sum, (y_pred - y).pow(2).sum()"))
    out["w1"].append(Mistake(mean[0].to(i["x"].dtype), "the weights follow the mean squared error: the "
                             "loss is the sum, (y_pred - y).pow(2).sum()"))
    return out


def _uses_myrelu(inp, out, case):
    steps = inp["steps"]
    fwd, bwd = out.get("MyReLU forward calls"), out.get("MyReLU backward calls")
    if type(fwd) is not float or type(bwd) is not float:
        raise CheckFailure("train_with_myrelu: the grader could not count the calls of MyReLU\n"
                           "Hint: define MyReLU and train_with_myrelu in notebook cells and run them")
    if fwd < steps or bwd < steps:
        raise CheckFailure(
            f"train_with_myrelu: in {steps} steps MyReLU's forward ran {int(fwd)} times and its "
            f"backward {int(bwd)} times (case '{case.label}')\nHint: MyReLU.apply was called "
            f"{int(fwd)} times: compute the hidden layer of every step with MyReLU.apply(x @ w1) "
            "(directly, through a helper or an alias), not torch.relu or clamp, and get the "
            "gradients with loss.backward(): this exercise trains with your Function")


def _loss_falls(inp, out, case):
    losses = out.get("losses")
    if type(losses) is tuple and all(type(v) is float for v in losses):
        for t in range(1, len(losses)):
            if not losses[t] < losses[t - 1]:
                raise CheckFailure(
                    f"train_with_myrelu: the loss must fall at every step for this small "
                    f"learning rate (case '{case.label}', lr={inp['lr']:g}), but losses[{t}] = "
                    f"{losses[t]:.6g} >= losses[{t - 1}] = {losses[t - 1]:.6g}\nHint: subtract "
                    "lr * w.grad, and zero the gradients after each update")


train_with_myrelu = Spec(
    name="ch04.train_with_myrelu",
    inputs=_train_inputs,
    outputs=TRAIN_OUTPUTS,
    oracle=_train_oracle,
    tol=TRAIN_TOL,
    cases=TRAIN_CASES,
    mistakes=_train_mistakes,
    # the weights are trained in place (or replaced by new ones: both are allowed)
    may_modify=("w1", "w2"),
    changed_hint="the exercise trains w1 and w2 only: leave x and y as they were given",
    # grade the training alone: the learner's MyReLU is replaced by PyTorch's relu (counted)
    isolate=("MyReLU",),
    properties=(Property("uses MyReLU", _uses_myrelu, "the exercise trains with MyReLU.apply"),
                Property("loss falls", _loss_falls, "small learning rate: every step lowers the loss")),
    sweep_salts=16,
)

SPECS = register(MyReLU, MySigmoid, LegendreP3, MyLinear, train_with_myrelu)

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

import ast
import functools
import inspect
import textwrap
import warnings
from typing import Any

import torch
import torch.nn.functional as F

from ..compare import EXACT, CheckFailure, Mistake, Tol
from ..gradients import GradcheckError
from ..spec import Case, Property, Spec, _with_globals
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
# Float32 training against a float64 oracle: per-step rounding (sums of 1000 terms) grows
# slowly over 20 steps of gradient descent; genuine mistakes are off by far more.
TRAIN_TOL = Tol(5e-4, 1e-5, "float32 training vs float64 oracle over <= 20 steps (measured 3e-5)")

# What backward must not call: it *is* the derivative, autograd does not run inside it.
AUTOGRAD_CALLS = frozenset({
    "grad", "backward", "enable_grad", "set_grad_enabled", "requires_grad_", "vjp", "jvp",
    "jacobian", "hessian", "jacrev", "jacfwd", "vmap", "functional_call"})


# ------------------------------------------------------------------------- helpers
class FakeCtx:
    """A stand-in for autograd's ctx: stores what forward saves, says which inputs need a
    gradient, and accepts any attribute, so forward and backward can be called directly
    like plain functions (as autograd itself does, with no graph to differentiate)."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = tuple(needs_input_grad)
        self._saved: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self._saved = tuple(tensors)

    @property
    def saved_tensors(self) -> tuple:
        return self._saved

    def mark_non_differentiable(self, *args):
        pass

    def mark_dirty(self, *args):
        pass

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value

    def save_for_forward(self, *tensors):
        pass


def autograd_call_line(cls: Any) -> float:
    """The line (1 = first line of `backward`'s source) of the first call to autograd in
    `cls.backward`, or 0.0 if there is none (-1.0 if the source cannot be read)."""
    fn = getattr(cls, "backward", None)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return -1.0
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in AUTOGRAD_CALLS:
                lines.append(node.lineno)
    return float(min(lines)) if lines else 0.0


def gradcheck_code(fn, *inputs: torch.Tensor) -> float:
    """torch.autograd.gradcheck in float64 as a plain number: 0 passes, 1 the analytic and
    numerical Jacobians disagree, 2 backward (or forward) raised an error."""
    doubles = tuple(x.detach().double().requires_grad_() for x in inputs)
    try:
        torch.autograd.gradcheck(fn, doubles, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True)
    except GradcheckError:
        return 1.0
    except Exception:  # noqa: BLE001 - the learner's Function raised
        return 2.0
    return 0.0


def quiet(fn):
    """`fn` with warnings silenced while it runs. nbgrader scores a test cell with any
    stderr output as failed, so a harmless warning from correct learner code (e.g. float()
    of a tensor that requires grad) would otherwise cost the exercise its points."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return run


def _first(result: Any) -> Any:
    """backward of a one-input Function may return the gradient or a 1-tuple."""
    return result[0] if isinstance(result, (tuple, list)) and len(result) >= 1 else result


def _slots(result: Any, n: int) -> tuple:
    items = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    return items + (None,) * (n - len(items))


def _direct_backward(cls, name: str, needs: tuple[bool, ...], *args, grad_output):
    """forward then backward called directly with a FakeCtx under torch.no_grad()."""
    ctx = FakeCtx(needs)
    try:
        with torch.no_grad():
            cls.forward(ctx, *(a.detach() if isinstance(a, torch.Tensor) else a for a in args))
            return cls.backward(ctx, grad_output.detach())
    except Exception as err:
        raise RuntimeError(
            f"{name}.backward failed when autograd's way of calling it was replayed: forward "
            f"then backward with only the saved tensors, under torch.no_grad(). backward must "
            f"compute the gradient from ctx.saved_tensors with tensor operations. "
            f"The error: {type(err).__name__}: {err}") from None


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
            "Hint: derive the local derivative again, multiply it by grad_output, and return "
            "one gradient (or None) per input of forward")
    return Property("gradcheck", check, "torch.autograd.gradcheck in float64 passes")


def _no_autograd_property(name: str):
    def check(inp, out, case):
        line = out.get("autograd call line")
        if line == 0.0:
            return
        if line == -1.0 or type(line) is not float:
            raise CheckFailure(f"{name}: the source of {name}.backward could not be read: "
                               "define the class in a notebook cell and run that cell")
        raise CheckFailure(
            f"{name}.backward calls autograd itself (line {int(line)} of backward: one of "
            f"{', '.join(sorted(AUTOGRAD_CALLS))})\nHint: backward IS the derivative: "
            "compute grad_input from ctx.saved_tensors and grad_output with plain tensor "
            "operations (autograd does not record what happens inside backward)")
    return Property("no autograd in backward", check,
                    "backward is a primitive: it computes the gradient with tensor operations")


# ------------------------------------------------------------------------- unary Functions
UNARY_CASES = (
    Case("matrix", 0, dict(shape=(5, 7))),
    Case("single", 1, dict(shape=(1,))),
    Case("3-d", 2, dict(shape=(2, 3, 4))),
)


def _unary_inputs(rand, shape, scale=2.0, margin=0.05):
    x = rand.randn(*shape, scale=scale)
    # keep away from 0, where ReLU has a kink that finite differences cannot measure
    x = torch.where(x.abs() < margin, torch.full_like(x, margin) * torch.where(x < 0, -1.0, 1.0), x)
    return {"x": x, "grad_output": rand.randn(*shape)}


def _unary_call(name: str, saved: bool = False):
    @quiet
    def call(cls, i):
        x = i["x"].detach().clone().requires_grad_()
        y = cls.apply(x)
        if saved:   # read before backward frees them
            tensors = tuple(y.grad_fn.saved_tensors) if y.grad_fn is not None else ()
        y.backward(i["grad_output"])
        out = [y, x.grad]
        if saved:
            out += [float(len(tensors)), tensors[0] if tensors else None]
        direct = _first(_direct_backward(cls, name, (True,), i["x"], grad_output=i["grad_output"]))
        return tuple(out) + (direct, gradcheck_code(cls.apply, i["x"]), autograd_call_line(cls))
    return call


UNARY_OUTPUTS = ("y", "grad_x", "grad_x from backward called directly",
                 "gradcheck", "autograd call line")


def _unary_spec(name, oracle, mistakes, tol, saved=False, cases=UNARY_CASES):
    outputs = UNARY_OUTPUTS if not saved else (
        UNARY_OUTPUTS[:2] + ("number of saved tensors", "saved tensor") + UNARY_OUTPUTS[2:])
    if saved:   # a count is exact
        tol = {o: EXACT if o == "number of saved tensors" else tol for o in outputs}
    return Spec(
        name=f"ch04.{name}",
        inputs=_unary_inputs,
        call=_unary_call(name, saved),
        outputs=outputs,
        oracle=oracle,
        tol=tol,
        cases=cases,
        mistakes=mistakes,
        properties=(_gradcheck_property(name), _no_autograd_property(name)),
    )


def _by_autograd(f, i, dtype=None):
    """f(x) and its vector-Jacobian product with grad_output, by PyTorch's autograd
    (in `dtype` if given, then rounded back to the input's dtype)."""
    x0, g0 = i["x"], i["grad_output"]
    x = x0.detach().to(dtype or x0.dtype).requires_grad_()
    y = f(x)
    (gx,) = torch.autograd.grad(y, x, g0.to(x.dtype))
    return y.detach().to(x0.dtype), gx.to(x0.dtype)


def _grads_everywhere(y, gx):
    return {"y": y, "grad_x": gx, "grad_x from backward called directly": gx}


# MyReLU
def _relu_oracle(i):
    return _grads_everywhere(*_by_autograd(torch.relu, i))


def _relu_mistakes(i):
    x, g = i["x"], i["grad_output"]
    mask = (x > 0).to(x.dtype)
    grad_hints = [
        Mistake(g, "backward passes grad_output through unchanged: zero it where the input "
                "was negative (multiply by the mask x > 0)"),
        Mistake(mask, "backward returns the local derivative only (the mask): multiply it by "
                "grad_output (chain rule)"),
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
            "grad_x": grad_hints, "grad_x from backward called directly": grad_hints}


MyReLU = _unary_spec("MyReLU", _relu_oracle, _relu_mistakes, RELU_TOL)


# MySigmoid
def _sigmoid_oracle(i):
    y, gx = _by_autograd(torch.sigmoid, i)
    return {"y": y, "grad_x": gx, "number of saved tensors": 1.0, "saved tensor": y,
            "grad_x from backward called directly": gx}


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
    return _grads_everywhere(*_by_autograd(legendre_p3, i, dtype=torch.float64))


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
            "grad_x": grad_hints, "grad_x from backward called directly": grad_hints}


LegendreP3 = _unary_spec("LegendreP3", _p3_oracle, _p3_mistakes, P3_TOL)


# ------------------------------------------------------------------------- MyLinear
LINEAR_CASES = (
    Case("bias", 0, dict(N=5, D_in=7, D_out=3, bias=True)),
    Case("batch 1", 1, dict(N=1, D_in=4, D_out=6, bias=True)),
    Case("no bias", 2, dict(N=8, D_in=13, D_out=2, bias=False)),
)

LIN_GRADS = ("grad_input", "grad_weight", "grad_bias")
# backward called directly: run A needs (input: no, weight: yes, bias: yes if given);
# run B needs (input: yes, weight: no, bias: no).
SKIP_A = tuple(f"{g} from backward when needs_input_grad = (False, True, True)" for g in LIN_GRADS)
SKIP_B = tuple(f"{g} from backward when needs_input_grad = (True, False, False)" for g in LIN_GRADS)


def _linear_inputs(rand, N, D_in, D_out, bias):
    return {"x": rand.randn(N, D_in), "weight": rand.randn(D_out, D_in),
            "bias": rand.randn(D_out) if bias else None, "grad_output": rand.randn(N, D_out)}


def _linear_args(i):
    return (i["x"], i["weight"]) + ((i["bias"],) if i["bias"] is not None else ())


@quiet
def _linear_call(cls, i):
    leaves = [a.detach().clone().requires_grad_() for a in _linear_args(i)]
    y = cls.apply(*leaves)
    y.backward(i["grad_output"])
    grads = tuple(t.grad for t in leaves) + (None,) * (3 - len(leaves))
    has_bias = i["bias"] is not None
    n = 3 if has_bias else 2
    a = _slots(_direct_backward(cls, "MyLinear", (False, True, True)[:n], *_linear_args(i),
                                grad_output=i["grad_output"]), 3)
    b = _slots(_direct_backward(cls, "MyLinear", (True, False, False)[:n], *_linear_args(i),
                                grad_output=i["grad_output"]), 3)
    check = gradcheck_code(lambda *t: cls.apply(*t), *leaves)
    return (y,) + grads + a + b + (check, autograd_call_line(cls))


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
                    f"MyLinear.backward returned a gradient for the {name[5:]} although {why} "
                    f"(case '{case.label}')\nHint: compute each gradient only under "
                    "`if ctx.needs_input_grad[k]:` and return None for the others")


MyLinear = Spec(
    name="ch04.MyLinear",
    inputs=_linear_inputs,
    call=_linear_call,
    outputs=("y",) + LIN_GRADS + SKIP_A + SKIP_B + ("gradcheck", "autograd call line"),
    oracle=_linear_oracle,
    tol=LINEAR_TOL,
    cases=LINEAR_CASES,
    mistakes=_linear_mistakes,
    properties=(Property("None for what is not needed", _skip_property,
                         "inputs that do not need a gradient get None (ctx.needs_input_grad)"),
                _gradcheck_property("MyLinear"), _no_autograd_property("MyLinear")),
)


# ------------------------------------------------------------------------- training
class CountingReLU:
    """Stands in for the learner's MyReLU while their training loop is graded: PyTorch's
    own relu, counting how often `.apply` is called."""

    def __init__(self):
        self.calls = 0

    def apply(self, x):
        self.calls += 1
        return torch.relu(x)


def with_torch_relu(fn):
    """`fn` (a training function) with PyTorch's relu standing in for the global MyReLU:
    used by the visible test, so a mistake in MyReLU is not counted twice."""
    return quiet(_with_globals(fn, {"MyReLU": CountingReLU()}))


SIZES = {   # small first: a failure is reported on the case that is easiest to read
    "small": dict(N=5, D_in=7, H=4, D_out=3, lr=1e-2, steps=15),
    "one step": dict(N=3, D_in=2, H=6, D_out=1, lr=1e-2, steps=1),
    "wide": dict(N=64, D_in=200, H=50, D_out=10, lr=1e-6, steps=20),
}
TRAIN_CASES = tuple(Case(label, 10 + k, p) for k, (label, p) in enumerate(SIZES.items()))


def _train_inputs(rand, N, D_in, H, D_out, lr, steps):
    return {"x": rand.randn(N, D_in), "y": rand.randn(N, D_out),
            "w1": rand.randn(D_in, H, requires_grad=True),
            "w2": rand.randn(H, D_out, requires_grad=True), "lr": lr, "steps": steps}


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


@quiet
def _train_call(fn, i):
    w1, w2, losses = fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    relu = getattr(fn, "__globals__", {}).get("MyReLU")
    calls = float(relu.calls) if isinstance(relu, CountingReLU) else -1.0
    return losses, w1, w2, calls


def _train_oracle(i):
    w1, w2, losses = reference_train(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    f = i["x"].dtype
    return {"losses": losses, "w1": w1.to(f), "w2": w2.to(f)}


def _train_mistakes(i):
    args = (i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    # in the learner's dtype: without zeroing, the steps grow and float64 would drift apart
    acc = reference_train(*args, zero_grad=False, dtype=i["x"].dtype)
    hint_acc = ("the gradients accumulate from step to step: zero w1.grad and w2.grad after "
                "each update (w.grad.zero_() or w.grad = None)")
    out = {"losses": [], "w1": [], "w2": []}
    if i["steps"] > 1:
        out["losses"].append(Mistake(acc[2], hint_acc))
        out["w1"].append(Mistake(acc[0], hint_acc))
    late = reference_train(*args[:-1], i["steps"] + 1)[2][1:]
    out["losses"].append(Mistake(late, "each loss is recorded one step late: record the loss "
                                 "of the current weights BEFORE updating them"))
    mean = reference_train(*args, mean=True)
    out["losses"].append(Mistake(mean[2], "this is the mean of the squared errors: the loss "
                                 "is their sum, (y_pred - y).pow(2).sum()"))
    out["w1"].append(Mistake(mean[0].to(i["x"].dtype), "the weights follow the mean squared error: the "
                             "loss is the sum, (y_pred - y).pow(2).sum()"))
    return out


def _uses_myrelu(inp, out, case):
    calls = out.get("MyReLU.apply calls")
    if calls is None or calls < inp["steps"]:
        raise CheckFailure(
            f"train_with_myrelu: MyReLU.apply was called {int(calls or 0)} times in "
            f"{inp['steps']} steps (case '{case.label}')\nHint: compute the hidden layer with "
            "MyReLU.apply(x @ w1), not torch.relu / clamp: this exercise trains with your Function")


def _loss_falls(inp, out, case):
    losses = out.get("losses")
    if type(losses) is tuple and all(type(v) is float for v in losses):
        for t in range(1, len(losses)):
            if not losses[t] < losses[t - 1]:
                raise CheckFailure(
                    f"train_with_myrelu: the loss must fall at every step for a small learning "
                    f"rate (case '{case.label}'), but losses[{t}] = {losses[t]:.6g} >= "
                    f"losses[{t - 1}] = {losses[t - 1]:.6g}\nHint: subtract lr * w.grad, "
                    "and zero the gradients after each update")


train_with_myrelu = Spec(
    name="ch04.train_with_myrelu",
    inputs=_train_inputs,
    call=_train_call,
    outputs=("losses", "w1", "w2", "MyReLU.apply calls"),
    oracle=_train_oracle,
    tol=TRAIN_TOL,
    cases=TRAIN_CASES,
    mistakes=_train_mistakes,
    # grade the loop alone: the learner's MyReLU is replaced by PyTorch's relu (counted)
    isolate=lambda: {"MyReLU": CountingReLU()},
    properties=(Property("uses MyReLU", _uses_myrelu, "the exercise trains with MyReLU.apply"),
                Property("loss falls", _loss_falls, "small learning rate: every step lowers the loss")),
)

SPECS = register(MyReLU, MySigmoid, LegendreP3, MyLinear, train_with_myrelu)

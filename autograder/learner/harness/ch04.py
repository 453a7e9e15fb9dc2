"""Chapter 04: custom autograd Functions, called the way autograd calls them.

Each harness runs the learner's Function three ways and reports what it saw as plain
values: through `.apply` and `backward()` (while tensors created without `device=` land on
the `meta` device, so a device mistake shows without a GPU), by calling `forward` and
`backward` directly with a stand-in ctx under `torch.no_grad()` (as autograd does: there is
no graph inside a Function to lean on), and through `torch.autograd.gradcheck` in float64.
It also reads where `backward`'s source calls autograd, and whether forward changed its
input in place. Nothing here computes an answer: every verdict is the grader's.

`train_with_myrelu` is graded with the grader's stand-in for MyReLU (its forward and
backward count their calls): the stand-in replaces the global name while the learner's
function runs, and is also patched into the learner's own MyReLU class for that time, so
an alias bound earlier (`my_relu = MyReLU.apply`) or a helper reaches it too.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import textwrap
from typing import Any

import torch

from ..probes import default_device
from . import calls

CALLS, harness = calls()

# torch.autograd.gradcheck is shadowed by the function of that name; import the error class.
GradcheckError = importlib.import_module("torch.autograd.gradcheck").GradcheckError

# What backward must not call: it *is* the derivative, autograd does not run inside it.
AUTOGRAD_CALLS = frozenset({
    "grad", "backward", "enable_grad", "set_grad_enabled", "requires_grad_", "vjp", "jvp",
    "jacobian", "hessian", "jacrev", "jacfwd", "vmap", "functional_call"})


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
        torch.autograd.gradcheck(fn, doubles, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                                 fast_mode=True)
    except GradcheckError:
        return 1.0
    except Exception:  # noqa: BLE001 - the learner's Function raised
        return 2.0
    return 0.0


def _first(result: Any) -> Any:
    """backward of a one-input Function may return the gradient or a 1-tuple."""
    return result[0] if isinstance(result, (tuple, list)) and len(result) >= 1 else result


def _slots(result: Any, n: int) -> tuple:
    items = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    return items + (None,) * (n - len(items))


def _direct_backward(cls, name: str, needs: tuple[bool, ...], *args, grad_output):
    """forward then backward called directly with a FakeCtx under torch.no_grad(), on
    copies of the inputs."""
    ctx = FakeCtx(needs)
    try:
        with torch.no_grad(), default_device("meta"):
            cls.forward(ctx, *(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args))
            return cls.backward(ctx, grad_output.detach().clone())
    except Exception as err:
        raise RuntimeError(
            f"{name}.backward failed when autograd's way of calling it was replayed: forward "
            f"then backward with only the saved tensors, under torch.no_grad(). backward must "
            f"compute the gradient from ctx.saved_tensors with tensor operations. "
            f"The error: {type(err).__name__}: {err}") from None


# ------------------------------------------------------------------------- unary Functions
def _saved(y) -> tuple:
    """The tensors forward saved with ctx.save_for_backward (read before backward frees them)."""
    try:
        return tuple(y.grad_fn.saved_tensors) if y.grad_fn is not None else ()
    except Exception:  # noqa: BLE001
        return ()


def _unary(name: str, saved: bool = False):
    def call(cls, i):
        x = i["x"].detach().clone().requires_grad_()
        with default_device("meta"):
            y = cls.apply(x)
            tensors = _saved(y)
            y.backward(i["grad_output"])
        out = [y, x.grad, x.detach(), float(len(tensors))]
        if saved:
            out += [tensors[0] if tensors else None]
        direct = _first(_direct_backward(cls, name, (True,), i["x"], grad_output=i["grad_output"]))
        return tuple(out) + (direct, gradcheck_code(cls.apply, i["x_smooth"]), autograd_call_line(cls))
    return call


for _name, _keeps in (("MyReLU", False), ("MySigmoid", True), ("LegendreP3", False)):
    harness(_name)(_unary(_name, _keeps))


# ------------------------------------------------------------------------- MyLinear
def _linear_args(i):
    return (i["x"], i["weight"]) + ((i["bias"],) if i["bias"] is not None else ())


@harness("MyLinear")
def my_linear(cls, i):
    leaves = [a.detach().clone().requires_grad_() for a in _linear_args(i)]
    with default_device("meta"):
        y = cls.apply(*leaves)
        n_saved = float(len(_saved(y)))
        y.backward(i["grad_output"])
    grads = tuple(t.grad for t in leaves) + (None,) * (3 - len(leaves))
    n = len(leaves)
    a = _slots(_direct_backward(cls, "MyLinear", (False, True, True)[:n], *_linear_args(i),
                                grad_output=i["grad_output"]), 3)
    b = _slots(_direct_backward(cls, "MyLinear", (True, False, False)[:n], *_linear_args(i),
                                grad_output=i["grad_output"]), 3)
    check = gradcheck_code(lambda *t: cls.apply(*t), *_linear_args(i))
    return (y,) + grads + a + b + (check, autograd_call_line(cls), n_saved)


# ------------------------------------------------------------------------- training
_PATCHED = ("forward", "backward", "setup_context", "vjp", "jvp")


def _learner_classes(name: str, namespace_owner: Any, stand_in: Any) -> list[type]:
    """Every autograd Function class called `name` defined where `namespace_owner` was
    (a notebook's namespace), including earlier versions still bound to aliases."""
    module = getattr(namespace_owner, "__module__", None)
    found, todo = [], list(torch.autograd.Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__name__ == name and cls.__module__ == module and cls is not stand_in:
            found.append(cls)
    return found


@contextlib.contextmanager
def _patched(classes: list[type], stand_in: Any):
    """While the block runs, each class's forward and backward are the stand-in's."""
    saved = [(cls, {k: cls.__dict__[k] for k in _PATCHED if k in cls.__dict__}) for cls in classes]
    try:
        for cls, own in saved:
            for k in own:
                delattr(cls, k)
            cls.forward = stand_in.__dict__["forward"]
            cls.backward = stand_in.__dict__["backward"]
        yield
    finally:
        for cls, own in saved:
            for k in _PATCHED:
                if k in cls.__dict__:
                    delattr(cls, k)
            for k, v in own.items():
                setattr(cls, k, v)


@harness("train_with_myrelu")
def train_with_myrelu(fn, i):
    stand_in = getattr(fn, "__globals__", {}).get("MyReLU")
    counts = getattr(stand_in, "calls", None)
    if isinstance(counts, dict) and isinstance(stand_in, type):
        counts.update(forward=0, backward=0)
        patch = _patched(_learner_classes("MyReLU", fn, stand_in), stand_in)
    else:                       # no stand-in installed: nothing can be counted
        counts, patch = {"forward": -1, "backward": -1}, contextlib.nullcontext()
    with patch:
        result = fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    if type(result) is not tuple or len(result) != 3:
        raise TypeError("train_with_myrelu must return the tuple (w1, w2, losses)")
    w1, w2, losses = result
    return losses, w1, w2, float(counts["forward"]), float(counts["backward"])

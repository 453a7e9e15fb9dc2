"""Chapter 07: custom and dynamic modules, convolution and pooling by hand, LeNet.

How a module exercise is checked. The learner-side harness (autograder/learner/harness/
ch07.py) builds the learner's class under a fixed seed, moves it with `.to(device)`,
nudges every parameter the exercise names by seeded noise, runs it, backpropagates a
seeded cotangent and returns plain tensors: the outputs, the parameters registered under
the names the statement fixes, their `.grad`, and how many parameters are registered.
Here, on the grader side, the oracle first checks the registration (names, shapes, count,
device), then recomputes the expected output from those captured weights with
`torch.nn.functional` ops in float64; a property compares every gradient with
torch.autograd's on the same functional reference. `corr2d` and `pool2d` are compared,
values and gradients, with `F.conv2d`, `F.max_pool2d` and `F.avg_pool2d`, and must not
issue any convolution, pooling or window-extraction operation themselves (nor may
`Conv2D`). Every exercise has a case on the `meta` device: a tensor created without
`device=` then meets the input on another device, as on a GPU, on any machine.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..compare import CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec
from ..static import ForbiddenCalls
from . import register

# The learner computes in float32; the oracle in float64 from the same weights, then rounds
# to float32. Sums here have at most a few dozen terms.
F32 = Tol(1e-4, 1e-5, "float32 (learner) vs float64 rounded to float32 (oracle); sums of <= 40 terms")
# Gradients pass through more float32 products than outputs do.
F32_GRAD = Tol(1e-3, 1e-5, "float32 backward through several layers vs a float64 oracle")
# The learner's own modules, run twice on the same input: the same float32 operations.
SAME_RUN = Tol(1e-5, 1e-6, "the same float32 operations run twice (a GPU may pick another kernel)")

META = "meta"
META_HINT = ("in this case the inputs are on the `meta` device (it stands in for a GPU: tensors "
             "with a shape and a dtype but no values), and your code mixed them with a tensor "
             "on the CPU: create new tensors on the input's device (torch.zeros(..., "
             "device=X.device, dtype=X.dtype), X.new_zeros(...), torch.zeros_like(...)), and "
             "keep layers and weights registered so that .to(device) moves them")
IN_PLACE_HINT = ("do not change the tensors you are given in place (x -= ..., x.add_(...), "
                 "x[...] = ...): compute a new tensor")
ERROR_HINTS = (("meta", META_HINT), ("in-place operation", IN_PLACE_HINT),
               ("leaf Variable", IN_PLACE_HINT))

REGISTER_HINT = ("a module only knows the nn.Parameter / nn.Module objects assigned to its "
                 "attributes (or kept in nn.ParameterList, nn.ParameterDict, nn.ModuleList); a "
                 "plain Python list or dict, or a plain tensor, hides them: they are neither "
                 "listed by parameters() nor moved by .to(device) nor trained. Use the attribute "
                 "names the exercise gives.")


def _place(rand, meta: bool) -> str:
    return META if meta else rand.device


def _tensor(t: torch.Tensor, device: str, requires_grad: bool = False) -> torch.Tensor:
    """A drawn tensor on the case's device, a leaf (requiring grad if asked)."""
    return t.to(device).detach().requires_grad_(requires_grad)


def _context(inputs: dict) -> tuple[str, str]:
    """(device, 'inputs x (4, 5) float32, ...') for messages."""
    parts = [f"{k} {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}"
             for k, v in inputs.items() if isinstance(v, torch.Tensor)
             and k not in ("g", "scores") and not k.startswith("_")]
    parts += [f"{k}={v}" for k, v in inputs.items()
              if k in ("size", "mode", "depth", "sizes", "heads", "dim", "eps", "kernel_size")]
    return inputs["device"], "inputs " + ", ".join(parts)


def _where(inputs: dict, case=None) -> str:
    device, context = _context(inputs)
    label = f"case '{case.label}': " if case is not None else ""
    return f"(device {device}, {label}{context})"


def _compare(actual, expected, tol, what, inputs, case=None, mistakes=()) -> None:
    device, context = _context(inputs)
    if case is not None:
        context = f"case '{case.label}': {context}"
    compare(actual, expected, tol, Where(what, device, context, tuple(mistakes)))


# ============================================================== written by hand
FORBIDDEN_NAMES = frozenset(
    {f"{base}{d}" for d in ("1d", "2d", "3d") for base in (
        "conv", "conv_transpose", "max_pool", "avg_pool", "adaptive_max_pool",
        "adaptive_avg_pool", "lp_pool", "fractional_max_pool", "max_unpool")}
    | {f"{base}{d}" for d in ("1d", "2d", "3d") for base in (
        "Conv", "ConvTranspose", "MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool",
        "LPPool", "FractionalMaxPool", "MaxUnpool", "LazyConv", "LazyConvTranspose")}
    | {"convolution", "_convolution", "unfold", "Unfold", "fold", "Fold"})
FORBIDDEN_WHAT = ("PyTorch's convolution (F.conv2d and its relatives, nn.Conv2d)",
                  "PyTorch's pooling (F.max_pool2d, F.avg_pool2d, nn.MaxPool2d, ...)",
                  "PyTorch's window extraction (F.unfold, nn.Unfold, Tensor.unfold)")


def _by_hand(ex: str, what: str) -> tuple:
    """The static rule and the operation probe of a "write it yourself" exercise."""
    rule = ForbiddenCalls(FORBIDDEN_NAMES, f"{ex} is written by hand: {what}")

    def check(inputs, outputs, case):
        counts = outputs.get("forbidden")
        if type(counts) is not tuple or len(counts) != 3 or any(type(c) is not float for c in counts):
            raise CheckFailure(f"{ex}: the grader could not count the operations your code runs")
        used = [name for name, n in zip(FORBIDDEN_WHAT, counts) if n > 0]
        if used:
            raise CheckFailure(
                f"{ex}: your code runs {' and '.join(used)} {_where(inputs, case)}\nHint: {ex} is "
                f"written by hand: {what}; the checks watch the operations your code runs, also "
                "through helper functions and other names")

    return rule, Property("written by hand", check, "no convolution, pooling or window-extraction "
                          "operation is issued (counted by the harness, by ATen operation name)")


# ============================================================== grader side, modules
def _check_registration(ex: str, inputs: dict, outputs: dict, names: Sequence[str],
                        shapes: Sequence[tuple]) -> list[torch.Tensor]:
    """The module registered exactly the expected parameters; returns them."""
    device = inputs["device"]
    where = _where(inputs)
    count, ws = outputs.get("n_params"), outputs.get("weights")
    if type(count) is not float or type(ws) is not tuple or len(ws) != len(names):
        raise CheckFailure(f"{ex}: could not read the module's parameters {where}")
    for name, shape, w in zip(names, shapes, ws):
        if w is None:
            raise CheckFailure(f"{ex}: the module has no parameter named `{name}` {where}; it "
                               f"registers {int(count)} parameter(s) in all.\nHint: there is no "
                               f"parameter named `{name}`: {REGISTER_HINT}")
        if type(w) is not torch.Tensor:
            raise CheckFailure(f"{ex}: parameter `{name}` is not a tensor {where}")
        if tuple(w.shape) != tuple(shape):
            hint = ("it is the transpose of the expected shape: check the order of the sizes "
                    "the exercise gives" if tuple(w.shape) == tuple(shape)[::-1]
                    else "check the sizes the exercise asks for")
            raise CheckFailure(f"{ex}: parameter `{name}` has shape {tuple(w.shape)}, expected "
                               f"{tuple(shape)} {where}\nHint: {hint}")
        if w.dtype != torch.float32:
            raise CheckFailure(f"{ex}: parameter `{name}` has dtype {w.dtype}, expected "
                               f"torch.float32 {where}\nHint: create it with torch.randn / "
                               "torch.zeros without a dtype (float32 is the default)")
        if w.device.type != device:
            raise CheckFailure(f"{ex}: parameter `{name}` stayed on {w.device} after "
                               f"model.to('{device}') {where}\nHint: {REGISTER_HINT}")
    if int(count) != len(names):
        raise CheckFailure(f"{ex}: the module registers {int(count)} parameters, expected "
                           f"{len(names)} ({', '.join(names)}) {where}\nHint: no extra layers "
                           "or parameters; a layer used several times is registered once")
    return list(ws)


def _leaves(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Fresh float64 leaves made from captured weights: the functional reference's own."""
    return [w.detach().double().requires_grad_() for w in weights]


def _grads_of(ys, leaves, gs) -> list:
    ys = [ys] if isinstance(ys, torch.Tensor) else list(ys)
    gs = [gs] if isinstance(gs, torch.Tensor) else list(gs)
    total = sum((y * g.double()).sum() for y, g in zip(ys, gs))
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [None if g is None else g.to(torch.float32) for g in grads]


def _grad_property(ex: str, names: Callable[[dict], Sequence[str]], expected: Callable,
                   mistakes: Callable | None = None) -> Property:
    """Every named parameter's .grad equals torch.autograd's on the reference."""

    def check(inputs, outputs, case):
        names_ = names(inputs)
        grads = outputs.get("grads")
        if type(grads) is not tuple or len(grads) != len(names_):
            raise CheckFailure(f"{ex}: could not read the gradients of the parameters")
        exp = expected(inputs, list(outputs["weights"]))
        wrong = mistakes(inputs, list(outputs["weights"])) if mistakes else {}
        # The parameters a known mistake is about come first, so their hint is what you read.
        order = sorted(range(len(names_)), key=lambda k: names_[k] not in wrong)
        for k in order:
            _compare(grads[k], exp[k], F32_GRAD, f"{ex}: gradient of `{names_[k]}`",
                     inputs, case, wrong.get(names_[k], ()))

    return Property("gradients", check, "every parameter's .grad equals torch.autograd's on a "
                    "float64 functional reference built from the same weights")


def _module_spec(name: str, *, inputs, names, shapes, forward, cases, y_mistakes=None,
                 grad_mistakes=None, outputs=("y", "n_params", "weights", "grads"),
                 properties=(), expected_extra=None, **more) -> Spec:
    """A spec for a module exercise: registration, output from captured weights, gradients.

    `forward(weights, inputs)` is the float64 functional reference (one tensor, matched
    with the cotangent `inputs["g"]`)."""
    ex = name.split(".")[1]

    check_first = more.pop("check_first", None)

    def oracle(i, out):
        ws = _check_registration(ex, i, out, names(i), shapes(i))
        if check_first:
            check_first(i, out)
        y = forward([w.double() for w in ws], i)
        # Known wrong answers are built from the same weights: keep them for `mistakes`,
        # which the judge calls with the inputs only, right after this oracle.
        i["_weights"] = [w.double() for w in ws]
        expected = {"y": y.float()}
        if expected_extra:
            expected.update(expected_extra(i, out))
        return expected

    def expected_grads(i, ws):
        leaves = _leaves(ws)
        return _grads_of(forward(leaves, i), leaves, i["g"])

    def mistakes(i):
        return {"y": [Mistake(v.float(), hint) for v, hint in y_mistakes(i["_weights"], i)]} \
            if y_mistakes and "_weights" in i else {}

    return Spec(name=name, inputs=inputs, outputs=outputs, oracle=oracle,
                tol=more.pop("tol", F32), cases=tuple(cases), mistakes=mistakes,
                oracle_uses_outputs=True, error_hints=more.pop("error_hints", ERROR_HINTS),
                properties=tuple(properties) + (_grad_property(ex, names, expected_grads,
                                                               grad_mistakes),), **more)


def _module_inputs(rand, meta, **extra):
    device = _place(rand, meta)
    return {"seed": rand.seed, "device": device, **extra}


# ------------------------------------------------------------------------ TwoLayerNet
TWO_LAYER_NAMES = ("linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias")


def _two_layer_inputs(rand, N, D_in, H, D_out, meta=False):
    i = _module_inputs(rand, meta, sizes=(D_in, H, D_out))
    i.update(x=_tensor(rand.randn(N, D_in), i["device"]), g=_tensor(rand.randn(N, D_out), i["device"]))
    return i


def _two_layer_fn(w, x, relu=True, relu_out=False):
    h = F.linear(x, w[0], w[1])
    y = F.linear(F.relu(h) if relu else h, w[2], w[3])
    return F.relu(y) if relu_out else y


two_layer_net = _module_spec(
    "ch07.TwoLayerNet",
    inputs=_two_layer_inputs,
    names=lambda i: TWO_LAYER_NAMES,
    shapes=lambda i: [(i["sizes"][1], i["sizes"][0]), (i["sizes"][1],),
                      (i["sizes"][2], i["sizes"][1]), (i["sizes"][2],)],
    forward=lambda w, i: _two_layer_fn(w, i["x"].double()),
    y_mistakes=lambda w, i: [
        (_two_layer_fn(w, i["x"].double(), relu=False),
         "the output equals linear2(linear1(x)): apply the ReLU between the two layers"),
        (_two_layer_fn(w, i["x"].double(), relu_out=True),
         "the output went through a ReLU after linear2: the last layer has no activation")],
    cases=(Case("small", 0, dict(N=4, D_in=5, H=7, D_out=3)),
           Case("batch of one", 1, dict(N=1, D_in=3, H=4, D_out=2)),
           Case("wide", 2, dict(N=6, D_in=20, H=16, D_out=5)),
           Case("on another device (meta)", 3, dict(N=3, D_in=4, H=5, D_out=2, meta=True))),
    sweep_salts=25,
)


# ------------------------------------------------------------------------ CenteredLayer
def _centered_inputs(rand, shape, meta=False):
    i = _module_inputs(rand, meta)
    i.update(x=_tensor(rand.randn(*shape, scale=2.0) + 1.5, i["device"], requires_grad=True),
             g=_tensor(rand.randn(*shape), i["device"]))
    return i


def _centered_oracle(i, out):
    n = out.get("n_params")
    if n != 0.0:
        count = int(n) if type(n) is float else n
        raise CheckFailure(f"CenteredLayer: the layer registers {count} parameter(s), expected none "
                           f"{_where(i)}\nHint: a centring layer has nothing to learn: "
                           "create no nn.Parameter and no nn.Linear in __init__")
    x, g = i["x"].detach(), i["g"]
    return {"y": x - x.mean(), "grad_x": g - g.mean()}


def _centered_mistakes(i):
    x, g = i["x"].detach(), i["g"]
    return {
        "y": [Mistake(x - x.mean(dim=0), "each column was centred (mean over dim 0): subtract the "
                      "mean of all the elements, X.mean()"),
              Mistake(x - x.mean(dim=-1, keepdim=True), "each row was centred (mean over the last "
                      "dim): subtract the mean of all the elements, X.mean()"),
              Mistake((x - x.mean()) / x.std(), "the result was also divided by the standard "
                      "deviation: that is a normalisation, not a centring")],
        "grad_x": [Mistake(g, "the gradient ignores the mean: did you detach it (or use .item())? "
                           "Keep X.mean() in the graph")],
    }


centered_layer = Spec(
    name="ch07.CenteredLayer",
    inputs=_centered_inputs,
    outputs=("y", "n_params", "grad_x"),
    oracle=_centered_oracle,
    tol=Tol(1e-5, 1e-5, "float32 mean of <= 24 numbers; CUDA may sum in another order"),
    cases=(Case("matrix", 0, dict(shape=(4, 3))), Case("one row", 1, dict(shape=(1, 5))),
           Case("3-D", 2, dict(shape=(2, 3, 4))),
           Case("on another device (meta)", 3, dict(shape=(3, 2), meta=True))),
    mistakes=_centered_mistakes,
    oracle_uses_outputs=True,
    error_hints=ERROR_HINTS,
    sweep_salts=100,
)


# ------------------------------------------------------------------------ ListDense
def _list_inputs(rand, N, sizes, meta=False):
    i = _module_inputs(rand, meta, sizes=tuple(sizes))
    i.update(x=_tensor(rand.randn(N, sizes[0]), i["device"]),
             g=_tensor(rand.randn(N, sizes[-1]), i["device"]))
    return i


def _list_names(i):
    return tuple(f"params.{k}" for k in range(len(i["sizes"]) - 1))


def _list_fn(w, x, relu_last=False, relu=True):
    for k, W in enumerate(w):
        x = x @ W
        if relu and (k < len(w) - 1 or relu_last):
            x = F.relu(x)
    return x


list_dense = _module_spec(
    "ch07.ListDense",
    inputs=_list_inputs, names=_list_names,
    shapes=lambda i: [(a, b) for a, b in zip(i["sizes"][:-1], i["sizes"][1:])],
    forward=lambda w, i: _list_fn(w, i["x"].double()),
    y_mistakes=lambda w, i: [
        (_list_fn(w, i["x"].double(), relu_last=True),
         "the output went through a ReLU after the last layer: no activation after the last one"),
        (_list_fn(w, i["x"].double(), relu=False),
         "no ReLU was applied: use a ReLU after every layer but the last")],
    cases=(Case("three layers", 0, dict(N=4, sizes=(5, 4, 6, 3))),
           Case("batch of one, deeper", 1, dict(N=1, sizes=(3, 6, 6, 6, 2))),
           Case("one layer", 2, dict(N=3, sizes=(4, 2))),
           Case("on another device (meta)", 3, dict(N=2, sizes=(3, 4, 2), meta=True))),
    sweep_salts=60,
)


# ------------------------------------------------------------------------ DictDense
def _dict_inputs(rand, N, D_in, heads, meta=False):
    i = _module_inputs(rand, meta, D_in=D_in, heads=dict(heads))
    i.update(x=_tensor(rand.randn(N, D_in), i["device"]),
             g=_tensor(rand.randn(N, sum(dict(heads).values())), i["device"]))
    return i


def _dict_fn(w, i, first_only=False):
    x = i["x"].double()
    return torch.cat([x @ (w[0] if first_only else W) for W in w], dim=1)


dict_dense = _module_spec(
    "ch07.DictDense",
    error_hints=ERROR_HINTS + (("the weights of the chosen head", "forward(x, choice) uses the "
                                "chosen head's weights: return x @ self.params[choice]"),),
    inputs=_dict_inputs, names=lambda i: tuple(f"params.{name}" for name in i["heads"]),
    shapes=lambda i: [(i["D_in"], d) for d in i["heads"].values()],
    forward=_dict_fn,
    y_mistakes=lambda w, i: [(_dict_fn(w, i, first_only=True),
                              "every choice returned the first head's output: use self.params[choice]")],
    cases=(Case("three heads", 0, dict(N=4, D_in=5, heads={"linear1": 4, "linear2": 1, "linear3": 2})),
           Case("same sizes", 1, dict(N=2, D_in=3, heads={"a": 3, "b": 3})),
           Case("batch of one", 2, dict(N=1, D_in=6, heads={"left": 2, "right": 5})),
           Case("on another device (meta)", 3, dict(N=2, D_in=3, heads={"u": 2, "v": 1}, meta=True))),
    sweep_salts=60,
)


# ------------------------------------------------------------------------ DynamicNet
DYNAMIC_NAMES = ("input_linear.weight", "input_linear.bias", "middle_linear.weight",
                 "middle_linear.bias", "output_linear.weight", "output_linear.bias")


def _dynamic_inputs(rand, N, D_in, H, D_out, depth, random_calls=False, meta=False):
    i = _module_inputs(rand, meta, sizes=(D_in, H, D_out), depth=depth, random_calls=random_calls)
    i.update(x=_tensor(rand.randn(N, D_in), i["device"]), g=_tensor(rand.randn(N, D_out), i["device"]))
    return i


def _dynamic_fn(w, x, depth, relu_middle=True, detach=False):
    """The unrolled reference: one input layer, `depth` uses of the same middle layer."""
    h = F.relu(F.linear(x, w[0], w[1]))
    for _ in range(depth):
        h = F.linear(h.detach() if detach else h, w[2], w[3])
        h = F.relu(h) if relu_middle else h
    return F.linear(h, w[4], w[5])


def _dynamic_y_mistakes(w, i):
    x, d = i["x"].double(), i["depth"]
    wrong = [(_dynamic_fn(w, x, k), f"the output is that of {k} use(s) of the middle layer, but "
              f"depth={d} was asked: run the middle layer exactly `depth` times when depth is given")
             for k in range(0, 5) if k != d]
    if d > 0:
        wrong.append((_dynamic_fn(w, x, d, relu_middle=False),
                      "no ReLU after the middle layer: apply it after every use"))
    return wrong


def _dynamic_grad_mistakes(i, ws):
    d = i["depth"]
    if d < 2:
        return {}
    leaves = _leaves(ws)
    only_last = _grads_of(_dynamic_fn(leaves, i["x"].double(), d, detach=True), leaves, i["g"])
    hint = ("the shared layer's gradient holds only its last use's part: the gradient of a layer "
            "used several times is the sum over its uses (do not detach between uses)")
    return {"middle_linear.weight": [Mistake(only_last[2], hint)],
            "middle_linear.bias": [Mistake(only_last[3], hint)]}


def _random_depth(inputs, outputs, case):
    free = outputs.get("free")
    where = _where(inputs, case)
    if type(free) is not tuple or not free:
        raise CheckFailure(f"DynamicNet: forward(x) without a depth returned nothing usable {where}")
    ws = [w.double() for w in outputs["weights"]]
    refs = [_dynamic_fn(ws, inputs["x"].double(), k).float() for k in range(4)]
    seen = []
    for n, y in enumerate(free):
        match = [k for k, r in enumerate(refs) if type(y) is torch.Tensor and y.shape == r.shape
                 and y.dtype == r.dtype and bool(torch.allclose(y.cpu(), r.cpu(), rtol=1e-4, atol=1e-5))]
        if not match:
            raise CheckFailure(f"DynamicNet: call {n + 1} of forward(x) without a depth returned an "
                               f"output that matches no depth in 0, 1, 2, 3 {where}\nHint: when "
                               "depth is None, draw it with random.randint(0, 3) on every call")
        seen.append(match[0])
    if len(set(seen)) < 2:
        raise CheckFailure(f"DynamicNet: {len(free)} calls of forward(x) without a depth all used "
                           f"depth {seen[0]} {where}\nHint: draw a new random depth on every call "
                           "(random.randint(0, 3) inside forward), not once in __init__ or not at all")
    missing = sorted(set(range(4)) - set(seen))
    if missing:
        raise CheckFailure(f"DynamicNet: in {len(free)} calls of forward(x) without a depth, depth "
                           f"{', '.join(map(str, missing))} never came up {where}\nHint: every depth "
                           "0, 1, 2 and 3 must be possible: random.randint(0, 3) includes 3 "
                           "(unlike range(3), random.randrange(3) or torch.randint(0, 3))")


def _dynamic_middle_used(i, out):
    grads = out.get("grads")
    if i["depth"] > 0 and type(grads) is tuple and len(grads) == 6 and grads[2] is None:
        raise CheckFailure(f"DynamicNet: self.middle_linear got no gradient with depth={i['depth']} "
                           f"{_where(i)}\nHint: forward must apply self.middle_linear, the same "
                           "layer on every use (not a new nn.Linear made in forward)")


dynamic_net = _module_spec(
    "ch07.DynamicNet",
    check_first=_dynamic_middle_used,
    inputs=_dynamic_inputs, names=lambda i: DYNAMIC_NAMES,
    shapes=lambda i: [(i["sizes"][1], i["sizes"][0]), (i["sizes"][1],),
                      (i["sizes"][1], i["sizes"][1]), (i["sizes"][1],),
                      (i["sizes"][2], i["sizes"][1]), (i["sizes"][2],)],
    forward=lambda w, i: _dynamic_fn(w, i["x"].double(), i["depth"]),
    y_mistakes=_dynamic_y_mistakes, grad_mistakes=_dynamic_grad_mistakes,
    outputs=("y", "n_params", "weights", "grads", "free"),
    properties=(Property("random depth", _random_depth,
                         "forward(x) draws a depth in 0..3 on every call, each possible",
                         cases=("depth 3, and 60 calls without a depth",)),),
    cases=(Case("depth 3, and 60 calls without a depth", 0,
                dict(N=4, D_in=5, H=6, D_out=3, depth=3, random_calls=True)),
           Case("depth 0", 1, dict(N=2, D_in=3, H=4, D_out=2, depth=0)),
           Case("depth 2, batch of one", 2, dict(N=1, D_in=4, H=5, D_out=3, depth=2)),
           Case("depth 2 on another device (meta)", 3, dict(N=2, D_in=3, H=4, D_out=2, depth=2,
                                                            meta=True))),
    sweep_salts=25,
)


# ------------------------------------------------------------------------ corr2d
def _corr_inputs(rand, h, w, kh, kw, dtype=torch.float32, meta=False):
    device = _place(rand, meta)
    return {"device": device,
            "X": _tensor(rand.randn(h, w, dtype=dtype), device, requires_grad=True),
            "K": _tensor(rand.randn(kh, kw, dtype=dtype), device, requires_grad=True),
            "g": _tensor(rand.randn(h - kh + 1, w - kw + 1, dtype=dtype), device)}


def reference_corr2d(X, K):
    """Cross-correlation by PyTorch's own conv2d (which does not flip the kernel)."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def _result_first(ex, expected_shape, shape_hint, swapped_shape=None, swapped_hint=""):
    """The oracle checks the result's device and shape first, with hints for this exercise."""
    def check(i, out):
        y = out.get("Y")
        if type(y) is not torch.Tensor:
            return
        if y.device.type != i["device"]:
            raise CheckFailure(f"{ex}: the result is on {y.device}, the input on {i['device']} "
                               f"{_where(i)}\nHint: {META_HINT}")
        if tuple(y.shape) != expected_shape(i):
            swapped = swapped_shape(i) if swapped_shape else None
            hint = swapped_hint if swapped is not None and tuple(y.shape) == swapped else shape_hint
            raise CheckFailure(f"{ex}: the result has shape {tuple(y.shape)}, expected "
                               f"{expected_shape(i)} {_where(i)}\nHint: {hint}")
        first = next(k for k in out if k.startswith("grad_"))
        if y.dtype != i[first[5:]].dtype:
            raise CheckFailure(f"{ex}: the result has dtype {y.dtype}, the input "
                               f"{i[first[5:]].dtype} {_where(i)}\nHint: keep the input's dtype: "
                               "create new tensors with dtype=X.dtype (and device=X.device)")
        if all(out.get(k) is None for k in out if k.startswith("grad_")):
            raise CheckFailure(f"{ex}: no gradient reaches the inputs from your result "
                               f"{_where(i)}\nHint: keep every value a tensor in the graph: no "
                               ".item(), float(...) or torch.tensor(...) on the way, no .detach()")
    return check


def _grad_oracle(ref, names, check_first=None):
    def oracle(i, out):
        if check_first:
            check_first(i, out)
        leaves = [i[n].detach().clone().requires_grad_() for n in names]
        y = ref(*leaves, i)
        grads = torch.autograd.grad(y, leaves, grad_outputs=i["g"], allow_unused=True)
        return {"Y": y.detach(), **{f"grad_{n}": g for n, g in zip(names, grads)}}
    return oracle


def _corr_mistakes(i):
    X, K, g = i["X"].detach(), i["K"].detach(), i["g"]
    kh, kw = K.shape
    flipped = K.flip(0, 1)
    Xl, Kl = X.clone().requires_grad_(), flipped.clone().requires_grad_()
    y_conv = reference_corr2d(Xl, Kl)
    gX, _ = torch.autograd.grad(y_conv, [Xl, Kl], grad_outputs=g)
    flip_hint = ("this is a convolution (the kernel flipped): cross-correlation slides K as it "
                 "is, Y[i, j] = (X[i:i+kh, j:j+kw] * K).sum()")
    detached = "the gradient does not reach {}: keep it in the graph (no .item(), .detach() or torch.tensor(...) on it)"
    return {"Y": [Mistake(y_conv.detach(), flip_hint),
                  Mistake(reference_corr2d(X, K) / (kh * kw),
                          "each window was averaged: sum the products, do not take their mean")],
            "grad_X": [Mistake(gX, flip_hint), Mistake(torch.zeros_like(X), detached.format("X"))],
            "grad_K": [Mistake(torch.zeros_like(K), detached.format("K"))]}


CORR_SHAPE_HINT = ("a kh x kw kernel fits (h - kh + 1) x (w - kw + 1) times in an h x w input: "
                   "rows first, columns second, range(h - kh + 1) and not range(h - kh)")
CORR_RULE, CORR_BY_HAND = _by_hand(
    "corr2d", "slide the kernel yourself (loops over the output positions or over the kernel's "
    "offsets, slicing, * and .sum()); no PyTorch convolution, pooling or unfold")

corr2d = Spec(
    name="ch07.corr2d",
    inputs=_corr_inputs,
    outputs=("Y", "grad_X", "grad_K", "forbidden"),
    oracle=_grad_oracle(lambda X, K, i: reference_corr2d(X, K), ("X", "K"),
                        _result_first("corr2d", lambda i: tuple(i["g"].shape), CORR_SHAPE_HINT)),
    tol=F32,   # set by the float32 cases; the float64 case passes far inside it
    cases=(Case("non-square", 0, dict(h=6, w=8, kh=2, kw=3)),
           Case("tall kernel", 1, dict(h=5, w=4, kh=3, kw=1)),
           Case("one row, float64", 2, dict(h=1, w=7, kh=1, kw=2, dtype=torch.float64)),
           Case("kernel as large as the input", 3, dict(h=3, w=4, kh=3, kw=4)),
           Case("on another device (meta)", 4, dict(h=4, w=5, kh=2, kw=2, meta=True))),
    mistakes=_corr_mistakes,
    oracle_uses_outputs=True,
    static=(CORR_RULE,),
    properties=(CORR_BY_HAND,),
    error_hints=ERROR_HINTS,
    sweep_salts=20,
)


# ------------------------------------------------------------------------ Conv2D (module)
CONV_NAMES = ("weight", "bias")


def _conv_inputs(rand, h, w, kh, kw, meta=False):
    i = _module_inputs(rand, meta, kernel_size=(kh, kw))
    i.update(x=_tensor(rand.randn(h, w), i["device"]), g=_tensor(rand.randn(h - kh + 1, w - kw + 1), i["device"]))
    return i


def _conv_fn(w, i, bias=True):
    y = reference_corr2d(i["x"].double(), w[0])
    return y + w[1] if bias else y


def _conv_shape_first(i, out):
    y, (h, w), (kh, kw) = out.get("y"), i["x"].shape, i["kernel_size"]
    want = (h - kh + 1, w - kw + 1)
    if type(y) is torch.Tensor and tuple(y.shape) != want:
        raise CheckFailure(f"Conv2D: the output has shape {tuple(y.shape)}, expected {want} "
                           f"{_where(i)}\nHint: return corr2d(x, self.weight) + self.bias: the "
                           "input first, the kernel second, and a bias of shape (1,)")


CONV_RULE, CONV_BY_HAND = _by_hand(
    "Conv2D", "forward calls your corr2d (the grader lends it its own while grading Conv2D); "
    "no PyTorch convolution, pooling or unfold")

conv2d_module = _module_spec(
    "ch07.Conv2D",
    inputs=_conv_inputs, names=lambda i: CONV_NAMES,
    shapes=lambda i: [tuple(i["kernel_size"]), (1,)],
    forward=_conv_fn,
    y_mistakes=lambda w, i: [
        (_conv_fn(w, i, bias=False), "the bias is missing: return corr2d(x, self.weight) + self.bias"),
        (reference_corr2d(i["x"].double(), w[0].flip(0, 1)) + w[1],
         "the kernel is flipped (a convolution): use corr2d(x, self.weight) as it is")],
    outputs=("y", "n_params", "weights", "grads", "forbidden"),
    check_first=_conv_shape_first,
    properties=(CONV_BY_HAND,),
    static=(CONV_RULE,),
    isolate=("corr2d",),
    cases=(Case("non-square", 0, dict(h=6, w=8, kh=1, kw=2)),
           Case("tall kernel", 1, dict(h=7, w=5, kh=3, kw=2)),
           Case("square", 2, dict(h=4, w=4, kh=2, kw=2)),
           Case("on another device (meta)", 3, dict(h=5, w=4, kh=2, kw=3, meta=True))),
    sweep_salts=30,
)


# ------------------------------------------------------------------------ pool2d
def _pool_inputs(rand, h, w, ph, pw, mode, dtype=torch.float32, meta=False, default_mode=False):
    device = _place(rand, meta)
    return {"device": device, "size": (ph, pw), "mode": mode, "default_mode": default_mode,
            "X": _tensor(rand.randn(h, w, dtype=dtype), device, requires_grad=True),
            "g": _tensor(rand.randn(h - ph + 1, w - pw + 1, dtype=dtype), device)}


def reference_pool2d(X, size, mode):
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return pool(X[None, None], tuple(size), stride=1)[0, 0]


def _pool_mistakes(i):
    X, size, mode = i["X"].detach(), tuple(i["size"]), i["mode"]
    other = "avg" if mode == "max" else "max"
    n = size[0] * size[1]
    wrong = [Mistake(reference_pool2d(X, size, other),
                     f"this is {other} pooling, but mode='{mode}' was asked"
                     + (" (max is the default: pool2d(X, size) means mode='max')"
                        if i["default_mode"] else ""))]
    if mode == "avg":
        wrong.append(Mistake(reference_pool2d(X, size, "avg") * n,
                             "each window was summed: average pooling divides the sum by p_h * p_w"))
    return {"Y": wrong, "grad_X": [Mistake(torch.zeros_like(X), "the gradient does not reach X: "
                                           "keep the result in the graph (no .item() or "
                                           "torch.tensor(...) on the windows' max or mean)")]}


def _pool_swapped(i):
    (h, w), (ph, pw) = i["X"].shape, i["size"]
    return (h - pw + 1, w - ph + 1) if ph != pw else None


POOL_SHAPE_HINT = ("pooling here slides the window one step at a time (stride 1), like corr2d: "
                   "the output has (h - p_h + 1) x (w - p_w + 1) entries")
POOL_RULE, POOL_BY_HAND = _by_hand(
    "pool2d", "take each window's max or mean yourself (loops or slicing, .max(), .amax(), "
    ".mean()); no PyTorch pooling, convolution or unfold")

pool2d = Spec(
    name="ch07.pool2d",
    inputs=_pool_inputs,
    outputs=("Y", "grad_X", "forbidden"),
    oracle=_grad_oracle(lambda X, i: reference_pool2d(X, i["size"], i["mode"]), ("X",),
                        _result_first("pool2d", lambda i: tuple(i["g"].shape), POOL_SHAPE_HINT,
                                      _pool_swapped, "the window's sizes are swapped: size = "
                                      "(p_h, p_w), p_h rows high and p_w columns wide")),
    tol=F32,
    cases=(Case("max, non-square, mode left to its default", 0,
                dict(h=5, w=7, ph=2, pw=3, mode="max", default_mode=True)),
           Case("avg, non-square", 1, dict(h=6, w=4, ph=3, pw=2, mode="avg")),
           Case("max, float64", 2, dict(h=3, w=3, ph=2, pw=2, mode="max", dtype=torch.float64)),
           Case("avg, one row", 3, dict(h=1, w=6, ph=1, pw=4, mode="avg")),
           Case("avg on another device (meta)", 4, dict(h=4, w=4, ph=2, pw=2, mode="avg", meta=True))),
    mistakes=_pool_mistakes,
    oracle_uses_outputs=True,
    static=(POOL_RULE,),
    properties=(POOL_BY_HAND,),
    error_hints=ERROR_HINTS,
    sweep_salts=40,
)


# ------------------------------------------------------------------------ Normalize
def _norm_inputs(rand, N, num_features, dim, eps=None, scale=3.0, meta=False):
    i = _module_inputs(rand, meta, num_features=num_features, dim=dim, eps=eps)
    # an offset of the inputs' own size: the mean matters, and float32 keeps the deviations
    i.update(x=_tensor(rand.randn(N, num_features, scale=scale) + scale / 3, i["device"]),
             g=_tensor(rand.randn(N, num_features), i["device"]))
    return i


def _eps(i) -> float:
    return 1e-5 if i["eps"] is None else i["eps"]


def _norm_fn(w, i, unbiased=False, eps_outside=False, dim=None, affine=True):
    """(X - mean) / sqrt(var + eps) over `dim`, scaled and shifted per feature: PyTorch's own
    layer_norm (over the features of each example) or batch_norm (over the batch)."""
    x, eps, d = i["x"].double(), _eps(i), i["dim"] if dim is None else dim
    weight, bias = (w[0], w[1]) if affine else (None, None)
    if not unbiased and not eps_outside:
        if d == 1:
            return F.layer_norm(x, (x.shape[1],), weight, bias, eps)
        return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)
    mean = x.mean(dim=d, keepdim=True)
    if eps_outside:
        z = (x - mean) / (x.var(dim=d, unbiased=False, keepdim=True).sqrt() + eps)
    else:
        z = (x - mean) / torch.sqrt(x.var(dim=d, unbiased=True, keepdim=True) + eps)
    return z * w[0] + w[1] if affine else z


def _norm_mistakes(w, i):
    other = 1 - i["dim"]
    wrong = [(_norm_fn(w, i, unbiased=True), "this divides by the unbiased standard deviation "
              "(n - 1 in the variance, as x.std() and x.var() do by default): use the mean of the "
              "squared deviations, x.var(dim, unbiased=False)"),
             (_norm_fn(w, i, eps_outside=True), "eps was added to the standard deviation: add it "
              "to the variance, inside the square root, sqrt(var + eps)"),
             (_norm_fn(w, i, affine=False), "the learned scale and shift are missing: return "
              "weight * normalised + bias")]
    if i["x"].shape[0] != i["x"].shape[1]:
        wrong.append((_norm_fn(w, i, dim=other), f"the statistics were taken over dim {other}, "
                      f"but dim={i['dim']} was asked"))
    return wrong


def _norm_initial(inputs, outputs, case):
    """weight starts at ones and bias at zeros (read before the harness nudges them)."""
    for name, value in (("weight", 1.0), ("bias", 0.0)):
        got = outputs.get(f"init_{name}")
        if type(got) is not torch.Tensor or got.device.type == META:
            continue   # registration is checked first; a meta tensor has no values
        if not bool((got == value).all()):
            raise CheckFailure(f"Normalize: `{name}` starts at {got.tolist()} {_where(inputs, case)}"
                               f"\nHint: the scale `weight` starts at ones (torch.ones) and the "
                               "shift `bias` at zeros (torch.zeros), so that a new layer only "
                               "normalises")


def _norm_by_hand(inputs, outputs, case):
    n = outputs.get("norm_ops")
    if n != 0.0:
        raise CheckFailure(f"Normalize: your code runs PyTorch's own normalisation {_where(inputs, case)}"
                           "\nHint: Normalize is written by hand: compute the mean and the variance "
                           "yourself (no F.layer_norm, F.batch_norm, nn.LayerNorm, nn.BatchNorm1d "
                           "or their relatives, also not through a helper)")


NORM_FORBIDDEN = ForbiddenCalls(frozenset(
    {"layer_norm", "batch_norm", "instance_norm", "group_norm", "rms_norm", "LayerNorm",
     "GroupNorm", "RMSNorm", "LocalResponseNorm", "local_response_norm"}
    | {f"{b}{d}" for b in ("BatchNorm", "InstanceNorm", "LazyBatchNorm", "LazyInstanceNorm")
       for d in ("1d", "2d", "3d")}),
    "Normalize is written by hand: compute the mean and the variance yourself")


normalize = _module_spec(
    "ch07.Normalize",
    inputs=_norm_inputs, names=lambda i: ("weight", "bias"),
    shapes=lambda i: [(i["num_features"],), (i["num_features"],)],
    forward=lambda w, i: _norm_fn(w, i),
    y_mistakes=_norm_mistakes,
    outputs=("y", "n_params", "weights", "grads", "init_weight", "init_bias", "norm_ops"),
    properties=(Property("initial values", _norm_initial, "weight starts at ones, bias at zeros"),
                Property("written by hand", _norm_by_hand, "no ATen normalisation operation")),
    static=(NORM_FORBIDDEN,),
    tol=Tol(1e-4, 1e-4, "float32 statistics of <= 8 numbers vs float64; normalised values are "
            "O(1), so an absolute 1e-4 is a few hundred ulps"),
    cases=(Case("over the features (dim=1), as layer norm", 0, dict(N=4, num_features=5, dim=1)),
           Case("over the batch (dim=0), as batch norm", 1, dict(N=6, num_features=3, dim=0)),
           Case("eps=0.5 given, tiny variance", 2, dict(N=5, num_features=4, dim=1, eps=0.5, scale=0.3)),
           Case("default eps on a near-constant batch", 3,
                dict(N=3, num_features=4, dim=0, scale=2e-3)),
           Case("on another device (meta)", 4, dict(N=3, num_features=2, dim=0, meta=True))),
    sweep_salts=15,
)


# ------------------------------------------------------------------------ LeNet
STAGES = {"block1": (6, 14, 14), "block2": (16, 5, 5)}
HEAD_SHAPES = ((120, 400), (120,), (84, 120), (84,), (10, 84), (10,))
LENET_HINT = ("LeNet's parts: block1 = a convolution 1 -> 6 channels, an activation, a 2 x 2 "
              "pooling (28 x 28 -> 14 x 14); block2 = a convolution 6 -> 16 channels, an "
              "activation, a 2 x 2 pooling (14 x 14 -> 5 x 5); head = flatten, Linear(400, 120), "
              "activation, Linear(120, 84), activation, Linear(84, 10)")


def _lenet_inputs(rand, N, meta=False):
    i = _module_inputs(rand, meta)
    i.update(x=_tensor(rand.uniform(N, 1, 28, 28), i["device"]),
             g=_tensor(rand.randn(N, 10), i["device"]),
             scores=_tensor(rand.randn(10), i["device"]))
    return i


def _sorted_shapes(shapes) -> list:
    return sorted(tuple(int(s) for s in shape) for shape in shapes)


def _conv_shapes_ok(shapes, c_in, c_out) -> bool:
    """One 4-D weight (c_out, c_in, kh, kw) and its (c_out,) bias, nothing else."""
    four = [s for s in shapes if len(s) == 4]
    return (len(shapes) == 2 and len(four) == 1 and four[0][:2] == (c_out, c_in)
            and (c_out,) in shapes)


def _lenet_oracle(i, out):
    n = i["x"].shape[0]
    where = _where(i)

    def fail(what, hint):
        raise CheckFailure(f"LeNet: {what} {where}\nHint: {hint}")

    h1, h2, y = out.get("h1"), out.get("h2"), out.get("y")
    for name, h, prev in (("block1", h1, "(N, 1, 28, 28)"), ("block2", h2, "block1's output")):
        c, s, _ = STAGES[name]
        want = (n, c, s, s)
        if type(h) is not torch.Tensor or tuple(h.shape) != want:
            got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            fail(f"self.{name} maps {prev} to {got}, expected {want}",
                 "a k x k convolution with padding p turns a side of n into n + 2p - k + 1, and a "
                 f"2 x 2 pooling with stride 2 halves it (rounding down). {LENET_HINT}")
        if h.device.type != i["device"]:
            fail(f"self.{name}'s output is on {h.device}", META_HINT)
    if type(y) is not torch.Tensor or tuple(y.shape) != (n, 10):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        fail(f"the model's output has shape {got}, expected {(n, 10)}", LENET_HINT)
    for name, c_in in (("block1", 1), ("block2", 6)):
        c_out = STAGES[name][0]
        shapes = _sorted_shapes(out.get(f"shapes_{name}") or ())
        if not _conv_shapes_ok(shapes, c_in, c_out):
            fail(f"self.{name}'s parameters have shapes {shapes}",
                 f"the only layer with parameters in {name} is its convolution {c_in} -> {c_out} "
                 f"channels, with a bias: one weight ({c_out}, {c_in}, kh, kw) and one bias "
                 f"({c_out},); keep it registered (an attribute, nn.Sequential, nn.ModuleList)")
    head = _sorted_shapes(out.get("shapes_head") or ())
    if head != sorted(HEAD_SHAPES):
        fail(f"self.head's parameters have shapes {head}, expected those of Linear(400, 120), "
             "Linear(120, 84) and Linear(84, 10) with their biases",
             "the head holds exactly three linear layers, registered (attributes, nn.Sequential "
             "or nn.ModuleList, not a plain list)")
    total = out.get("n_params")
    parts = sum(len(out.get(f"shapes_{p}") or ()) for p in ("block1", "block2", "head"))
    if total != float(parts):
        fail(f"the model registers {total if type(total) is not float else int(total)} "
             f"parameters, {parts} of them in block1, block2 and head",
             "keep every layer inside self.block1, self.block2 or self.head, and no other "
             "parameters")
    for name in ("block1", "block2"):
        ops = out.get(f"ops_{name}")
        conv, pool, act = ops if type(ops) is tuple and len(ops) == 3 else (-1.0, -1.0, -1.0)
        if conv != 1.0:
            fail(f"self.{name} runs {int(conv)} convolution(s), expected exactly one",
                 f"each block has one convolution (nn.Conv2d or F.conv2d). {LENET_HINT}")
        if act < 1.0:
            fail(f"self.{name} applies no activation",
                 "each block applies an activation after its convolution: one of PyTorch's "
                 "(sigmoid, tanh, ReLU or a relative of it), as a layer or a function")
        if pool < 1.0:
            fail(f"self.{name} does no pooling",
                 "each block ends with a 2 x 2 pooling with stride 2, or another pooling that "
                 "halves the size (average or max pooling: nn.AvgPool2d(2) or nn.MaxPool2d(2), "
                 "or their F.* forms)")
    act = out.get("act_head")
    if type(act) is not float or act < 2.0:
        fail("self.head applies fewer than two activations",
             "apply an activation after Linear(400, 120) and after Linear(120, 84)")
    missing = out.get("no_grad")
    if missing != 0.0:
        fail(f"{int(missing) if type(missing) is float else missing} parameter(s) got no gradient "
             "from the model's output",
             "every parameter must take part in forward: no .detach() or .item() on the way, "
             "and no layer that forward skips")
    composed = out.get("composed")
    if type(composed) is torch.Tensor and composed.shape == y.shape and y.device.type != META \
            and not torch.allclose(y, composed, rtol=SAME_RUN.rtol, atol=SAME_RUN.atol):
        fail("forward(x) differs from self.head(self.block2(self.block1(x)))",
             "forward(x) must run the three parts in order and return the head's output, "
             "nothing more")
    if out.get("raw") is None:
        fail("the head has no (10, 84) weight with a (10,) bias", LENET_HINT)
    return {"y": composed, "raw": i["scores"].expand(n, 10)}


def _lenet_raw_mistakes(i):
    s = i["scores"].expand(i["x"].shape[0], 10)
    hint = ("something follows the last linear layer: the model returns raw scores (logits), "
            "with no activation after Linear(84, 10) (the loss function applies its own)")
    return {"raw": [Mistake(torch.sigmoid(s), hint), Mistake(torch.relu(s), hint),
                    Mistake(torch.softmax(s, dim=1), hint), Mistake(torch.tanh(s), hint)]}


lenet = Spec(
    name="ch07.LeNet",
    inputs=_lenet_inputs,
    outputs=("y", "composed", "h1", "h2", "ops_block1", "ops_block2", "act_head", "shapes_block1",
             "shapes_block2", "shapes_head", "n_params", "no_grad", "raw"),
    oracle=_lenet_oracle,
    tol={"y": SAME_RUN, "raw": Tol(1e-6, 1e-6, "a zero weight leaves the bias as it is: exact up "
                                   "to a float32 rounding of 0 * h + b")},
    cases=(Case("batch of two", 0, dict(N=2)), Case("batch of one", 1, dict(N=1)),
           Case("on another device (meta)", 2, dict(N=2, meta=True))),
    mistakes=_lenet_raw_mistakes,
    oracle_uses_outputs=True,
    error_hints=ERROR_HINTS,
    sweep_salts=15,
)

SPECS = register(two_layer_net, centered_layer, list_dense, dict_dense, dynamic_net, corr2d,
                 conv2d_module, pool2d, normalize, lenet)

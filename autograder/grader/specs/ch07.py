"""Chapter 07: custom and dynamic modules, convolution and pooling by hand, LeNet.

How a module exercise is checked. On the learner side the spec's `call` builds the
learner's class (seeded), moves it with `.to(device)`, nudges every registered parameter
by seeded noise (so that a zero-initialised bias cannot hide a missing `+ bias`), runs it,
backpropagates a seeded cotangent and captures plain tensors only: the outputs, the
parameters registered under the names the statement fixes, and their `.grad`.
On the grader side the oracle first checks the registration (names, shapes, count,
device), then recomputes the expected output from those captured weights with
`torch.nn.functional` ops in float64; a property compares every gradient with
torch.autograd's on the same functional reference. The functions `corr2d` and `pool2d`
are compared, values and gradients, with `F.conv2d`, `F.max_pool2d` and `F.avg_pool2d`.
"""

from __future__ import annotations

import functools
import random
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..compare import CheckFailure, Mistake, Tol, Where, compare
from ..spec import Case, Property, Spec
from . import register

# The learner computes in float32; the oracle in float64 from the same weights, then rounds
# to float32. Sums here have at most a few hundred terms (LeNet's 400-input layer).
F32 = Tol(1e-4, 1e-5, "float32 (learner) vs float64 rounded to float32 (oracle); sums of <= 400 terms")
# Gradients pass through more float32 products (and sigmoids) than outputs do.
F32_GRAD = Tol(1e-3, 1e-5, "float32 backward through several layers vs a float64 oracle")
NUDGE = 0.05   # scale of the seeded noise added to every parameter before the check

REGISTER_HINT = ("a module only knows the nn.Parameter / nn.Module objects assigned to its "
                 "attributes (or kept in nn.ParameterList, nn.ParameterDict, nn.ModuleList); a "
                 "plain Python list or dict, or a plain tensor, hides them: they are neither "
                 "listed by parameters() nor moved by .to(device) nor trained. Use the attribute "
                 "names the exercise gives.")


def _context(inputs: dict) -> tuple[str, str]:
    """(device, 'inputs x (4, 5) float32, ...') for messages."""
    parts = [f"{k} {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}"
             for k, v in inputs.items() if isinstance(v, torch.Tensor) and k != "g"
             and not k.startswith("_")]
    parts += [f"{k}={v}" for k, v in inputs.items() if k in ("size", "mode", "depth", "sizes", "heads")]
    return inputs["device"], "inputs " + ", ".join(parts)


def _compare(actual, expected, tol, what, inputs, case=None, mistakes=()) -> None:
    device, context = _context(inputs)
    if case is not None:
        context = f"case '{case.label}': {context}"
    compare(actual, expected, tol, Where(what, device, context, tuple(mistakes)))


# ============================================================== learner side (the calls)
def _strict_float32(call):
    """Run a call with TF32 off: on Ampere and later GPUs cuDNN convolutions use TF32 by
    default (about 3 decimal digits), which would leave float32 results of a correct
    answer 1e-3 away from the oracle on CUDA. The previous settings are restored."""

    @functools.wraps(call)
    def wrapped(learner, i):
        saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            return call(learner, i)
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved

    return wrapped


def _seed_everything(seed: int) -> None:
    """The learner's module may draw its weights or its depth from torch, random or numpy."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _build(cls, i: dict, *args):
    _seed_everything(i["seed"])
    model = cls(*args)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{getattr(cls, '__name__', cls)} must be a subclass of nn.Module "
                        "(class Name(nn.Module): ..., calling super().__init__() first)")
    moved = model.to(i["device"])
    return moved if isinstance(moved, torch.nn.Module) else model


def _registered(model, names: Sequence[str], seed: int) -> dict:
    """Every registered parameter by name; the expected ones get seeded noise added."""
    named = dict(model.named_parameters())
    gen = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for n in names:
            p = named.get(n)
            if p is not None:
                noise = torch.randn(tuple(p.shape), generator=gen, dtype=torch.float64)
                p.add_(NUDGE * noise.to(device=p.device, dtype=p.dtype))
    return named


def _backprop(ys: Sequence[Any], gs: Sequence[torch.Tensor]) -> None:
    """Backward of sum_k <y_k, g_k> over the outputs that can carry it."""
    total = None
    for y, g in zip(ys, gs):
        if type(y) is torch.Tensor and y.requires_grad and tuple(y.shape) == tuple(g.shape) \
                and y.dtype == g.dtype:
            term = (y * g).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()


def _captured(model, named: dict, names: Sequence[str]):
    """(number of registered parameters, the expected ones, their gradients)."""
    ws = tuple(named.get(n) for n in names)
    return float(len(named)), ws, tuple(None if w is None else w.grad for w in ws)


# ============================================================== grader side
def _check_registration(ex: str, inputs: dict, outputs: dict, names: Sequence[str],
                        shapes: Sequence[tuple]) -> list[torch.Tensor]:
    """The module registered exactly the expected parameters; returns them."""
    device, context = _context(inputs)
    where = f"(device {device}, {context})"
    count, ws = outputs.get("n_params"), outputs.get("weights")
    if type(count) is not float or type(ws) is not tuple or len(ws) != len(names):
        raise CheckFailure(f"{ex}: could not read the module's parameters {where}")
    for name, shape, w in zip(names, shapes, ws):
        if w is None:
            raise CheckFailure(f"{ex}: the module has no parameter named `{name}` {where}; it "
                               f"registers {int(count)} parameter(s) in all.\nHint: {REGISTER_HINT}")
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


def _module_spec(name: str, *, inputs, call, names, shapes, forward, cases,
                 y_mistakes=None, grad_mistakes=None, outputs=("y", "n_params", "weights", "grads"),
                 properties=(), expected_y=None) -> Spec:
    """A spec for a module exercise: registration, output from captured weights, gradients.

    `forward(weights, inputs)` is the float64 functional reference (one tensor or a tuple
    of tensors, matched with the cotangents `inputs["g"]`)."""
    ex = name.split(".")[1]

    def oracle(i, out):
        ws = _check_registration(ex, i, out, names(i), shapes(i))
        y = forward([w.double() for w in ws], i)
        # Known wrong answers are built from the same weights: keep them for `mistakes`,
        # which the judge calls with the inputs only, right after this oracle.
        i["_weights"] = [w.double() for w in ws]
        return {"y": y.float()} if expected_y is None else expected_y(y, i, out)

    def expected_grads(i, ws):
        leaves = _leaves(ws)
        return _grads_of(forward(leaves, i), leaves, i["g"])

    def mistakes(i):
        return {"y": [Mistake(v.float(), hint) for v, hint in y_mistakes(i["_weights"], i)]} \
            if y_mistakes and "_weights" in i else {}

    return Spec(name=name, inputs=inputs, call=call, outputs=outputs, oracle=oracle, tol=F32,
                cases=tuple(cases), mistakes=mistakes, oracle_uses_outputs=True,
                properties=tuple(properties) + (_grad_property(ex, names, expected_grads,
                                                               grad_mistakes),))


# ------------------------------------------------------------------------ TwoLayerNet
TWO_LAYER_NAMES = ("linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias")


def _two_layer_inputs(rand, N, D_in, H, D_out):
    return {"seed": rand.seed, "device": rand.device, "sizes": (D_in, H, D_out),
            "x": rand.randn(N, D_in), "g": rand.randn(N, D_out)}


@_strict_float32
def _call_two_layer(cls, i):
    model = _build(cls, i, *i["sizes"])
    named = _registered(model, TWO_LAYER_NAMES, i["seed"])
    y = model(i["x"])
    _backprop([y], [i["g"]])
    return (y, *_captured(model, named, TWO_LAYER_NAMES))


def _two_layer_fn(w, x, relu=True, relu_out=False):
    h = F.linear(x, w[0], w[1])
    y = F.linear(F.relu(h) if relu else h, w[2], w[3])
    return F.relu(y) if relu_out else y


two_layer_net = _module_spec(
    "ch07.TwoLayerNet",
    inputs=_two_layer_inputs, call=_call_two_layer,
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
           Case("wide", 2, dict(N=6, D_in=20, H=16, D_out=5))),
)


# ------------------------------------------------------------------------ CenteredLayer
def _centered_inputs(rand, shape):
    return {"seed": rand.seed, "device": rand.device,
            "x": rand.randn(*shape, scale=2.0) + 1.5, "g": rand.randn(*shape)}


@_strict_float32
def _call_centered(cls, i):
    layer = _build(cls, i)
    x = i["x"].detach().clone().requires_grad_()
    y = layer(x)
    _backprop([y], [i["g"]])
    return y, float(len(list(layer.parameters()))), x.grad


def _centered_oracle(i, out):
    n = out.get("n_params")
    if n != 0.0:
        raise CheckFailure(f"CenteredLayer: the layer registers {int(n)} parameter(s), expected none "
                           f"(device {i['device']})\nHint: a centring layer has nothing to learn: "
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
    call=_call_centered,
    outputs=("y", "n_params", "grad_x"),
    oracle=_centered_oracle,
    tol=Tol(1e-5, 1e-5, "float32 mean of <= 24 numbers; CUDA may sum in another order"),
    cases=(Case("matrix", 0, dict(shape=(4, 3))), Case("one row", 1, dict(shape=(1, 5))),
           Case("3-D", 2, dict(shape=(2, 3, 4)))),
    mistakes=_centered_mistakes,
    oracle_uses_outputs=True,
)


# ------------------------------------------------------------------------ ListDense
def _list_inputs(rand, N, sizes):
    return {"seed": rand.seed, "device": rand.device, "sizes": tuple(sizes),
            "x": rand.randn(N, sizes[0]), "g": rand.randn(N, sizes[-1])}


def _list_names(i):
    return tuple(f"params.{k}" for k in range(len(i["sizes"]) - 1))


@_strict_float32
def _call_list(cls, i):
    model = _build(cls, i, list(i["sizes"]))
    names = _list_names(i)
    named = _registered(model, names, i["seed"])
    y = model(i["x"])
    _backprop([y], [i["g"]])
    return (y, *_captured(model, named, names))


def _list_fn(w, x, relu_last=False, relu=True):
    for k, W in enumerate(w):
        x = x @ W
        if relu and (k < len(w) - 1 or relu_last):
            x = F.relu(x)
    return x


list_dense = _module_spec(
    "ch07.ListDense",
    inputs=_list_inputs, call=_call_list, names=_list_names,
    shapes=lambda i: [(a, b) for a, b in zip(i["sizes"][:-1], i["sizes"][1:])],
    forward=lambda w, i: _list_fn(w, i["x"].double()),
    y_mistakes=lambda w, i: [
        (_list_fn(w, i["x"].double(), relu_last=True),
         "the output went through a ReLU after the last layer: no activation after the last one"),
        (_list_fn(w, i["x"].double(), relu=False),
         "no ReLU was applied: use a ReLU after every layer but the last")],
    cases=(Case("three layers", 0, dict(N=4, sizes=(5, 4, 6, 3))),
           Case("batch of one, deeper", 1, dict(N=1, sizes=(3, 6, 6, 6, 2))),
           Case("one layer", 2, dict(N=3, sizes=(4, 2)))),
)


# ------------------------------------------------------------------------ DictDense
def _dict_inputs(rand, N, D_in, heads):
    return {"seed": rand.seed, "device": rand.device, "D_in": D_in, "heads": dict(heads),
            "x": rand.randn(N, D_in), "g": rand.randn(N, sum(dict(heads).values()))}


def _dict_names(i):
    return tuple(f"params.{name}" for name in i["heads"])


@_strict_float32
def _call_dict(cls, i):
    model = _build(cls, i, i["D_in"], dict(i["heads"]))
    names = _dict_names(i)
    named = _registered(model, names, i["seed"])
    ys = []
    for (choice, d_out) in i["heads"].items():
        y = model(i["x"], choice)
        if type(y) is not torch.Tensor or tuple(y.shape) != (i["x"].shape[0], d_out):
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"forward(x, '{choice}') returned {shape}, expected a tensor of shape "
                             f"{(i['x'].shape[0], d_out)}: use self.params[choice], "
                             "the weights of the chosen head")
        ys.append(y)
    y = torch.cat(ys, dim=1)   # every head's output side by side
    _backprop([y], [i["g"]])
    return (y, *_captured(model, named, names))


def _dict_fn(w, i, first_only=False):
    x = i["x"].double()
    return torch.cat([x @ (w[0] if first_only else W) for W in w], dim=1)



dict_dense = _module_spec(
    "ch07.DictDense",
    inputs=_dict_inputs, call=_call_dict, names=_dict_names,
    shapes=lambda i: [(i["D_in"], d) for d in i["heads"].values()],
    forward=_dict_fn,
    y_mistakes=lambda w, i: [(_dict_fn(w, i, first_only=True),
                              "every choice returned the first head's output: use self.params[choice]")],
    cases=(Case("three heads", 0, dict(N=4, D_in=5, heads={"linear1": 4, "linear2": 1, "linear3": 2})),
           Case("same sizes", 1, dict(N=2, D_in=3, heads={"a": 3, "b": 3})),
           Case("batch of one", 2, dict(N=1, D_in=6, heads={"left": 2, "right": 5}))),
)


# ------------------------------------------------------------------------ DynamicNet
DYNAMIC_NAMES = ("input_linear.weight", "input_linear.bias", "middle_linear.weight",
                 "middle_linear.bias", "output_linear.weight", "output_linear.bias")
RANDOM_CALLS = 12   # forward(x) calls without a depth, for the "random depth" property


def _dynamic_inputs(rand, N, D_in, H, D_out, depth):
    return {"seed": rand.seed, "device": rand.device, "sizes": (D_in, H, D_out), "depth": depth,
            "x": rand.randn(N, D_in), "g": rand.randn(N, D_out)}


@_strict_float32
def _call_dynamic(cls, i):
    model = _build(cls, i, *i["sizes"])
    named = _registered(model, DYNAMIC_NAMES, i["seed"])
    _seed_everything(i["seed"] + 1)
    with torch.no_grad():
        free = tuple(model(i["x"]) for _ in range(RANDOM_CALLS))
    y = model(i["x"], depth=i["depth"])
    _backprop([y], [i["g"]])
    return (y, *_captured(model, named, DYNAMIC_NAMES), free)


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
    if type(free) is not tuple or not free:
        raise CheckFailure("DynamicNet: forward(x) without a depth returned nothing usable")
    ws = [w.double() for w in outputs["weights"]]
    refs = [_dynamic_fn(ws, inputs["x"].double(), k).float() for k in range(4)]
    seen = []
    for n, y in enumerate(free):
        match = [k for k, r in enumerate(refs) if type(y) is torch.Tensor and y.shape == r.shape
                 and y.dtype == r.dtype and bool(torch.allclose(y.cpu(), r.cpu(), rtol=1e-4, atol=1e-5))]
        if not match:
            raise CheckFailure(f"DynamicNet: call {n + 1} of forward(x) without a depth returned an "
                               "output that matches no depth in 0, 1, 2, 3 (device "
                               f"{inputs['device']})\nHint: when depth is None, draw it with "
                               "random.randint(0, 3) on every call")
        seen.append(match[0])
    if len(set(seen)) < 2:
        raise CheckFailure(f"DynamicNet: {len(free)} calls of forward(x) without a depth all used "
                           f"depth {seen[0]} (device {inputs['device']})\nHint: draw a new random "
                           "depth on every call (random.randint(0, 3) inside forward), not once "
                           "in __init__ or not at all")


dynamic_net = _module_spec(
    "ch07.DynamicNet",
    inputs=_dynamic_inputs, call=_call_dynamic, names=lambda i: DYNAMIC_NAMES,
    shapes=lambda i: [(i["sizes"][1], i["sizes"][0]), (i["sizes"][1],),
                      (i["sizes"][1], i["sizes"][1]), (i["sizes"][1],),
                      (i["sizes"][2], i["sizes"][1]), (i["sizes"][2],)],
    forward=lambda w, i: _dynamic_fn(w, i["x"].double(), i["depth"]),
    y_mistakes=_dynamic_y_mistakes, grad_mistakes=_dynamic_grad_mistakes,
    outputs=("y", "n_params", "weights", "grads", "free"),
    properties=(Property("random depth", _random_depth,
                         "forward(x) draws a depth in 0..3 on every call", cases=("depth 3",)),),
    cases=(Case("depth 3", 0, dict(N=4, D_in=5, H=6, D_out=3, depth=3)),
           Case("depth 0", 1, dict(N=2, D_in=3, H=4, D_out=2, depth=0)),
           Case("depth 2, batch of one", 2, dict(N=1, D_in=4, H=5, D_out=3, depth=2))),
)


# ------------------------------------------------------------------------ corr2d
def _corr_inputs(rand, h, w, kh, kw, dtype=torch.float32):
    return {"device": rand.device, "X": rand.randn(h, w, dtype=dtype, requires_grad=True),
            "K": rand.randn(kh, kw, dtype=dtype, requires_grad=True),
            "g": rand.randn(h - kh + 1, w - kw + 1, dtype=dtype)}


def _call_with_grads(y, leaves, g):
    _backprop([y], [g])
    return (y, *(t.grad for t in leaves))


@_strict_float32
def _call_corr(fn, i):
    X, K = (i[k].detach().clone().requires_grad_() for k in ("X", "K"))
    return _call_with_grads(fn(X, K), (X, K), i["g"])


def reference_corr2d(X, K):
    """Cross-correlation by PyTorch's own conv2d (which does not flip the kernel)."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def _output_shape_first(ex, expected_shape, hint):
    """The oracle checks the output's shape first, with a hint specific to the exercise."""
    def check(i, out):
        y = out.get("Y")
        if type(y) is torch.Tensor and tuple(y.shape) != expected_shape(i):
            device, context = _context(i)
            raise CheckFailure(f"{ex}: the result has shape {tuple(y.shape)}, expected "
                               f"{expected_shape(i)} (device {device}, {context})\nHint: {hint}")
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
    return {"Y": [Mistake(y_conv.detach(), flip_hint),
                  Mistake(reference_corr2d(X, K) / (kh * kw),
                          "each window was averaged: sum the products, do not take their mean")],
            "grad_X": [Mistake(gX, flip_hint)]}


CORR_SHAPE_HINT = ("a kh x kw kernel fits (h - kh + 1) x (w - kw + 1) times in an h x w input: "
                   "rows first, columns second, range(h - kh + 1) and not range(h - kh)")

corr2d = Spec(
    name="ch07.corr2d",
    inputs=_corr_inputs,
    call=_call_corr,
    outputs=("Y", "grad_X", "grad_K"),
    oracle=_grad_oracle(lambda X, K, i: reference_corr2d(X, K), ("X", "K"),
                        _output_shape_first("corr2d", lambda i: tuple(i["g"].shape), CORR_SHAPE_HINT)),
    tol=F32,   # set by the float32 cases; the float64 case passes far inside it
    cases=(Case("non-square", 0, dict(h=6, w=8, kh=2, kw=3)),
           Case("tall kernel", 1, dict(h=5, w=4, kh=3, kw=1)),
           Case("one row, float64", 2, dict(h=1, w=7, kh=1, kw=2, dtype=torch.float64)),
           Case("kernel as large as the input", 3, dict(h=3, w=4, kh=3, kw=4))),
    mistakes=_corr_mistakes,
    oracle_uses_outputs=True,
)


# ------------------------------------------------------------------------ Conv2D (module)
def _conv_inputs(rand, h, w, kh, kw):
    return {"seed": rand.seed, "device": rand.device, "kernel_size": (kh, kw),
            "x": rand.randn(h, w), "g": rand.randn(h - kh + 1, w - kw + 1)}


CONV_NAMES = ("weight", "bias")


@_strict_float32
def _call_conv(cls, i):
    model = _build(cls, i, tuple(i["kernel_size"]))
    named = _registered(model, CONV_NAMES, i["seed"])
    # Grade the module alone: inside its forward, `corr2d` is PyTorch's, not the learner's.
    scope = getattr(getattr(cls, "forward", None), "__globals__", None)
    saved = scope.get("corr2d", None) if scope is not None else None
    if scope is not None:
        scope["corr2d"] = reference_corr2d
    try:
        y = model(i["x"])
    finally:
        if scope is not None:
            if saved is None:
                scope.pop("corr2d", None)
            else:
                scope["corr2d"] = saved
    _backprop([y], [i["g"]])
    return (y, *_captured(model, named, CONV_NAMES))


def _conv_fn(w, i, bias=True):
    y = reference_corr2d(i["x"].double(), w[0])
    return y + w[1] if bias else y


conv2d_module = _module_spec(
    "ch07.Conv2D",
    inputs=_conv_inputs, call=_call_conv, names=lambda i: CONV_NAMES,
    shapes=lambda i: [tuple(i["kernel_size"]), (1,)],
    forward=_conv_fn,
    y_mistakes=lambda w, i: [
        (_conv_fn(w, i, bias=False), "the bias is missing: return corr2d(x, self.weight) + self.bias"),
        (reference_corr2d(i["x"].double(), w[0].flip(0, 1)) + w[1],
         "the kernel is flipped (a convolution): use corr2d(x, self.weight) as it is")],
    cases=(Case("non-square", 0, dict(h=6, w=8, kh=1, kw=2)),
           Case("tall kernel", 1, dict(h=7, w=5, kh=3, kw=2)),
           Case("square", 2, dict(h=4, w=4, kh=2, kw=2))),
)


# ------------------------------------------------------------------------ pool2d
def _pool_inputs(rand, h, w, ph, pw, mode, dtype=torch.float32):
    return {"device": rand.device, "size": (ph, pw), "mode": mode,
            "X": rand.randn(h, w, dtype=dtype, requires_grad=True),
            "g": rand.randn(h - ph + 1, w - pw + 1, dtype=dtype)}


@_strict_float32
def _call_pool(fn, i):
    X = i["X"].detach().clone().requires_grad_()
    return _call_with_grads(fn(X, tuple(i["size"]), i["mode"]), (X,), i["g"])


def reference_pool2d(X, size, mode):
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return pool(X[None, None], tuple(size), stride=1)[0, 0]


def _pool_mistakes(i):
    X, size, mode = i["X"].detach(), tuple(i["size"]), i["mode"]
    other = "avg" if mode == "max" else "max"
    n = size[0] * size[1]
    wrong = [Mistake(reference_pool2d(X, size, other),
                     f"this is {other} pooling, but mode='{mode}' was asked")]
    if mode == "avg":
        wrong.append(Mistake(reference_pool2d(X, size, "avg") * n,
                             "each window was summed: average pooling divides the sum by p_h * p_w"))
    return {"Y": wrong}


POOL_SHAPE_HINT = ("pooling here slides the window one step at a time (stride 1), like corr2d: "
                   "the output has (h - p_h + 1) x (w - p_w + 1) entries")

pool2d = Spec(
    name="ch07.pool2d",
    inputs=_pool_inputs,
    call=_call_pool,
    outputs=("Y", "grad_X"),
    oracle=_grad_oracle(lambda X, i: reference_pool2d(X, i["size"], i["mode"]), ("X",),
                        _output_shape_first("pool2d", lambda i: tuple(i["g"].shape), POOL_SHAPE_HINT)),
    tol=F32,
    cases=(Case("max, non-square", 0, dict(h=5, w=7, ph=2, pw=3, mode="max")),
           Case("avg, non-square", 1, dict(h=6, w=4, ph=3, pw=2, mode="avg")),
           Case("max, float64", 2, dict(h=3, w=3, ph=2, pw=2, mode="max", dtype=torch.float64)),
           Case("avg, one row", 3, dict(h=1, w=6, ph=1, pw=4, mode="avg"))),
    mistakes=_pool_mistakes,
    oracle_uses_outputs=True,
)


# ------------------------------------------------------------------------ LeNet
LENET_LAYERS = ("Conv2d(1, 6, kernel_size=5, padding=2)", "Sigmoid()",
                "AvgPool2d(kernel_size=2, stride=2)", "Conv2d(6, 16, kernel_size=5)", "Sigmoid()",
                "AvgPool2d(kernel_size=2, stride=2)", "Flatten()", "Linear(16 * 5 * 5, 120)",
                "Sigmoid()", "Linear(120, 84)", "Sigmoid()", "Linear(84, 10)")
LENET_PARAMS = {0: ((6, 1, 5, 5), (6,)), 3: ((16, 6, 5, 5), (16,)), 7: ((120, 400), (120,)),
                9: ((84, 120), (84,)), 11: ((10, 84), (10,))}
LENET_NAMES = tuple(f"net.{k}.{p}" for k in LENET_PARAMS for p in ("weight", "bias"))
LENET_SHAPES = tuple(s for pair in LENET_PARAMS.values() for s in pair)
LENET_PARAM_COUNT = sum(int(np.prod(s)) for s in LENET_SHAPES)   # 61706


def _lenet_inputs(rand, N):
    return {"seed": rand.seed, "device": rand.device, "x": rand.uniform(N, 1, 28, 28),
            "g": rand.randn(N, 10)}


@_strict_float32
def _call_lenet(cls, i):
    model = _build(cls, i)
    named = _registered(model, LENET_NAMES, i["seed"])
    net = getattr(model, "net", None)
    if not isinstance(net, torch.nn.Sequential):
        raise AttributeError("LeNet must keep its layers in self.net = nn.Sequential(...), in the "
                             "order the exercise gives")
    stages, h = [], i["x"]
    with torch.no_grad():
        for layer in net:
            h = layer(h)
            stages.append(h)
    y = model(i["x"])
    _backprop([y], [i["g"]])
    return (y, *_captured(model, named, LENET_NAMES), tuple(stages))


def _lenet_stages(w, x):
    """LeNet-5 (sigmoid, average pooling) with F.* ops; the output of every stage."""
    out = []
    h = F.conv2d(x, w[0], w[1], padding=2); out.append(h)
    h = torch.sigmoid(h); out.append(h)
    h = F.avg_pool2d(h, 2, 2); out.append(h)
    h = F.conv2d(h, w[2], w[3]); out.append(h)
    h = torch.sigmoid(h); out.append(h)
    h = F.avg_pool2d(h, 2, 2); out.append(h)
    h = h.flatten(1); out.append(h)
    h = F.linear(h, w[4], w[5]); out.append(h)
    h = torch.sigmoid(h); out.append(h)
    h = F.linear(h, w[6], w[7]); out.append(h)
    h = torch.sigmoid(h); out.append(h)
    h = F.linear(h, w[8], w[9]); out.append(h)
    return out


def _lenet_expected_y(y, i, out):
    """Before the final output, every stage of self.net: its shape, then its values."""
    stages = out.get("stages")
    expected = _lenet_stages(i["_weights"], i["x"].double())
    if type(stages) is not tuple or len(stages) != len(expected):
        n = len(stages) if type(stages) is tuple else 0
        raise CheckFailure(f"LeNet: self.net has {n} layers, expected {len(expected)}: "
                           + ", ".join(LENET_LAYERS))
    for k, (got, exp) in enumerate(zip(stages, expected)):
        what = f"LeNet: the output of self.net[{k}] (expected {LENET_LAYERS[k]})"
        if type(got) is torch.Tensor and tuple(got.shape) != tuple(exp.shape):
            raise CheckFailure(f"{what} has shape {tuple(got.shape)}, expected {tuple(exp.shape)} "
                               f"(device {i['device']}, input x {tuple(i['x'].shape)})\nHint: "
                               "check the kernel size, padding and stride of the layers up to here")
        _compare(got, exp.float(), F32, what, i)
    return {"y": y.float()}


lenet = _module_spec(
    "ch07.LeNet",
    inputs=_lenet_inputs, call=_call_lenet, names=lambda i: LENET_NAMES,
    shapes=lambda i: LENET_SHAPES,
    forward=lambda w, i: _lenet_stages(w, i["x"].double())[-1],
    outputs=("y", "n_params", "weights", "grads", "stages"),
    expected_y=lambda y, i, out: _lenet_expected_y(y, i, out),
    cases=(Case("batch of two", 0, dict(N=2)), Case("batch of one", 1, dict(N=1))),
)

SPECS = register(two_layer_net, centered_layer, list_dense, dict_dense, dynamic_net, corr2d,
                 conv2d_module, pool2d, lenet)

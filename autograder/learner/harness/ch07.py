"""Chapter 07: custom and dynamic modules, convolution and pooling by hand, LeNet.

Module exercises: the learner's class is built under a fixed seed, moved with
`.to(device)` (the case's device: the CPU, a GPU, or `meta`, where a tensor made without
`device=` meets the input on another device exactly as on a GPU, so device mistakes show
on any machine), every parameter the exercise names gets seeded noise added (a
zero-initialised bias then cannot hide a missing `+ bias`), `forward` runs on the grader's
input and a seeded cotangent `g` is backpropagated. What comes back is plain tensors and
numbers: the outputs, the parameters registered under the names the exercise fixes (None
where there is none), their `.grad`, and how many parameters are registered.

`corr2d`, `pool2d` and `Conv2D` say "write it yourself": the operations they issue are
counted by family (convolution, pooling, window extraction), also when they are reached
through helper functions. Nothing here computes an answer: the grader judges.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections import Counter
from typing import Any, Sequence

import numpy as np
import torch

from ..probes import default_device, torch_ops
from . import calls

CALLS, harness = calls()
NUDGE = 0.05   # scale of the seeded noise added to every named parameter

# Families of ATen operations the hand-written exercises may not issue (substrings of the
# operation's name): F.conv2d and nn.Conv2d show as `convolution`, F.max_pool2d as
# `max_pool2d_with_indices`, F.unfold as `im2col`, Tensor.unfold as `unfold`.
FORBIDDEN = (("conv",), ("pool",), ("unfold", "im2col", "col2im"))
# Elementwise activations as ATen names them (nn.* and F.* forms alike).
ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu", "elu", "silu", "hardtanh", "hardsigmoid",
               "hardswish", "softplus", "mish", "leaky_relu", "prelu", "rrelu", "clamp",
               "threshold", "log_sigmoid", "softsign", "logit")


def forbidden_counts(ops: Counter) -> tuple[float, float, float]:
    """(convolution, pooling, window-extraction) operations among those counted."""
    return tuple(float(sum(n for name, n in ops.items() if any(k in name for k in family)))
                 for family in FORBIDDEN)


def activation_count(ops: Counter) -> float:
    return float(sum(n for name, n in ops.items() if any(a in name for a in ACTIVATIONS)))


def meta_errors_are_errors(call):
    """On the `meta` device, copying a tensor's data (e.g. into a CPU tensor) raises
    NotImplementedError, which the grader would read as "not answered yet": re-raise it
    as the device mistake it is."""

    @functools.wraps(call)
    def wrapped(learner, i):
        try:
            return call(learner, i)
        except NotImplementedError as err:
            if "meta" in str(err):
                raise RuntimeError(f"{err} (a tensor on the meta device met one elsewhere)") from None
            raise

    return wrapped


def strict_float32(call):
    """Run a call with TF32 off: on Ampere and later GPUs cuDNN convolutions use TF32 by
    default (about 3 decimal digits), which would leave the float32 results of a correct
    answer 1e-3 away from a float64 reference. The previous settings are restored."""

    @functools.wraps(call)
    @meta_errors_are_errors
    def wrapped(learner, i):
        saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            return call(learner, i)
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved

    return wrapped


def seed_everything(seed: int) -> None:
    """The learner's module may draw its weights or its depth from torch, random or numpy."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def build(cls, i: dict, *args, **kwargs):
    """The learner's module, built under the case's seed and moved to the case's device.
    On `meta`, it is also built there (tensors made without `device=` land on meta), as a
    GPU user's code would build it with a GPU default: a parameter then moved elsewhere in
    `__init__` (nn.Parameter(...).to(...), which is no longer a parameter) shows."""
    seed_everything(i["seed"])
    where = default_device("meta") if i["device"] == "meta" else contextlib.nullcontext()
    with where:
        model = cls(*args, **kwargs)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{getattr(cls, '__name__', cls)} must be a subclass of nn.Module "
                        "(class Name(nn.Module): ..., calling super().__init__() first)")
    moved = model.to(i["device"])
    return moved if isinstance(moved, torch.nn.Module) else model


def nudge(model, names: Sequence[str], seed: int) -> dict:
    """Every registered parameter by name; the named ones get seeded noise added."""
    named = dict(model.named_parameters())
    gen = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for n in names:
            p = named.get(n)
            if p is not None:
                noise = torch.randn(tuple(p.shape), generator=gen, dtype=torch.float64)
                p.add_(NUDGE * noise.to(device=p.device, dtype=p.dtype))
    return named


def backprop(ys: Sequence[Any], gs: Sequence[torch.Tensor]) -> None:
    """Backward of sum_k <y_k, g_k> over the outputs that can carry it (fills .grad)."""
    total = None
    for y, g in zip(ys, gs):
        if type(y) is torch.Tensor and y.requires_grad and tuple(y.shape) == tuple(g.shape) \
                and y.dtype == g.dtype and y.device == g.device:
            term = (y * g).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()


def vjp(y: Any, leaves: Sequence[torch.Tensor], g: torch.Tensor) -> tuple:
    """d<y, g>/d(leaves) by autograd.grad (the leaves' own .grad is left alone), or None
    for each leaf the result does not reach."""
    if type(y) is not torch.Tensor or not y.requires_grad or tuple(y.shape) != tuple(g.shape) \
            or y.dtype != g.dtype or y.device != g.device:
        return tuple(None for _ in leaves)
    grads = torch.autograd.grad(y, list(leaves), grad_outputs=g, allow_unused=True)
    return tuple(grads)


def captured(model, named: dict, names: Sequence[str]) -> tuple:
    """(number of registered parameters, the named ones, their gradients)."""
    ws = tuple(named.get(n) for n in names)
    return float(len(named)), ws, tuple(None if w is None else w.grad for w in ws)


def _module(cls, i, args, names, run=None):
    model = build(cls, i, *args)
    named = nudge(model, names, i["seed"])
    y = model(i["x"]) if run is None else run(model)
    backprop([y], [i["g"]])
    return (y, *captured(model, named, names))


# ------------------------------------------------------------------------ modules
TWO_LAYER_NAMES = ("linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias")


@harness("TwoLayerNet")
@strict_float32
def two_layer_net(cls, i):
    return _module(cls, i, i["sizes"], TWO_LAYER_NAMES)


@harness("CenteredLayer")
@strict_float32
def centered_layer(cls, i):
    layer = build(cls, i)
    x = i["x"]                      # requires grad: an in-place change of it fails loudly
    y = layer(x)
    (grad_x,) = vjp(y, [x], i["g"])
    return y, float(len(list(layer.parameters()))), grad_x


def list_names(sizes) -> tuple[str, ...]:
    return tuple(f"params.{k}" for k in range(len(sizes) - 1))


@harness("ListDense")
@strict_float32
def list_dense(cls, i):
    return _module(cls, i, (list(i["sizes"]),), list_names(i["sizes"]))


@harness("DictDense")
@strict_float32
def dict_dense(cls, i):
    names = tuple(f"params.{name}" for name in i["heads"])

    def every_head(model):
        ys = []
        for choice, d_out in i["heads"].items():
            y = model(i["x"], choice)
            if type(y) is not torch.Tensor or tuple(y.shape) != (i["x"].shape[0], d_out):
                shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                raise ValueError(f"forward(x, '{choice}') returned {shape}, expected a tensor of "
                                 f"shape {(i['x'].shape[0], d_out)}: use self.params[choice], the "
                                 "weights of the chosen head")
            ys.append(y)
        return torch.cat(ys, dim=1)   # every head's output side by side

    return _module(cls, i, (i["D_in"], dict(i["heads"])), names, every_head)


DYNAMIC_NAMES = ("input_linear.weight", "input_linear.bias", "middle_linear.weight",
                 "middle_linear.bias", "output_linear.weight", "output_linear.bias")
RANDOM_CALLS = 60   # forward(x) calls without a depth: P(a depth of 0..3 never drawn) < 1e-7


@harness("DynamicNet")
@strict_float32
def dynamic_net(cls, i):
    model = build(cls, i, *i["sizes"])
    named = nudge(model, DYNAMIC_NAMES, i["seed"])
    free = ()
    if i["random_calls"]:
        seed_everything(i["seed"] + 1)
        with torch.no_grad():
            free = tuple(model(i["x"]) for _ in range(RANDOM_CALLS))
    y = model(i["x"], depth=i["depth"])
    backprop([y], [i["g"]])
    return (y, *captured(model, named, DYNAMIC_NAMES), free)


NORM_NAMES = ("weight", "bias")
# PyTorch's own normalisations, as ATen names them (F.layer_norm, F.batch_norm, nn.*Norm).
NORM_OPS = ("layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm")


@harness("Normalize")
@strict_float32
def normalize(cls, i):
    args = (i["num_features"], i["dim"])
    model = build(cls, i, *args) if i["eps"] is None else build(cls, i, *args, eps=i["eps"])
    named = dict(model.named_parameters())
    initial = tuple(None if named.get(n) is None else named[n].detach().clone() for n in NORM_NAMES)
    named = nudge(model, NORM_NAMES, i["seed"])
    y, ops = torch_ops(model, i["x"])
    backprop([y], [i["g"]])
    norm_ops = float(sum(n for name, n in ops.items() if any(k in name for k in NORM_OPS)))
    return (y, *captured(model, named, NORM_NAMES), *initial, norm_ops)


# ------------------------------------------------------------------------ by hand
@harness("corr2d")
@strict_float32
def corr2d(fn, i):
    X, K = i["X"], i["K"]          # leaves that require grad: in-place changes fail loudly
    Y, ops = torch_ops(fn, X, K)
    return (Y, *vjp(Y, [X, K], i["g"]), forbidden_counts(ops))


@harness("pool2d")
@strict_float32
def pool2d(fn, i):
    X, size = i["X"], tuple(i["size"])
    if i["mode"] == "max" and i["default_mode"]:
        Y, ops = torch_ops(fn, X, size)             # "max" is the default mode
    else:
        Y, ops = torch_ops(fn, X, size, i["mode"])
    return (Y, *vjp(Y, [X], i["g"]), forbidden_counts(ops))


CONV_NAMES = ("weight", "bias")


@harness("Conv2D")
@strict_float32
def conv2d_module(cls, i):
    # The grader runs this with a stand-in for the learner's `corr2d` (see the spec's
    # `isolate`), so a mistake there is not counted twice.
    model = build(cls, i, tuple(i["kernel_size"]))
    named = nudge(model, CONV_NAMES, i["seed"])
    y, ops = torch_ops(model, i["x"])
    backprop([y], [i["g"]])
    return (y, *captured(model, named, CONV_NAMES), forbidden_counts(ops))


# ------------------------------------------------------------------------ LeNet
PARTS = ("block1", "block2", "head")


def _shapes(module) -> tuple:
    return tuple(tuple(float(s) for s in p.shape) for p in module.parameters())


def _scores_test(model, i):
    """The model's output with the head's (10, 84) weight set to zero and its (10,) bias
    to the grader's scores: equal to those scores exactly when nothing follows the last
    linear layer. The parameters are restored afterwards. None when they are not found."""
    head = dict(model.head.named_parameters())
    weight = next((p for p in head.values() if tuple(p.shape) == (10, 84)), None)
    bias = next((p for p in head.values() if tuple(p.shape) == (10,)), None)
    if weight is None or bias is None:
        return None
    saved = weight.detach().clone(), bias.detach().clone()
    with torch.no_grad():
        weight.zero_()
        bias.copy_(i["scores"])
        out = model(i["x"])
        weight.copy_(saved[0])
        bias.copy_(saved[1])
    return out


@harness("LeNet")
@strict_float32
def lenet(cls, i):
    model = build(cls, i)
    for name in PARTS:
        if not isinstance(getattr(model, name, None), torch.nn.Module):
            raise AttributeError(f"LeNet must keep its three parts in self.block1, self.block2 "
                                 f"and self.head, each an nn.Module; self.{name} is missing")
    x = i["x"]
    with torch.no_grad():
        h1, ops1 = torch_ops(model.block1, x)
        h2, ops2 = torch_ops(model.block2, h1)
        composed, ops3 = torch_ops(model.head, h2)
    y = model(x)
    backprop([y], [i["g"]])
    params = list(model.parameters())
    no_grad = float(sum(p.grad is None for p in params))
    stage_ops = tuple((*forbidden_counts(ops)[:2], activation_count(ops)) for ops in (ops1, ops2))
    return (y, composed, h1, h2, stage_ops[0], stage_ops[1], activation_count(ops3),
            _shapes(model.block1), _shapes(model.block2), _shapes(model.head),
            float(len(params)), no_grad, _scores_test(model, i))

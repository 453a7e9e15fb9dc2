"""Chapter 05: torch.nn. Modules cannot cross between the grader and a kernel, so the
grader sends a model as plain data (a list of layer descriptions and a state: tensors by
their state_dict names, with `requires_grad` and `.grad`), `build` makes the module here,
and what is observed of the learner's work comes back as tensors and numbers: type names
as uint8 tensors of their UTF-8 bytes, weights as tensors, facts as 0/1 floats.

Probes: the losses run a second time while tensors created without `device=` land on the
`meta` device (the result must be exactly the same);
`initialize_weights` runs a second time on a copy of the model that lives on `meta`
(parameters that leave it were replaced by tensors made on another device);
`save_and_reload` runs with PyTorch's "replace a module's parameters when it is moved"
setting, so `.cpu()` / `.to()` on the given model shows even on a CPU-only machine, and
with `torch.load` wrapped to see whether (and how) the file at `path` was read.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import torch
from torch import nn

from ..probes import default_device, torch_ops
from . import calls

CALLS, harness = calls()

# What a layer description may name: ("Linear", 3, 4), ("Sequential", [...]), ...
KINDS = ("Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "ReLU", "Tanh", "Flatten",
         "AdaptiveAvgPool2d", "Sequential")


def name_bytes(obj: Any) -> torch.Tensor:
    """The class name of `obj` as a uint8 tensor: a plain value that can cross."""
    return torch.tensor(list(type(obj).__name__.encode()), dtype=torch.uint8)


def build(layers: list, device: str | torch.device = "cpu") -> nn.Sequential:
    """An nn.Sequential from plain layer descriptions, without touching the global random
    state (the weights are meant to be loaded or initialised afterwards)."""
    def make(items):
        mods = []
        for item in items:
            kind, *args = item
            if kind not in KINDS:
                raise ValueError(f"unknown layer kind {kind!r}")
            mods.append(make(args[0]) if kind == "Sequential" else getattr(nn, kind)(*args))
        return nn.Sequential(*mods)

    with torch.random.fork_rng(devices=[]):
        with torch.device(device):
            return make(layers)


def device_of(state: dict) -> torch.device:
    return next(iter(state.values())).device


def load(model: nn.Module, state: dict) -> nn.Module:
    """Copy `state` (tensors by state_dict name) into `model`, with each parameter's
    requires_grad and a copy of its .grad as the state's tensor has them."""
    model.load_state_dict({k: v.detach() for k, v in state.items()})
    params = dict(model.named_parameters())
    for name, t in state.items():
        if name in params:
            params[name].requires_grad_(t.requires_grad)
            params[name].grad = None if t.grad is None else t.grad.detach().clone()
    return model


def model_from(i: dict) -> nn.Module:
    """The model an exercise's inputs describe: layers + state, on the state's device."""
    return load(build(i["layers"], device_of(i["state"])), i["state"])


# ------------------------------------------------------------------ build_two_layer
@harness("build_two_layer")
def build_two_layer(fn, i):
    model = fn(i["d_in"], i["h"], i["d_out"])
    if not isinstance(model, nn.Module):
        return name_bytes(model), (), 0.0, None
    layers = []
    for m in model.children():
        is_linear = isinstance(m, nn.Linear)
        layers.append((name_bytes(m), m.weight if is_linear else None,
                       m.bias if is_linear else None))
    n_params = float(sum(p.numel() for p in model.parameters()))
    try:                               # layers of the wrong sizes fail here: the oracle says why
        model = model.to(i["x"].device)
        with torch.no_grad():
            y = model(i["x"])
    except Exception:  # noqa: BLE001
        y = None
    return name_bytes(model), tuple(layers), n_params, y


# ------------------------------------------------------------------ manual_sgd_step
@harness("manual_sgd_step")
def manual_sgd_step(fn, i):
    model = model_from(i)
    before = list(model.parameters())
    flags = [p.requires_grad for p in before]
    fn(model, i["lr"])
    after = list(model.parameters())
    same = float(len(before) == len(after) and all(a is b for a, b in zip(before, after))
                 and flags == [p.requires_grad for p in after])
    named = dict(model.named_parameters())
    return tuple(named.get(k) for k in i["params"]) + (same,)


# ------------------------------------------------------------------ initialize_weights
@harness("initialize_weights")
def initialize_weights(fn, i):
    model = model_from(i)
    before = list(model.parameters())
    torch.manual_seed(20_05)           # the learner's init draws from the global generator
    fn(model)
    same = float(all(a is b for a, b in zip(before, model.parameters())))
    # again on a copy that lives on the meta device: nn.init works there, and a parameter
    # that leaves it was replaced by a tensor made elsewhere (without device=)
    on_meta = build(i["layers"], "meta")
    fn(on_meta)
    moved = float(sum(p.device.type != "meta" for p in on_meta.parameters()))
    state = dict(model.named_parameters())
    return tuple(state[k].detach() for k in i["params"]) + (same, moved)


# ------------------------------------------------------------------ the losses
def _loss_and_grad(loss, logits):
    grad = None
    if type(loss) is torch.Tensor and loss.requires_grad and loss.numel() == 1:
        (grad,) = torch.autograd.grad(loss.reshape(()), logits, allow_unused=True)
    return loss, grad


# The ATen operations the built-in losses run as (F.cross_entropy is _log_softmax +
# nll_loss_forward): seen even when the call hides in a helper or an alias.
BUILT_IN_LOSS_OPS = frozenset({"_log_softmax", "log_softmax", "logsumexp", "nll_loss_forward",
                               "nll_loss2d_forward", "binary_cross_entropy",
                               "binary_cross_entropy_with_logits", "softplus",
                               "log_sigmoid_forward"})


def _loss_twice(call, i):
    """The loss and its gradient, how many built-in loss operations it ran, and whether a
    second run, while tensors created without `device=` land on the `meta` device, gives
    exactly the same (1.0) or not (0.0)."""
    logits = i["logits"].detach().clone().requires_grad_(True)
    loss, ops = torch_ops(call, logits)
    built_in = float(sum(n for op, n in ops.items() if op in BUILT_IN_LOSS_OPS))
    loss, grad = _loss_and_grad(loss, logits)
    same = 0.0
    try:
        again = i["logits"].detach().clone().requires_grad_(True)
        with default_device("meta"):
            loss2 = call(again)
        loss2, grad2 = _loss_and_grad(loss2, again)
        same = float(type(loss) is torch.Tensor and type(loss2) is torch.Tensor
                     and loss2.device == loss.device and torch.equal(loss2, loss)
                     and (grad is None) == (grad2 is None)
                     and (grad is None or (grad2.device == grad.device and torch.equal(grad2, grad))))
    except Exception:  # noqa: BLE001 - mixing devices raises: that is what is measured
        pass
    return loss, grad, same, built_in


# `target` and `pos_weight` are the grader's own tensors: changing them in place shows.
@harness("cross_entropy_from_scratch")
def cross_entropy_from_scratch(fn, i):
    return _loss_twice(lambda logits: fn(logits, i["target"]), i)


@harness("bce_with_logits_from_scratch")
def bce_with_logits_from_scratch(fn, i):
    def call(logits):
        if i["pos_weight"] is None:
            return fn(logits, i["target"])
        return fn(logits, i["target"], pos_weight=i["pos_weight"])
    return _loss_twice(call, i)


# ------------------------------------------------------------------ save_and_reload
@contextlib.contextmanager
def _params_replaced_on_move():
    """While the block runs, `.to()` / `.cpu()` on a module gives it new parameter objects
    (PyTorch's future behaviour), even when the device does not change."""
    before = torch.__future__.get_overwrite_module_params_on_conversion()
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        yield
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(before)


@contextlib.contextmanager
def _loads_recorded(path: str, reads: list):
    """While the block runs, torch.load records (map_location given?) for each read of `path`."""
    real = torch.load

    def recording_load(f, *args, **kwargs):
        name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", None)
        if isinstance(name, (str, os.PathLike)) and os.path.abspath(name) == os.path.abspath(path):
            reads.append(len(args) >= 1 or kwargs.get("map_location") is not None)
        return real(f, *args, **kwargs)

    torch.load = recording_load
    try:
        yield
    finally:
        torch.load = real


@harness("save_and_reload")
def save_and_reload(fn, i):
    model = model_from(i)
    model.train(i["training"])
    device = device_of(i["state"])
    params = list(model.parameters())
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    reads: list = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "checkpoint.pt")
        with _params_replaced_on_move(), _loads_recorded(path, reads):
            new = fn(model, path)
        if not os.path.exists(path):
            file_code = 0.0
        else:
            try:
                saved = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - anything but a plain state_dict
                saved = None
            if not isinstance(saved, dict):
                file_code = 1.0
            elif set(saved) != set(before):
                file_code = 2.0
            else:
                same = all(type(saved[k]) is torch.Tensor and torch.equal(saved[k], before[k].cpu())
                           for k in before)
                file_code = 4.0 if same else 3.0
    untouched = (all(a is b for a, b in zip(params, model.parameters()))
                 and all(p.device == device for p in model.parameters())
                 and all(torch.equal(v, before[k]) for k, v in model.state_dict().items()))
    original = 0.0 if not untouched else 2.0 if model.training != i["training"] else 1.0
    if new is model:
        returned = 1.0
    elif not isinstance(new, nn.Module):
        returned = 0.0
    elif type(new) is not type(model) or set(new.state_dict()) != set(before):
        returned = 2.0
    elif any(t.device.type != "cpu" for t in new.state_dict().values()):
        returned = 4.0
    else:
        returned = 3.0
    loaded = 0.0 if not reads else 1.0 if all(reads) else 2.0
    state = new.state_dict() if returned == 3.0 else {}
    return (returned, file_code, original, loaded) + tuple(state.get(k) for k in i["keys"])

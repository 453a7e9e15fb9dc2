"""Chapter 09: how each exercise's object is called, and what of it is observed.

Builders the oracles share (`linear`, `loaders`) make the same objects from the same
plain values on both sides. Nothing here computes an exercise's answer: the harnesses
call the learner's object, then measure (values returned, weights after the call, the
train/eval mode and grad mode of each call, counts of optimizer steps, ATen operations
issued, tensors created without `device=`).
"""

from __future__ import annotations

import contextlib
import io

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..probes import CountingSGD, default_device, torch_ops
from . import calls

CALLS, harness = calls()

# ATen operations that would mean the exercise was not written by hand.
SOFTMAX_OPS = ("_log_softmax", "log_softmax", "_softmax", "softmax", "logsumexp", "special_log_softmax")
NLL_OPS = ("nll_loss_forward", "nll_loss", "nll_loss2d_forward", "nll_loss_nd", "cross_entropy_loss",
           "_log_softmax")


# ------------------------------------------------------------------------ builders
def linear(W: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    """nn.Linear carrying the given weight (out, in) and bias, on their device."""
    model = nn.Linear(W.shape[1], W.shape[0]).to(W.device)
    with torch.no_grad():
        model.weight.copy_(W)
        model.bias.copy_(b)
    return model


def loaders(i: dict) -> tuple[DataLoader, DataLoader]:
    """The training and validation loaders of a `fit` case (in order, no shuffling)."""
    return (DataLoader(TensorDataset(i["x"], i["y"]), batch_size=i["bs"]),
            DataLoader(TensorDataset(i["xv"], i["yv"]), batch_size=i["vbs"]))


def _count(ops, names) -> float:
    return float(sum(ops.get(name, 0) for name in names))


def _graph_grad(out, x, cot):
    """d(out)/dx against `cot`, or None when out is not connected to x."""
    if type(out) is not torch.Tensor or out.shape != (cot.shape if cot is not None else ()) \
            or not out.requires_grad:
        return None
    (g,) = torch.autograd.grad(out, x, cot, allow_unused=True)
    return g


# ------------------------------------------------------------------------ log_softmax
@harness("log_softmax")
def _log_softmax(fn, i):
    x = i["x"].detach().clone().requires_grad_()
    out, ops = torch_ops(fn, x)
    grad = None
    if type(out) is torch.Tensor and out.shape == x.shape and out.device == x.device:
        grad = _graph_grad(out, x, i["cot"])
        if grad is None:
            raise RuntimeError("the result of log_softmax is not connected to its input in the "
                               "autograd graph")
    return out, grad, _count(ops, SOFTMAX_OPS)


# ------------------------------------------------------------------------ nll
@harness("nll")
def _nll(fn, i):
    lp = i["log_probs"].detach().clone().requires_grad_()
    out, ops = torch_ops(fn, lp, i["target"])
    if type(out) is not torch.Tensor:
        raise TypeError(f"nll returned {type(out).__name__}: a 0-d tensor is expected")
    if out.ndim != 0:
        raise ValueError(f"nll must return one number (a 0-d tensor), got shape {tuple(out.shape)}")
    grad = None
    if out.device == lp.device:
        grad = _graph_grad(out, lp, None)
        if grad is None:
            raise RuntimeError("the result of nll is not connected to its input in the autograd graph")
    return out, grad, _count(ops, NLL_OPS)


# ------------------------------------------------------------------------ accuracy
@harness("accuracy")
def _accuracy(fn, i):
    """The result, and whether it stays on the input's device when the default device is
    another one (`meta`): a result built from a tensor created without device= would not.
    Only the device of that second run is looked at (meta tensors hold no values)."""
    acc = fn(i["out"], i["yb"])
    if not isinstance(acc, torch.Tensor):
        raise TypeError(f"accuracy returned {type(acc).__name__}: a 0-d float tensor is expected")
    try:
        with default_device("meta"):
            probe = fn(i["out"], i["yb"])
        on_device = float(not isinstance(probe, torch.Tensor) or probe.device == i["out"].device)
    except Exception:   # noqa: BLE001 - mixing devices may raise: the values run decides then
        on_device = 1.0
    return acc, on_device


# ------------------------------------------------------------------------ loss_batch
def _grads_clear(model) -> float:
    """1.0 when no parameter holds a non-zero gradient."""
    return float(all(p.grad is None or not bool(p.grad.any()) for p in model.parameters()))


@harness("loss_batch")
def _loss_batch(fn, i):
    """Two calls in a row on the same model (the second shows stale gradients), with an
    SGD-with-momentum optimizer (a new optimizer per call would lose the momentum), or
    without one. After each call: the loss, n, the weights, whether any gradient is left,
    the optimizer's step count, and whether the model's mode was kept."""
    model = linear(i["W"], i["b"])
    opt = CountingSGD(model.parameters(), lr=i["lr"], momentum=0.9) if i["with_opt"] else None
    got = []
    for xb, yb in ((i["x"], i["y"]), (i["x2"], i["y2"])):
        model.train(opt is not None)      # what fit does around the two kinds of call
        mode = model.training
        r = fn(model, nn.functional.cross_entropy, xb, yb, opt) if opt is not None \
            else fn(model, nn.functional.cross_entropy, xb, yb)
        if not isinstance(r, (tuple, list)) or len(r) != 2:
            raise TypeError("loss_batch must return a pair (loss, batch size), got "
                            f"{type(r).__name__}")
        got += [r[0], r[1], model.weight.detach().clone(), model.bias.detach().clone(),
                _grads_clear(model), float(opt.steps) if opt is not None else 0.0,
                float(model.training == mode)]
    return tuple(got)


# ------------------------------------------------------------------------ fit
def _split(xb, i) -> str:
    """Which loader a batch came from: its first row is a row of x (train) or of xv."""
    if type(xb) is not torch.Tensor or xb.ndim != 2 or len(xb) == 0:
        return "other"
    row = xb[0].to(i["x"].device)
    if bool((i["x"] == row).all(dim=1).any()):
        return "train"
    if bool((i["xv"] == row).all(dim=1).any()):
        return "valid"
    return "other"


@harness("fit")
def _fit(fn, i):
    """fit with the grader's stand-in `loss_batch` (it records every call). Returns the
    validation losses, the weights after training, and a summary of the calls."""
    model = linear(i["W"], i["b"])
    opt = CountingSGD(model.parameters(), lr=i["lr"])
    train_dl, valid_dl = loaders(i)
    stand_in = fn.__globals__.get("loss_batch") if hasattr(fn, "__globals__") else None
    log = getattr(stand_in, "log", None)
    if log is None:
        raise RuntimeError("the grader's stand-in for loss_batch is missing: define fit in a "
                           "notebook cell that calls loss_batch")
    log.clear()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        losses = fn(i["epochs"], model, nn.functional.cross_entropy, opt, train_dl, valid_dl)
    summary = {"train_calls": 0, "valid_calls": 0, "train_in_eval": 0, "train_no_grad": 0,
               "valid_in_train": 0, "valid_with_grad": 0, "valid_with_opt": 0, "train_without_opt": 0,
               "other_opt": 0, "other_calls": 0}
    for call in log:
        split = _split(call["xb"], i)
        if split == "train":
            summary["train_calls"] += 1
            summary["train_without_opt"] += call["opt"] is None
            summary["train_in_eval"] += not call["training"]
            summary["train_no_grad"] += not call["grad"]
        elif split == "valid":
            summary["valid_calls"] += 1
            summary["valid_with_opt"] += call["opt"] is not None
            summary["valid_in_train"] += call["training"]
            summary["valid_with_grad"] += call["grad"]
        else:
            summary["other_calls"] += 1
        summary["other_opt"] += call["opt"] is not None and call["opt"] is not opt
    log.clear()
    return (losses, model.weight.detach().clone(), model.bias.detach().clone(),
            *(float(summary[k]) for k in FIT_SUMMARY))


FIT_SUMMARY = ("train_calls", "valid_calls", "train_in_eval", "train_no_grad", "train_without_opt",
               "valid_in_train", "valid_with_grad", "valid_with_opt", "other_opt", "other_calls")


# ------------------------------------------------------------------------ get_data
@harness("get_data")
def _get_data(fn, i):
    result = fn(TensorDataset(i["x"], i["y"]), TensorDataset(i["xv"], i["yv"]), i["bs"])
    if not isinstance(result, (tuple, list)) or len(result) != 2 or \
            not all(isinstance(dl, DataLoader) for dl in result):
        raise TypeError("get_data must return a pair of DataLoaders (train_dl, valid_dl)")
    train_dl, valid_dl = result
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        epoch1 = [yb for _, yb in train_dl]
        epoch2 = [yb for _, yb in train_dl]
    valid = [yb for _, yb in valid_dl]
    order1, order2 = torch.cat(epoch1), torch.cat(epoch2)
    in_order = torch.arange(len(i["y"]), device=order1.device)
    return (float(len(order1)), float(len(valid[0])),
            tuple(float(len(b)) for b in epoch1), tuple(float(len(b)) for b in valid),
            float(not torch.equal(order1, in_order)), float(not torch.equal(order1, order2)),
            order1.sort().values, float(torch.equal(torch.cat(valid), i["yv"])))


# ------------------------------------------------------------------------ Lambda
@harness("Lambda")
def _lambda(cls, i):
    n_calls = [0]

    def affine(t):
        n_calls[0] += 1
        return 3.0 * t + 1.0

    layer = cls(affine)
    if not isinstance(layer, nn.Module):
        raise TypeError("Lambda(func) must create an nn.Module (class Lambda(nn.Module)), so that it "
                        "can sit inside nn.Sequential")
    try:
        applied = layer(i["x"])
    except AttributeError as err:
        raise AttributeError(f"{err} (did __init__ call super().__init__() first?)") from None
    calls_once = float(n_calls[0])
    n_params = float(sum(p.numel() for p in layer.parameters()))
    reshaped = cls(lambda t: t.view(t.size(0), 1, 4, 4))(i["x"])
    seq = nn.Sequential(cls(affine), linear(i["W"], i["b"]))
    x = i["x"].detach().clone().requires_grad_()
    out = seq(x)
    g = _graph_grad(out, x, i["cot"])
    if g is None and type(out) is torch.Tensor and out.shape == i["cot"].shape:
        raise RuntimeError("no gradient reaches the input through Lambda: forward must return "
                           "func(x) itself, connected to x in the autograd graph")
    return applied, reshaped, calls_once, n_params, out.detach() if type(out) is torch.Tensor else out, g


# ------------------------------------------------------------------------ WrappedDataLoader
@harness("WrappedDataLoader")
def _wrapped(cls, i):
    device = i["x"].device
    dl = DataLoader(TensorDataset(i["x"].cpu(), i["y"].cpu()), batch_size=i["bs"])  # data on the CPU
    n_calls = [0]

    def preprocess(xb, yb):
        n_calls[0] += 1
        return xb.view(-1, 1, 4, 4).to(device), yb.to(device)

    wdl = cls(dl, preprocess)
    length = float(len(wdl))
    epochs = [list(wdl), list(wdl)]
    for e, batches in enumerate(epochs):
        if not batches:
            raise ValueError(f"pass {e + 1} over WrappedDataLoader gave no batches: __iter__ must start "
                             "a fresh pass over dl every time it is called (write it with `yield`, "
                             "do not store one generator in __init__)")
        if not all(isinstance(b, (tuple, list)) and len(b) == 2 for b in batches):
            raise TypeError("each batch of WrappedDataLoader must be the pair func(xb, yb) returns")
    first = epochs[0]
    return (float(n_calls[0]), length, float(sum(len(b[1]) for b in first)),
            tuple(float(len(b[1])) for b in first), torch.cat([b[0] for b in first]),
            torch.cat([b[1] for b in first]), torch.cat([b[1] for b in epochs[1]]))

"""Chapter 09: what torch.nn really is (a raw-tensor classifier refactored into torch.nn).

Oracles: `F.log_softmax`, `F.nll_loss`, `F.cross_entropy` and torch.autograd for the math
exercises; `argmax` plus a Python hand count for `accuracy`; a hand-written SGD update
with autograd for `loss_batch`; `autograder.training.run_epoch` (the course's reference
loop) for `fit`; the batches a loader really yields for `get_data`, `Lambda` and
`WrappedDataLoader`. Everything runs on every device, inputs from `Rand`.
"""

from __future__ import annotations

import contextlib
import io
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..compare import CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec, _with_globals
from ..static import ForbiddenCalls
from ..reference_training import run_epoch
from . import register

# log_softmax: PyTorch's fused kernel and a max-shifted log-sum-exp round differently by a
# few float32 ulps; with logits of 1e4 an ulp is ~1e-3, hence the relative part.
SOFTMAX_TOL = Tol(1e-5, 1e-5, "float32: a hand-written log-sum-exp vs PyTorch's fused kernel; CUDA sums in another order")
# Losses and one SGD step in float32: same operations, possibly fused differently on CUDA.
STEP_TOL = Tol(1e-5, 1e-6, "float32 matmul + one SGD step: the update may be fused differently (CPU vs CUDA)")
# A few epochs of float32 SGD: per-step rounding differences add up a little.
TRAIN_TOL = Tol(1e-4, 1e-5, "float32 over a few epochs of SGD: rounding differences accumulate slightly")
# Counts, sizes, orders: integers, or a count divided by n.
EXACT_ISH = Tol(1e-6, 0.0, "a count divided by n: float32 vs float64 division may differ by one ulp")


def _grad_or_explain(out: torch.Tensor, wrt: torch.Tensor, cot: torch.Tensor | None, what: str):
    if not out.requires_grad:
        raise RuntimeError(f"the result of {what} is not connected to its input in the autograd "
                           "graph: compute it with torch operations on the input, without .detach(), "
                           ".item(), .numpy() or torch.no_grad()")
    (g,) = torch.autograd.grad(out, wrt, cot, allow_unused=True)
    return g


# ------------------------------------------------------------------------ log_softmax
def _ls_inputs(rand, N, C, scale=1.0, big=False, dtype=torch.float32):
    x = rand.uniform(N, C, low=-1e4, high=1e4, dtype=dtype) if big else rand.randn(N, C, scale=scale, dtype=dtype)
    return {"x": x, "cot": rand.randn(N, C, dtype=dtype)}


def _ls_call(fn, i):
    x = i["x"].detach().clone().requires_grad_()
    out = fn(x)
    if type(out) is not torch.Tensor or out.shape != x.shape:
        return out, None              # compare names the wrong type or shape
    return out, _grad_or_explain(out, x, i["cot"], "log_softmax")


def _ls_oracle(i):
    x = i["x"].detach().clone().requires_grad_()
    out = F.log_softmax(x, dim=-1)
    (g,) = torch.autograd.grad(out, x, i["cot"])
    return {"log_probs": out.detach(), "grad": g}


def _ls_mistakes(i):
    x = i["x"]
    return {
        "log_probs": [
            Mistake(F.log_softmax(x, dim=0), "normalised over dim 0 (down the batch): each row is one "
                    "example, so reduce over dim -1 (the classes), with keepdim=True"),
            Mistake(F.softmax(x, dim=-1), "these are probabilities (softmax): take their log"),
            Mistake(F.log_softmax(x, dim=-1) + x.max(dim=-1, keepdim=True).values,
                    "you subtracted the row maximum m inside the exp but did not add it back: "
                    "log sum exp(x) = m + log sum exp(x - m)"),
            Mistake(x - torch.logsumexp(x.flatten(), 0),
                    "normalised over the whole batch at once: each row must sum to one on its own"),
        ],
        "grad": [Mistake(i["cot"], "the gradient ignores the log-sum-exp term: do not .detach() the "
                         "normaliser (only the maximum may be detached)")],
    }


log_softmax = Spec(
    name="ch09.log_softmax",
    inputs=_ls_inputs,
    call=_ls_call,
    outputs=("log_probs", "grad"),
    oracle=_ls_oracle,
    tol=SOFTMAX_TOL,
    cases=(Case("batch of 64", 0, dict(N=64, C=10, scale=3.0)),
           Case("one row", 1, dict(N=1, C=10)),
           Case("5 x 3, float64", 2, dict(N=5, C=3, scale=2.0, dtype=torch.float64)),
           Case("logits up to 1e4", 3, dict(N=8, C=10, big=True))),
    static=(ForbiddenCalls(frozenset({"log_softmax", "softmax", "logsumexp", "LogSoftmax", "Softmax"}),
                           "write it with exp, log, max and sum: the point is to see how it is kept stable"),),
    mistakes=_ls_mistakes,
)


# ------------------------------------------------------------------------ nll
def _nll_inputs(rand, N, C, dtype=torch.float32):
    z = rand.randn(N, C, scale=2.0, dtype=dtype)
    return {"logits": z, "log_probs": F.log_softmax(z, dim=-1), "target": rand.randint(0, C, N)}


def _nll_call(fn, i):
    lp = i["log_probs"].detach().clone().requires_grad_()
    out = fn(lp, i["target"])
    if type(out) is not torch.Tensor:
        raise TypeError(f"nll returned {type(out).__name__}: return the 0-d tensor itself (no .item() "
                        "or float()), so that loss.backward() can follow it")
    if out.ndim != 0:
        raise ValueError(f"nll must return one number (a 0-d tensor), got shape {tuple(out.shape)}: "
                         "average the picked log-probabilities with .mean()")
    return out, _grad_or_explain(out, lp, None, "nll")


def _nll_oracle(i):
    lp = i["log_probs"].detach().clone().requires_grad_()
    out = F.nll_loss(lp, i["target"])
    (g,) = torch.autograd.grad(out, lp)
    return {"loss": out.detach(), "grad": g}


def _nll_mistakes(i):
    lp, t = i["log_probs"], i["target"]
    found = [
        Mistake(-lp[:, t].mean(), "lp[:, target] picks whole columns (an N x N block): pick one entry "
                "per row with lp[range(n), target]"),
        Mistake(-lp.mean(), "this averages every log-probability: keep only the one of the correct "
                "class in each row"),
    ]
    if int(t.max()) < len(lp):
        found.append(Mistake(-lp[t].mean(), "lp[target] picks rows, not one entry per row: use "
                             "lp[range(n), target]"))
    return {"loss": found}


def _matches_cross_entropy(i, out, case):
    loss = out.get("loss")
    expected = F.cross_entropy(i["logits"], i["target"])
    if type(loss) is torch.Tensor and not torch.allclose(loss, expected, rtol=1e-5, atol=1e-6):
        raise CheckFailure(f"nll: nll(log_softmax(z), target) = {float(loss):.6g}, but "
                           f"F.cross_entropy(z, target) = {float(expected):.6g} (case '{case.label}')")


nll = Spec(
    name="ch09.nll",
    inputs=_nll_inputs,
    call=_nll_call,
    outputs=("loss", "grad"),
    oracle=_nll_oracle,
    tol=STEP_TOL,
    cases=(Case("batch of 64", 10, dict(N=64, C=10)),
           Case("one example", 11, dict(N=1, C=10)),
           Case("7 x 3", 12, dict(N=7, C=3)),
           Case("5 x 4, float64", 13, dict(N=5, C=4, dtype=torch.float64))),
    mistakes=_nll_mistakes,
    properties=(Property("equals cross_entropy", _matches_cross_entropy,
                         "F.cross_entropy(z, t) is nll(log_softmax(z), t)"),),
)


# ------------------------------------------------------------------------ accuracy
def _acc_inputs(rand, N, C, kind):
    out = rand.randint(0, 3, N, C).float() if kind == "ties" else rand.randn(N, C)
    yb = rand.randint(0, C, N)
    if kind == "all correct":
        yb = out.argmax(dim=1)
    elif kind == "none correct":
        yb = (out.argmax(dim=1) + 1) % C
    return {"out": out, "yb": yb}


def _acc_call(fn, i):
    acc = fn(i["out"], i["yb"])
    if not isinstance(acc, torch.Tensor):
        raise TypeError(f"accuracy returned {type(acc).__name__}: return a 0-d float tensor, as "
                        "(preds == yb).float().mean() does (no .item())")
    return acc


def _first_max_hits(out: torch.Tensor, yb: torch.Tensor, pick) -> torch.Tensor:
    rows = out.tolist()
    hits = [float(pick(r) == int(y)) for r, y in zip(rows, yb.tolist())]
    return torch.tensor(sum(hits) / len(hits), dtype=torch.float32, device=out.device)


def _acc_mistakes(i):
    out, yb = i["out"], i["yb"]
    C = out.shape[1]
    last = C - 1 - out.flip(1).argmax(dim=1)
    any_max = (out == out.max(dim=1, keepdim=True).values)[torch.arange(len(yb), device=yb.device), yb]
    acc = (out.argmax(dim=1) == yb).float().mean()
    return {"accuracy": [
        Mistake(1 - acc, "this is the error rate (1 - accuracy): count the rows where the prediction "
                "equals the label"),
        Mistake((last == yb).float().mean(), "ties go to the last maximal class: argmax takes the "
                "first one, as the course's reference does"),
        Mistake(any_max.float().mean(), "a row counts as correct whenever its label ties for the "
                "maximum: predict one class per row with argmax"),
    ]}


def _hand_count(i, out, case):
    acc = out.get("accuracy")
    if type(acc) is not torch.Tensor or acc.numel() != 1:
        return
    expected = _first_max_hits(i["out"], i["yb"], lambda r: r.index(max(r)))
    if abs(float(acc) - float(expected)) > 1e-6:
        n = len(i["yb"])
        raise CheckFailure(f"accuracy: counting by hand (first maximal class of each row) gives "
                           f"{round(float(expected) * n)}/{n} = {float(expected):.4g}, yours is "
                           f"{float(acc):.4g} (case '{case.label}')")


accuracy = Spec(
    name="ch09.accuracy",
    inputs=_acc_inputs,
    call=_acc_call,
    outputs=("accuracy",),
    oracle=lambda i: {"accuracy": (i["out"].argmax(dim=1) == i["yb"]).float().mean()},
    tol=EXACT_ISH,
    cases=(Case("random", 20, dict(N=64, C=10, kind="random")),
           Case("ties", 21, dict(N=50, C=4, kind="ties")),
           Case("all correct", 22, dict(N=7, C=3, kind="all correct")),
           Case("none correct", 23, dict(N=9, C=5, kind="none correct")),
           Case("one example", 24, dict(N=1, C=10, kind="random"))),
    mistakes=_acc_mistakes,
    properties=(Property("hand count", _hand_count, "a Python count of first-argmax hits"),),
)


# ------------------------------------------------------------------------ loss_batch
def _linear(W: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    model = nn.Linear(W.shape[1], W.shape[0]).to(W.device)
    with torch.no_grad():
        model.weight.copy_(W)
        model.bias.copy_(b)
    return model


def reference_loss_batch(model, loss_func, xb, yb, opt=None):
    """The course's loss_batch, used in place of the learner's when `fit` is graded; it also
    checks that training runs in train mode and validation in eval mode under no_grad."""
    if opt is None and torch.is_grad_enabled():
        raise RuntimeError("validation ran with gradients enabled: wrap the validation loop in "
                           "`with torch.no_grad():`")
    if opt is None and model.training:
        raise RuntimeError("validation ran in training mode: call model.eval() before validating")
    if opt is not None and not model.training:
        raise RuntimeError("training ran in eval mode: call model.train() before the training batches")
    loss = loss_func(model(xb), yb)
    if opt is not None:
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item(), len(xb)


def _lb_inputs(rand, N, D, C, with_opt, lr=0.5):
    return {"x": rand.randn(N, D), "y": rand.randint(0, C, N),
            "x2": rand.randn(N, D), "y2": rand.randint(0, C, N),
            "W": rand.randn(C, D, scale=0.5), "b": rand.randn(C, scale=0.1),
            "with_opt": with_opt, "lr": lr}


LB_OUT = ("loss", "batch_size", "weight", "bias", "loss_2nd", "batch_size_2nd", "weight_2nd", "bias_2nd")


def _lb_call(fn, i):
    model = _linear(i["W"], i["b"])
    opt = torch.optim.SGD(model.parameters(), lr=i["lr"]) if i["with_opt"] else None
    got = []
    for xb, yb in ((i["x"], i["y"]), (i["x2"], i["y2"])):
        r = fn(model, F.cross_entropy, xb, yb, opt) if opt is not None else fn(model, F.cross_entropy, xb, yb)
        if not isinstance(r, (tuple, list)) or len(r) != 2:
            raise TypeError("loss_batch must return a pair (loss, batch size), got "
                            f"{type(r).__name__}")
        got += [r[0], r[1], model.weight.detach().clone(), model.bias.detach().clone()]
    return tuple(got)


def _sgd_step(W, b, x, y, lr, extra=None):
    """Loss at (W, b), and the weights after one SGD step (plus `extra` stale gradients)."""
    W, b = W.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    loss = F.cross_entropy(x @ W.T + b, y)
    gW, gb = torch.autograd.grad(loss, [W, b])
    if extra is not None:
        gW, gb = gW + extra[0], gb + extra[1]
    return float(loss.detach()), W.detach() - lr * gW, b.detach() - lr * gb, (gW, gb)


def _lb_oracle(i):
    n = float(len(i["x"]))
    if not i["with_opt"]:
        l1 = float(F.cross_entropy(i["x"] @ i["W"].T + i["b"], i["y"]))
        l2 = float(F.cross_entropy(i["x2"] @ i["W"].T + i["b"], i["y2"]))
        return dict(zip(LB_OUT, (l1, n, i["W"], i["b"], l2, n, i["W"], i["b"])))
    l1, W1, b1, _ = _sgd_step(i["W"], i["b"], i["x"], i["y"], i["lr"])
    l2, W2, b2, _ = _sgd_step(W1, b1, i["x2"], i["y2"], i["lr"])
    return dict(zip(LB_OUT, (l1, n, W1, b1, l2, n, W2, b2)))


def _lb_mistakes(i):
    if not i["with_opt"]:
        return {}
    _, W1, b1, g1 = _sgd_step(i["W"], i["b"], i["x"], i["y"], i["lr"])
    _, W2acc, _, _ = _sgd_step(W1, b1, i["x2"], i["y2"], i["lr"], extra=g1)
    D = float(i["x"].shape[1])
    return {
        "weight": [Mistake(i["W"], "the parameters did not change: with an optimizer, call "
                           "loss.backward() then opt.step() (zero the gradients after the step or "
                           "before backward, never in between)")],
        "weight_2nd": [Mistake(W2acc, "the gradient of the first batch was still there at the second "
                               "step: call opt.zero_grad() in every step (gradients accumulate)")],
        "batch_size": [Mistake(D, "this is the number of features xb.shape[1]: the batch size is len(xb)"),
                       Mistake(1.0, "return the number of examples in the batch, len(xb), not 1")],
    }


loss_batch = Spec(
    name="ch09.loss_batch",
    inputs=_lb_inputs,
    call=_lb_call,
    outputs=LB_OUT,
    oracle=_lb_oracle,
    tol=STEP_TOL,
    cases=(Case("with optimizer", 30, dict(N=16, D=7, C=3, with_opt=True)),
           Case("one example, with optimizer", 31, dict(N=1, D=4, C=10, with_opt=True)),
           Case("no optimizer", 32, dict(N=5, D=6, C=4, with_opt=False))),
    mistakes=_lb_mistakes,
)


# ------------------------------------------------------------------------ fit
def _fit_inputs(rand, N, Nv, D, C, bs, vbs, epochs, lr):
    teacher = rand.randn(C, D)
    x, xv = rand.randn(N, D), rand.randn(Nv, D)
    return {"x": x, "y": (x @ teacher.T).argmax(dim=1), "xv": xv, "yv": (xv @ teacher.T).argmax(dim=1),
            "W": rand.randn(C, D, scale=0.1), "b": rand.randn(C, scale=0.1),
            "bs": bs, "vbs": vbs, "epochs": epochs, "lr": lr}


def _loaders(i):
    return (DataLoader(TensorDataset(i["x"], i["y"]), batch_size=i["bs"]),
            DataLoader(TensorDataset(i["xv"], i["yv"]), batch_size=i["vbs"]))


def _fit_call(fn, i):
    model = _linear(i["W"], i["b"])
    opt = torch.optim.SGD(model.parameters(), lr=i["lr"])
    train_dl, valid_dl = _loaders(i)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        losses = fn(i["epochs"], model, F.cross_entropy, opt, train_dl, valid_dl)
    if losses is None:
        raise ValueError("fit returned None: return the list of validation losses, one per epoch")
    return losses, model.weight.detach().clone(), model.bias.detach().clone()


def _reference_fit(i, report="valid", batch_mean=False):
    model = _linear(i["W"], i["b"])
    opt = torch.optim.SGD(model.parameters(), lr=i["lr"])
    train_dl, valid_dl = _loaders(i)

    def valid_loss():
        if not batch_mean:
            return run_epoch(model, valid_dl, F.cross_entropy)[0]
        with torch.no_grad():
            means = [float(F.cross_entropy(model(xb), yb)) for xb, yb in valid_dl]
        return sum(means) / len(means)

    losses = []
    for _ in range(i["epochs"]):
        before = valid_loss() if report == "before" else None
        train_loss, _ = run_epoch(model, train_dl, F.cross_entropy, opt)
        losses.append(valid_loss() if report == "valid" else before if report == "before" else train_loss)
    return tuple(float(v) for v in losses), model.weight.detach(), model.bias.detach()


def _fit_oracle(i):
    return dict(zip(("val_losses", "weight", "bias"), _reference_fit(i)))


def _fit_mistakes(i):
    return {"val_losses": [
        Mistake(_reference_fit(i, batch_mean=True)[0],
                "this is the mean of the batch means: weight each batch's loss by its size "
                "(sum(loss * n) / sum(n)), since the last batch is smaller"),
        Mistake(_reference_fit(i, report="before")[0],
                "each epoch's loss was measured before its training: validate after the training batches"),
        Mistake(_reference_fit(i, report="train")[0],
                "these are training losses: evaluate on valid_dl"),
    ]}


def _lowers_valid_loss(i, out, case):
    losses = out.get("val_losses")
    if type(losses) is not tuple or not losses or any(type(v) is not float for v in losses):
        return
    model = _linear(i["W"], i["b"])
    start = run_epoch(model, _loaders(i)[1], F.cross_entropy)[0]
    if not losses[-1] < start:
        raise CheckFailure(f"fit: the validation loss did not fall: {start:.4g} before training, "
                           f"{losses[-1]:.4g} after {i['epochs']} epoch(s) (case '{case.label}')")


fit = Spec(
    name="ch09.fit",
    inputs=_fit_inputs,
    call=_fit_call,
    outputs=("val_losses", "weight", "bias"),
    oracle=_fit_oracle,
    tol=TRAIN_TOL,
    cases=(Case("3 epochs", 40, dict(N=96, Nv=50, D=20, C=4, bs=16, vbs=32, epochs=3, lr=0.2)),
           Case("1 epoch, ragged batches", 41, dict(N=37, Nv=11, D=5, C=3, bs=8, vbs=4, epochs=1, lr=0.5)),
           Case("5 epochs, one training batch", 42, dict(N=64, Nv=40, D=10, C=5, bs=64, vbs=15, epochs=5, lr=0.5))),
    mistakes=_fit_mistakes,
    # Grade the loop alone: the learner's loss_batch is replaced by the reference one
    # (which also checks model.train()/model.eval() and no_grad during validation).
    isolate=lambda: {"loss_batch": reference_loss_batch},
    properties=(Property("lowers the validation loss", _lowers_valid_loss,
                         "a separable problem and a fitting learning rate: the loss must fall"),),
)


def with_reference_loss_batch(fit_fn):
    """`fit_fn` running with the course's loss_batch, so that a test of fit does not depend
    on the learner's loss_batch being right."""
    return _with_globals(fit_fn, {"loss_batch": reference_loss_batch})


# ------------------------------------------------------------------------ get_data
def _gd_inputs(rand, N, Nv, D, bs):
    return {"x": rand.randn(N, D), "y": torch.arange(N, device=rand.device),
            "xv": rand.randn(Nv, D), "yv": torch.arange(Nv, device=rand.device), "bs": bs}


GD_OUT = ("train_examples_seen", "valid_first_batch", "train_batch_sizes", "valid_batch_sizes", "train_shuffled", "train_reshuffled",
          "train_examples", "valid_in_order")


def _gd_call(fn, i):
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


def _sizes(n, bs):
    return tuple(float(min(bs, n - k)) for k in range(0, n, bs))


def _gd_oracle(i):
    N, Nv, bs = len(i["y"]), len(i["yv"]), i["bs"]
    return dict(zip(GD_OUT, (float(N), float(min(Nv, 2 * bs)), _sizes(N, bs), _sizes(Nv, 2 * bs),
                             1.0, 1.0, i["y"], 1.0)))


def _gd_mistakes(i):
    N, Nv, bs = len(i["y"]), len(i["yv"]), i["bs"]
    return {
        "train_examples_seen": [Mistake(float(N - N % bs), "the last, smaller batch is dropped: "
                                        "leave drop_last at False")],
        "valid_first_batch": [Mistake(float(min(Nv, bs)), "the validation loader uses batch size bs: "
                                      "this exercise asks for 2 * bs (no gradients are kept there, so "
                                      "twice as many examples fit in memory)")],
        "train_shuffled": [Mistake(0.0, "the training loader keeps the data in order: pass shuffle=True, "
                                   "so that every epoch sees the examples in a new order")],
        "valid_in_order": [Mistake(0.0, "the validation loader shuffles: use shuffle=False (the "
                                   "default); the validation loss does not depend on the order")],
    }


get_data = Spec(
    name="ch09.get_data",
    inputs=_gd_inputs,
    call=_gd_call,
    outputs=GD_OUT,
    oracle=_gd_oracle,
    tol=Tol(0.0, 0.0, "sizes, flags and orders are integers"),
    cases=(Case("ragged", 50, dict(N=50, Nv=23, D=3, bs=8)),
           Case("exact batches", 51, dict(N=40, Nv=40, D=2, bs=10)),
           Case("tiny", 52, dict(N=10, Nv=7, D=4, bs=3))),
    mistakes=_gd_mistakes,
)


# ------------------------------------------------------------------------ Lambda
def _lambda_inputs(rand, N):
    return {"x": rand.randn(N, 16), "W": rand.randn(3, 16), "b": rand.randn(3), "cot": rand.randn(N, 3)}


LAMBDA_OUT = ("applied", "reshaped", "func_calls", "n_parameters", "seq_out", "grad_x")


def _lambda_call(fn, i):
    calls = [0]

    def affine(t):
        calls[0] += 1
        return 3.0 * t + 1.0

    layer = fn(affine)
    if not isinstance(layer, nn.Module):
        raise TypeError("Lambda(func) must create an nn.Module (class Lambda(nn.Module)), so that it "
                        "can sit inside nn.Sequential")
    try:
        applied = layer(i["x"])
    except AttributeError as err:
        raise AttributeError(f"{err} (did __init__ call super().__init__() first?)") from None
    n_calls = float(calls[0])
    n_params = float(sum(p.numel() for p in layer.parameters()))
    reshaped = fn(lambda t: t.view(t.size(0), 1, 4, 4))(i["x"])
    seq = nn.Sequential(fn(affine), _linear(i["W"], i["b"]))
    x = i["x"].detach().clone().requires_grad_()
    out = seq(x)
    (g,) = torch.autograd.grad(out, x, i["cot"], allow_unused=True)
    return applied, reshaped, n_calls, n_params, out, g


def _lambda_oracle(i):
    x = i["x"].detach().clone().requires_grad_()
    out = F.linear(3.0 * x + 1.0, i["W"], i["b"])
    (g,) = torch.autograd.grad(out, x, i["cot"])
    # n_parameters is judged by the "no parameters" property, whose message says why
    return {"applied": 3.0 * i["x"] + 1.0, "reshaped": i["x"].view(-1, 1, 4, 4), "func_calls": 1.0,
            "seq_out": out.detach(), "grad_x": g}


def _lambda_mistakes(i):
    x = i["x"]
    return {"applied": [Mistake(x, "Lambda returned its input unchanged: forward(x) must return "
                                "self.func(x)"),
                        Mistake(3.0 * (3.0 * x + 1.0) + 1.0, "the function was applied twice: call it "
                                "once in forward")],
            "func_calls": [Mistake(2.0, "the function ran twice for one forward pass: call it once")]}


def _no_parameters(i, out, case):
    n = out.get("n_parameters")
    if type(n) is float and n != 0.0:
        raise CheckFailure(f"Lambda: the layer holds {int(n)} parameter value(s), but it must have "
                           "none: it only wraps a function (no nn.Parameter, no layers inside)")


Lambda = Spec(
    name="ch09.Lambda",
    inputs=_lambda_inputs,
    call=_lambda_call,
    outputs=LAMBDA_OUT,
    oracle=_lambda_oracle,
    tol=STEP_TOL,
    cases=(Case("batch of 5", 60, dict(N=5)), Case("one example", 61, dict(N=1))),
    mistakes=_lambda_mistakes,
    properties=(Property("no parameters", _no_parameters, "Lambda wraps a function only"),),
)


# ------------------------------------------------------------------------ WrappedDataLoader
def _wdl_inputs(rand, N, bs):
    return {"x": rand.randn(N, 16), "y": rand.randint(0, 10, N), "bs": bs}


WDL_OUT = ("length", "examples", "batch_sizes", "x", "y", "y_second_epoch", "preprocess_calls")


def _wdl_call(fn, i):
    device = i["x"].device
    dl = DataLoader(TensorDataset(i["x"].cpu(), i["y"].cpu()), batch_size=i["bs"])  # data on the CPU
    calls = [0]

    def preprocess(xb, yb):
        calls[0] += 1
        return xb.view(-1, 1, 4, 4).to(device), yb.to(device)

    wdl = fn(dl, preprocess)
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
    return (length, float(sum(len(b[1]) for b in first)), tuple(float(len(b[1])) for b in first), torch.cat([b[0] for b in first]),
            torch.cat([b[1] for b in first]), torch.cat([b[1] for b in epochs[1]]), float(calls[0]))


def _wdl_oracle(i):
    n_batches = math.ceil(len(i["y"]) / i["bs"])
    return dict(zip(WDL_OUT, (float(n_batches), float(len(i["y"])), _sizes(len(i["y"]), i["bs"]), i["x"].view(-1, 1, 4, 4),
                              i["y"], i["y"], 2.0 * n_batches)))


def _wdl_mistakes(i):
    N, bs = len(i["y"]), i["bs"]
    n_batches = math.ceil(N / bs)
    return {"length": [Mistake(float(N), "len() is the number of examples: it must be the number of "
                               "batches, len(dl)")],
            "examples": [Mistake(float(N - N % bs), "the last, smaller batch is missing: "
                                 "yield every batch of dl")],
            "preprocess_calls": [Mistake(4.0 * n_batches, "func ran twice per batch: call it once")]}


WrappedDataLoader = Spec(
    name="ch09.WrappedDataLoader",
    inputs=_wdl_inputs,
    call=_wdl_call,
    outputs=WDL_OUT,
    oracle=_wdl_oracle,
    tol=Tol(0.0, 0.0, "batches are copied, not computed: bit-exact"),
    cases=(Case("ragged", 70, dict(N=22, bs=5)), Case("one batch", 71, dict(N=6, bs=8)),
           Case("exact batches", 72, dict(N=12, bs=4))),
    mistakes=_wdl_mistakes,
)

SPECS = register(log_softmax, nll, accuracy, loss_batch, fit, get_data, Lambda, WrappedDataLoader)

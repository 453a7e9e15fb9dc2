"""Chapter 09: what torch.nn really is (a raw-tensor classifier refactored into torch.nn).

Oracles: `F.log_softmax`, `F.nll_loss`, `F.cross_entropy` and torch.autograd for the math
exercises; `argmax` plus a Python hand count for `accuracy`; a hand-written SGD-with-
momentum update with autograd for `loss_batch`; a plain torch loop for `fit` (the
learner's fit runs with the grader's stand-in `loss_batch`, which records every call);
the batches a loader really yields for `get_data`, `Lambda` and `WrappedDataLoader`.
Everything runs on every device, inputs from `Rand`.

Learner-side harnesses: autograder/learner/harness/ch09.py (the builders `linear` and
`loaders` are shared with the oracles here).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...learner.harness.ch09 import FIT_SUMMARY, linear, loaders
from ..compare import EXACT, CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec
from ..static import ForbiddenCalls
from . import register

# log_softmax: PyTorch's fused kernel and a max-shifted log-sum-exp round differently by a
# few float32 ulps; with logits of 1e4 an ulp is ~1e-3, hence the relative part. Measured
# worst error ratio of the solution over 200 salts x {1, 2} threads: see the module's
# sweep notes at the bottom.
SOFTMAX_TOL = Tol(1e-5, 1e-5, "float32: a hand-written log-sum-exp vs PyTorch's fused kernel; CUDA sums in another order")
# Losses and one or two SGD steps in float32: same operations, possibly fused differently on CUDA.
STEP_TOL = Tol(1e-5, 1e-6, "float32 matmul + SGD steps: the update may be fused differently (CPU vs CUDA)")
# A few epochs of float32 SGD: per-step rounding differences add up a little.
TRAIN_TOL = Tol(1e-4, 1e-5, "float32 over a few epochs of SGD: rounding differences accumulate slightly")
# Counts, sizes, orders: integers, or a count divided by n.
EXACT_ISH = Tol(1e-6, 0.0, "a count divided by n: float32 vs float64 division may differ by one ulp")

DEVICE_HINT = ("a tensor was created without device= (it landed on the default device, not on "
               "the input's): create new tensors with device=<input>.device, use *_like "
               "functions, or Python numbers")


def _connected_hint(what: str) -> tuple[str, str]:
    return ("not connected to its input",
            f"compute {what} with torch operations on the input, without .detach(), .item(), "
            ".numpy() or torch.no_grad(): gradients must flow back to the input")


def _no_ops(exercise: str, output: str, hint: str):
    def check(i, out, case):
        n = out.get(output)
        if type(n) is float and n > 0:
            raise CheckFailure(f"{exercise}: your code used a built-in that this exercise asks you to "
                               f"write yourself (case '{case.label}')\nHint: {hint}")
    return check


# ------------------------------------------------------------------------ log_softmax
def _ls_inputs(rand, N, C, scale=1.0, big=False, dtype=torch.float32):
    x = rand.uniform(N, C, low=-1e4, high=1e4, dtype=dtype) if big else rand.randn(N, C, scale=scale, dtype=dtype)
    return {"x": x, "cot": rand.randn(N, C, dtype=dtype)}


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


SOFTMAX_RULE = ("F.log_softmax, softmax and logsumexp are off limits here: write it with max, exp, "
                "sum and log (the point is to see how it is kept stable)")

log_softmax = Spec(
    name="ch09.log_softmax",
    inputs=_ls_inputs,
    outputs=("log_probs", "grad", "softmax_ops"),
    oracle=_ls_oracle,
    tol=SOFTMAX_TOL,
    cases=(Case("batch of 64", 0, dict(N=64, C=10, scale=3.0)),
           Case("one row", 1, dict(N=1, C=10)),
           Case("5 x 3, float64", 2, dict(N=5, C=3, scale=2.0, dtype=torch.float64)),
           Case("logits up to 1e4", 3, dict(N=8, C=10, big=True))),
    static=(ForbiddenCalls(frozenset({"log_softmax", "softmax", "logsumexp", "LogSoftmax", "Softmax"}),
                           SOFTMAX_RULE),),
    mistakes=_ls_mistakes,
    properties=(Property("written by hand", _no_ops(
        "log_softmax", "softmax_ops", "F.log_softmax, softmax and logsumexp are off limits here: "
        "write it with max, exp, sum and log"), "no softmax/logsumexp operation is issued"),),
    error_hints=(_connected_hint("log_softmax"),
                 ("must match the size", "a reduction lost its dimension: pass keepdim=True to max and "
                  "sum, so that each row's value broadcasts against its row")),
    sweep_salts=30,
)


# ------------------------------------------------------------------------ nll
def _nll_inputs(rand, N, C, dtype=torch.float32):
    z = rand.randn(N, C, scale=2.0, dtype=dtype)
    return {"logits": z, "log_probs": F.log_softmax(z, dim=-1), "target": rand.randint(0, C, N)}


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
                           f"F.cross_entropy(z, target) = {float(expected):.6g} (case '{case.label}')\n"
                           "Hint: average -log_probs[i, target[i]] over the rows")


NLL_RETURN = ("return the 0-d tensor itself (no .item() or float()), so that loss.backward() can "
              "follow it; average the picked log-probabilities with .mean()")

nll = Spec(
    name="ch09.nll",
    inputs=_nll_inputs,
    outputs=("loss", "grad", "nll_ops"),
    oracle=_nll_oracle,
    tol=STEP_TOL,
    cases=(Case("batch of 64", 10, dict(N=64, C=10)),
           Case("one example", 11, dict(N=1, C=10)),
           Case("7 x 3", 12, dict(N=7, C=3)),
           Case("5 x 4, float64", 13, dict(N=5, C=4, dtype=torch.float64))),
    static=(ForbiddenCalls(frozenset({"nll_loss", "cross_entropy", "NLLLoss", "CrossEntropyLoss"}),
                           "F.nll_loss and F.cross_entropy are off limits here: pick one entry per "
                           "row with log_probs[range(n), target] and average"),),
    mistakes=_nll_mistakes,
    properties=(Property("equals cross_entropy", _matches_cross_entropy,
                         "F.cross_entropy(z, t) is nll(log_softmax(z), t)"),
                Property("written by hand", _no_ops(
                    "nll", "nll_ops", "F.nll_loss and F.cross_entropy are off limits here: pick one "
                    "entry per row with log_probs[range(n), target] and average"),
                    "no nll_loss operation is issued")),
    error_hints=(("must return one number", NLL_RETURN), ("nll returned", NLL_RETURN),
                 _connected_hint("the loss")),
    sweep_salts=40,
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


def _first_max_hits(out: torch.Tensor, yb: torch.Tensor) -> float:
    rows = out.tolist()
    hits = [float(r.index(max(r)) == int(y)) for r, y in zip(rows, yb.tolist())]
    return sum(hits) / len(hits)


def _acc_mistakes(i):
    out, yb = i["out"], i["yb"]
    C = out.shape[1]
    last = C - 1 - out.flip(1).argmax(dim=1)
    any_max = (out == out.max(dim=1, keepdim=True).values)[torch.arange(len(yb), device=yb.device), yb]
    acc = (out.argmax(dim=1) == yb).float().mean()
    return {"on_input_device": [Mistake(0.0, DEVICE_HINT)], "accuracy": [
        Mistake(1 - acc, "this is the error rate (1 - accuracy): count the rows where the prediction "
                "equals the label"),
        Mistake((last == yb).float().mean(), "ties go to the last maximal class: argmax takes the "
                "first one, as the course's reference does"),
        Mistake(any_max.float().mean(), "a row counts as correct whenever its label ties for the "
                "maximum: predict one class per row with argmax"),
    ]}


def _hand_count(i, out, case):
    acc = out.get("accuracy")
    if type(acc) is not torch.Tensor or acc.numel() != 1 or acc.device.type == "meta":
        return
    expected = _first_max_hits(i["out"], i["yb"])
    if abs(float(acc) - expected) > 1e-6:
        n = len(i["yb"])
        raise CheckFailure(f"accuracy: counting by hand (first maximal class of each row) gives "
                           f"{round(expected * n)}/{n} = {expected:.4g}, yours is {float(acc):.4g} "
                           f"(case '{case.label}')\nHint: predict with out.argmax(dim=1) and average "
                           "(preds == yb) over the rows")


accuracy = Spec(
    name="ch09.accuracy",
    inputs=_acc_inputs,
    outputs=("accuracy", "on_input_device"),
    oracle=lambda i: {"accuracy": (i["out"].argmax(dim=1) == i["yb"]).float().mean(),
                      "on_input_device": 1.0},
    tol={"accuracy": EXACT_ISH, "on_input_device": EXACT},
    cases=(Case("random", 20, dict(N=64, C=10, kind="random")),
           Case("ties", 21, dict(N=50, C=4, kind="ties")),
           Case("all correct", 22, dict(N=7, C=3, kind="all correct")),
           Case("none correct", 23, dict(N=9, C=5, kind="none correct")),
           Case("one example", 24, dict(N=1, C=10, kind="random"))),
    mistakes=_acc_mistakes,
    properties=(Property("hand count", _hand_count, "a Python count of first-argmax hits"),),
    error_hints=(("accuracy returned", "return a 0-d float tensor, as (preds == yb).float().mean() "
                  "gives (no .item(), no Python number)"),),
    sweep_salts=40,
)


# ------------------------------------------------------------------------ loss_batch
MOMENTUM = 0.9
LB_ONE = ("loss", "batch_size", "weight", "bias", "grads_clear", "steps", "mode_kept")
LB_OUT = LB_ONE + tuple(f"{name}_2nd" for name in LB_ONE)


def _lb_inputs(rand, N, D, C, with_opt, lr=0.5):
    return {"x": rand.randn(N, D), "y": rand.randint(0, C, N),
            "x2": rand.randn(N, D), "y2": rand.randint(0, C, N),
            "W": rand.randn(C, D, scale=0.5), "b": rand.randn(C, scale=0.1),
            "with_opt": with_opt, "lr": lr}


def _grads(W, b, x, y):
    W, b = W.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    loss = F.cross_entropy(x @ W.T + b, y)
    gW, gb = torch.autograd.grad(loss, [W, b])
    return float(loss.detach()), gW, gb


def _momentum_steps(i, fresh_optimizer=False, stale=False):
    """Two SGD-with-momentum steps by hand: [(loss, W, b) after each], `fresh_optimizer`:
    a new optimizer (no momentum buffer) at the second step; `stale`: the first step's
    gradient still in .grad at the second."""
    lr, W, b = i["lr"], i["W"], i["b"]
    l1, gW1, gb1 = _grads(W, b, i["x"], i["y"])
    W1, b1 = W - lr * gW1, b - lr * gb1
    l2, gW2, gb2 = _grads(W1, b1, i["x2"], i["y2"])
    if stale:
        gW2, gb2 = gW2 + gW1, gb2 + gb1
    bW, bb = (gW2, gb2) if fresh_optimizer else (MOMENTUM * gW1 + gW2, MOMENTUM * gb1 + gb2)
    return [(l1, W1, b1), (l2, W1 - lr * bW, b1 - lr * bb)]


def _lb_oracle(i):
    n = float(len(i["x"]))
    if not i["with_opt"]:
        l1 = float(F.cross_entropy(i["x"] @ i["W"].T + i["b"], i["y"]))
        l2 = float(F.cross_entropy(i["x2"] @ i["W"].T + i["b"], i["y2"]))
        return dict(zip(LB_OUT, (l1, n, i["W"], i["b"], 1.0, 0.0, 1.0,
                                 l2, n, i["W"], i["b"], 1.0, 0.0, 1.0)))
    (l1, W1, b1), (l2, W2, b2) = _momentum_steps(i)
    return dict(zip(LB_OUT, (l1, n, W1, b1, 1.0, 1.0, 1.0, l2, n, W2, b2, 1.0, 2.0, 1.0)))


def _lb_mistakes(i):
    D = float(i["x"].shape[1])
    hints = {
        "batch_size": [Mistake(D, "this is the number of features xb.shape[1]: the batch size is len(xb)"),
                       Mistake(1.0, "return the number of examples in the batch, len(xb), not 1")],
        "mode_kept": [Mistake(0.0, "loss_batch changed the model's train/eval mode: leave model.train() "
                                   "and model.eval() to fit")],
        "mode_kept_2nd": [Mistake(0.0, "loss_batch changed the model's train/eval mode: leave "
                                       "model.train() and model.eval() to fit")],
    }
    if not i["with_opt"]:
        hints["grads_clear"] = [Mistake(0.0, "without an optimizer loss_batch must change nothing: no "
                                             "loss.backward() (it fills .grad) unless opt is given")]
        return hints
    (_, W1, b1), (_, W2f, _) = _momentum_steps(i, fresh_optimizer=True)
    (_, _, _), (_, W2s, _) = _momentum_steps(i, stale=True)
    after = float(F.cross_entropy(i["x"] @ W1.T + b1, i["y"]))
    hints.update({
        "loss": [Mistake(after, "this is the loss after the step: return the loss computed before "
                                "opt.step()")],
        "weight": [Mistake(i["W"], "the parameters did not change: with an optimizer, call "
                                   "loss.backward() then opt.step() (zero the gradients after the step or "
                                   "before backward, never in between)")],
        "grads_clear": [Mistake(0.0, "gradients were left in .grad after the step: call opt.zero_grad() "
                                     "in every step (gradients accumulate)")],
        "steps": [Mistake(0.0, "the optimizer you were given took no step: call opt.step() on the `opt` "
                               "argument (do not create a new optimizer)"),
                  Mistake(2.0, "opt.step() ran twice for one batch: step once")],
        "steps_2nd": [Mistake(1.0, "the optimizer you were given took no step: call opt.step() on the "
                                   "`opt` argument (do not create a new optimizer)")],
        "weight_2nd": [Mistake(W2f, "the second step lost the optimizer's momentum: use the optimizer "
                                    "you are given, do not create a new one in loss_batch"),
                       Mistake(W2s, "the gradient of the first batch was still there at the second "
                                    "step: call opt.zero_grad() in every step (gradients accumulate)")],
    })
    return hints


loss_batch = Spec(
    name="ch09.loss_batch",
    inputs=_lb_inputs,
    outputs=LB_OUT,
    oracle=_lb_oracle,
    tol={name: (STEP_TOL if name.split("_2nd")[0] in ("loss", "weight", "bias") else
                Tol(0.0, 0.0, "a count or a yes/no")) for name in LB_OUT},
    cases=(Case("with optimizer", 30, dict(N=16, D=7, C=3, with_opt=True)),
           Case("one example, with optimizer", 31, dict(N=1, D=4, C=10, with_opt=True)),
           Case("no optimizer", 32, dict(N=5, D=6, C=4, with_opt=False))),
    mistakes=_lb_mistakes,
    error_hints=(("must return a pair", "return the pair (loss.item(), len(xb))"),),
    sweep_salts=30,
)


# ------------------------------------------------------------------------ fit
def _fit_inputs(rand, N, Nv, D, C, bs, vbs, epochs, lr):
    teacher = rand.randn(C, D)
    x, xv = rand.randn(N, D), rand.randn(Nv, D)
    return {"x": x, "y": (x @ teacher.T).argmax(dim=1), "xv": xv, "yv": (xv @ teacher.T).argmax(dim=1),
            "W": rand.randn(C, D, scale=0.1), "b": rand.randn(C, scale=0.1),
            "bs": bs, "vbs": vbs, "epochs": epochs, "lr": lr}


def _sgd_epoch(model, dl, lr):
    for xb, yb in dl:
        loss = F.cross_entropy(model(xb), yb)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad


def _batch_losses(model, dl) -> list[tuple[float, int]]:
    with torch.no_grad():
        return [(float(F.cross_entropy(model(xb), yb)), len(xb)) for xb, yb in dl]


def _weighted(parts) -> float:
    return sum(l * n for l, n in parts) / sum(n for _, n in parts)


def _mean_loss(model, dl) -> float:
    return _weighted(_batch_losses(model, dl))


_FIT_MEMO: dict = {}


def _reference_fit(i) -> dict:
    """One reference training run, and every way of reporting its losses that the oracle
    (`valid`) and the known mistakes need: each epoch's validation loss weighted by batch
    size, as a mean of batch means, with (loss, n) swapped, measured before the epoch's
    training, and the training loss. Memoised for the judge's oracle + mistakes calls."""
    key = id(i)
    if key in _FIT_MEMO and _FIT_MEMO[key][0] is i:
        return _FIT_MEMO[key][1]
    model = linear(i["W"], i["b"])
    train_dl, valid_dl = loaders(i)
    report = {k: [] for k in ("valid", "batch_mean", "swapped", "before", "train")}
    for _ in range(i["epochs"]):
        report["before"].append(_mean_loss(model, valid_dl))
        _sgd_epoch(model, train_dl, i["lr"])
        parts = _batch_losses(model, valid_dl)
        report["valid"].append(_weighted(parts))
        report["batch_mean"].append(sum(l for l, _ in parts) / len(parts))
        report["swapped"].append(sum(l * n for l, n in parts) / sum(l for l, _ in parts))
        report["train"].append(_mean_loss(model, train_dl))
    out = {k: tuple(float(v) for v in vs) for k, vs in report.items()}
    out["weight"], out["bias"] = model.weight.detach(), model.bias.detach()
    _FIT_MEMO.clear()
    _FIT_MEMO[key] = (i, out)
    return out


def _batches(n, bs):
    return math.ceil(n / bs)


FIT_ORDER = ("valid_calls", "train_calls", "valid_with_opt", "train_without_opt", "train_in_eval",
             "train_no_grad", "valid_in_train", "valid_with_grad", "other_opt", "other_calls")
assert set(FIT_ORDER) == set(FIT_SUMMARY)


def _fit_oracle(i):
    run = _reference_fit(i)
    losses, W, b = run["valid"], run["weight"], run["bias"]
    e = i["epochs"]
    counts = {k: 0.0 for k in FIT_ORDER}
    counts["train_calls"] = float(e * _batches(len(i["x"]), i["bs"]))
    counts["valid_calls"] = float(e * _batches(len(i["xv"]), i["vbs"]))
    # the calls first: a wrong protocol is named before the losses it changes
    return {**{k: counts[k] for k in FIT_ORDER}, "val_losses": losses, "weight": W, "bias": b}


FLAG_HINTS = {
    "valid_with_opt": "the validation batches were given the optimizer: call loss_batch(model, "
                      "loss_func, xb, yb) without opt on valid_dl (validation must not train)",
    "train_without_opt": "training batches were given no optimizer: call loss_batch(model, loss_func, "
                         "xb, yb, opt) on every batch of train_dl (and evaluate on valid_dl only)",
    "train_in_eval": "training ran in eval mode: call model.train() before the training batches of "
                     "every epoch (model.eval() from the previous epoch's validation is still on)",
    "train_no_grad": "training ran under torch.no_grad(): only the validation loop goes inside "
                     "`with torch.no_grad():`",
    "valid_in_train": "validation ran in training mode: call model.eval() before the validation batches",
    "valid_with_grad": "validation ran with gradients enabled: wrap the validation loop in "
                       "`with torch.no_grad():`",
    "other_opt": "loss_batch was given an optimizer other than `opt`: pass the optimizer you are given "
                 "(do not create a new one)",
    "other_calls": "loss_batch was called on batches that come from neither train_dl nor valid_dl: "
                   "iterate over the loaders you are given",
}


def _fit_mistakes(i):
    e, nt, nv = i["epochs"], _batches(len(i["x"]), i["bs"]), _batches(len(i["xv"]), i["vbs"])
    one_less = "one epoch too few (or too many): run range(epochs)"
    most = 4 * e * (nt + nv)
    run = _reference_fit(i)
    hints = {k: [Mistake(float(n), h) for n in range(1, most + 1)] for k, h in FLAG_HINTS.items()}
    hints.update({
        "valid_calls": [Mistake(0.0, "no batch of valid_dl went through loss_batch: validate by calling "
                                     "loss_batch(model, loss_func, xb, yb) (without opt) on every batch "
                                     "of valid_dl"),
                        Mistake(float((e - 1) * nv), one_less), Mistake(float((e + 1) * nv), one_less)],
        "train_calls": [Mistake(0.0, "no batch of train_dl went through loss_batch: train by calling "
                                     "loss_batch(model, loss_func, xb, yb, opt) on every batch of train_dl"),
                        Mistake(float((e - 1) * nt), one_less), Mistake(float((e + 1) * nt), one_less)],
        "val_losses": [
            Mistake(run["batch_mean"],
                    "this is the mean of the batch means: weight each batch's loss by its size "
                    "(sum(loss * n) / sum(n)), since the last batch is smaller"),
            Mistake(run["before"],
                    "each epoch's loss was measured before its training: validate after the training batches"),
            Mistake(run["train"],
                    "these are training losses: evaluate on valid_dl"),
            Mistake(run["swapped"],
                    "loss_batch returns the pair (loss, n), in that order: loss, n = loss_batch(...)"),
        ],
    })
    return hints


def _lowers_valid_loss(i, out, case):
    losses = out.get("val_losses")
    if type(losses) is not tuple or not losses or any(type(v) is not float for v in losses):
        return
    start = _mean_loss(linear(i["W"], i["b"]), loaders(i)[1])
    if not losses[-1] < start:
        raise CheckFailure(f"fit: the validation loss did not fall: {start:.4g} before training, "
                           f"{losses[-1]:.4g} after {i['epochs']} epoch(s) (case '{case.label}')\n"
                           "Hint: train on every batch of train_dl with opt before validating")


fit = Spec(
    name="ch09.fit",
    inputs=_fit_inputs,
    outputs=("val_losses", "weight", "bias") + FIT_SUMMARY,
    oracle=_fit_oracle,
    tol={"val_losses": TRAIN_TOL, "weight": TRAIN_TOL, "bias": TRAIN_TOL,
         **{k: Tol(0.0, 0.0, "a count of calls") for k in FIT_SUMMARY}},
    cases=(Case("3 epochs", 40, dict(N=96, Nv=50, D=20, C=4, bs=16, vbs=32, epochs=3, lr=0.2)),
           Case("1 epoch, ragged batches", 41, dict(N=37, Nv=11, D=5, C=3, bs=8, vbs=4, epochs=1, lr=0.5)),
           Case("5 epochs, one training batch", 42, dict(N=64, Nv=40, D=10, C=5, bs=64, vbs=15, epochs=5, lr=0.5))),
    mistakes=_fit_mistakes,
    # Grade the loop alone: the learner's loss_batch is replaced by the grader's stand-in,
    # which also records how fit calls it (mode, no_grad, optimizer, batch).
    isolate=("loss_batch",),
    properties=(Property("lowers the validation loss", _lowers_valid_loss,
                         "a separable problem and a fitting learning rate: the loss must fall"),),
    error_hints=(("does not require grad", "a backward pass ran where gradients are off: give the "
                  "optimizer to loss_batch only for the training batches (validation calls "
                  "loss_batch(model, loss_func, xb, yb) without opt, under torch.no_grad())"),
                 ("stand-in for loss_batch is missing", "define fit in a notebook cell and call "
                  "loss_batch from it")),
    sweep_salts=10,
)


# ------------------------------------------------------------------------ get_data
def _gd_inputs(rand, N, Nv, D, bs):
    return {"x": rand.randn(N, D), "y": torch.arange(N, device=rand.device),
            "xv": rand.randn(Nv, D), "yv": torch.arange(Nv, device=rand.device), "bs": bs}


GD_OUT = ("train_examples_seen", "valid_first_batch", "train_batch_sizes", "valid_batch_sizes",
          "train_shuffled", "train_reshuffled", "train_examples", "valid_in_order")


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
        "train_reshuffled": [Mistake(0.0, "every epoch sees the same order: shuffle=True draws a new "
                                     "order at each pass (do not fix the order once)")],
        "valid_in_order": [Mistake(0.0, "the validation loader shuffles: use shuffle=False (the "
                                   "default); the validation loss does not depend on the order")],
    }


get_data = Spec(
    name="ch09.get_data",
    inputs=_gd_inputs,
    outputs=GD_OUT,
    oracle=_gd_oracle,
    tol=Tol(0.0, 0.0, "sizes, flags and orders are integers"),
    cases=(Case("ragged", 50, dict(N=50, Nv=23, D=3, bs=8)),
           Case("exact batches", 51, dict(N=40, Nv=40, D=2, bs=10)),
           Case("tiny", 52, dict(N=10, Nv=7, D=4, bs=3))),
    mistakes=_gd_mistakes,
    error_hints=(("pair of DataLoaders", "return a pair of DataLoaders (train_dl, valid_dl), the "
                  "loader objects themselves, not lists of batches"),),
    sweep_salts=40,
)


# ------------------------------------------------------------------------ Lambda
def _lambda_inputs(rand, N):
    return {"x": rand.randn(N, 16), "W": rand.randn(3, 16), "b": rand.randn(3), "cot": rand.randn(N, 3)}


LAMBDA_OUT = ("applied", "reshaped", "func_calls", "n_parameters", "seq_out", "grad_x")


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
                           "none\nHint: it only wraps a function: no nn.Parameter, no layers inside, "
                           "so it must have none")


Lambda = Spec(
    name="ch09.Lambda",
    inputs=_lambda_inputs,
    outputs=LAMBDA_OUT,
    oracle=_lambda_oracle,
    tol=STEP_TOL,
    cases=(Case("batch of 5", 60, dict(N=5)), Case("one example", 61, dict(N=1))),
    mistakes=_lambda_mistakes,
    properties=(Property("no parameters", _no_parameters, "Lambda wraps a function only"),),
    error_hints=(("must create an nn.Module", "Lambda(func) must create an nn.Module: write "
                  "class Lambda(nn.Module), so that it can sit inside nn.Sequential"),
                 ("super().__init__()", "call super().__init__() first in __init__, before storing func"),
                 ("no gradient reaches", "return self.func(x) as it is: no .detach(), .item() or "
                  "torch.no_grad() in forward, so gradients flow through the layer")),
    sweep_salts=40,
)


# ------------------------------------------------------------------------ WrappedDataLoader
def _wdl_inputs(rand, N, bs):
    return {"x": rand.randn(N, 16), "y": rand.randint(0, 10, N), "bs": bs}


WDL_OUT = ("preprocess_calls", "length", "examples", "batch_sizes", "x", "y", "y_second_epoch")


def _wdl_oracle(i):
    n_batches = math.ceil(len(i["y"]) / i["bs"])
    return dict(zip(WDL_OUT, (2.0 * n_batches, float(n_batches), float(len(i["y"])),
                              _sizes(len(i["y"]), i["bs"]), i["x"].view(-1, 1, 4, 4), i["y"], i["y"])))


def _wdl_mistakes(i):
    N, bs = len(i["y"]), i["bs"]
    n_batches = math.ceil(N / bs)
    return {"preprocess_calls": [
                Mistake(0.0, "func was never called: yield func(xb, yb) for each batch of dl"),
                Mistake(4.0 * n_batches, "func ran twice per batch: call it once"),
                Mistake(2.0 * (n_batches - 1), "the last, smaller batch is missing: yield every batch of dl")],
            "length": [Mistake(float(N), "len() is the number of examples: it must be the number of "
                               "batches, len(dl)")],
            "examples": [Mistake(float(N - N % bs), "the last, smaller batch is missing: "
                                 "yield every batch of dl")]}


WrappedDataLoader = Spec(
    name="ch09.WrappedDataLoader",
    inputs=_wdl_inputs,
    outputs=WDL_OUT,
    oracle=_wdl_oracle,
    tol=Tol(0.0, 0.0, "batches are copied, not computed: bit-exact"),
    cases=(Case("ragged", 70, dict(N=22, bs=5)), Case("one batch", 71, dict(N=6, bs=8)),
           Case("exact batches", 72, dict(N=12, bs=4))),
    mistakes=_wdl_mistakes,
    error_hints=(("fresh pass over dl", "__iter__ must start a fresh pass over dl every time it is "
                  "called: write it with `yield`, do not store one generator in __init__"),
                 ("must be the pair", "yield the pair func(xb, yb) returns")),
    sweep_salts=40,
)

SPECS = register(log_softmax, nll, accuracy, loss_batch, fit, get_data, Lambda, WrappedDataLoader)

"""Chapter 08: linear regression, from numpy gradient descent to a whole training recipe.

Oracles: torch autograd in float64 (numpy gradient descent), scikit-learn's
LinearRegression (where gradient descent converges), PyTorch's own TensorDataset and
DataLoader, and reference training loops written here (grader side: they answer
exercises). Models, loaders and optimizers are built by the learner-side harness
(autograder/learner/harness/ch08.py) from plain values under fixed seeds, so every device
starts from the same weights; the oracles build theirs with the same builders.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from ...learner.harness.ch08 import (dataset_items, fit_setup, flat_params, optimizer_state_flat,
                                     rng_devices, train_step_batches, train_step_setup)
from ..compare import CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec
from . import register

# numpy float64 against torch float64: the same arithmetic, summed in another order; over
# 1000 epochs of gradient descent these roundings add up, but stay far below 1e-9.
TRAJECTORY = Tol(1e-7, 1e-9, "float64 on both sides over up to 1000 steps; only the order of summation differs")
# float32 on the same device with the same operations in the same order as the reference:
# only how the learner accumulates the (float64) loss numbers may differ.
SAME_STEPS = Tol(1e-5, 1e-6, "float32, the reference's operations in the same order on the same device")
EXACT = Tol(0.0, 0.0, "sizes, counts and flags are exact")
SKLEARN_ATOL = 1e-5    # 1000 epochs at lr 0.1 converge to within ~1e-7 of the least-squares fit

META = "meta"
META_HINT = ("in this case the inputs are on the `meta` device (it stands in for a GPU: tensors "
             "with a shape and a dtype but no values), and your code moved or copied them, or "
             "mixed them with a tensor on the CPU: keep tensors where they are given, create "
             "new ones with device=x.device, and keep parameters registered so that "
             ".to(device) moves them")


# ------------------------------------------------------------------------ numpy_fit
def _line_data(rand, N):
    x = rand.array(N, 1)
    y = 1.0 + 2.0 * x + 0.1 * rand.array(N, 1)
    return x, y


def _nf_inputs(rand, N, lr, epochs):
    x, y = _line_data(rand, N)
    return {"x": x, "y": y, "lr": lr, "epochs": epochs}


def reference_numpy_fit(x, y, lr, epochs, *, half=False, total=False, ascent=False,
                        sequential=False):
    """Batch gradient descent on the MSE from a = b = 0, gradients by torch autograd
    (float64). The keyword flags build the usual wrong variants, for the hints."""
    xt, yt = torch.from_numpy(np.asarray(x, dtype=np.float64)), torch.from_numpy(np.asarray(y, dtype=np.float64))
    a = torch.zeros((), dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)

    def loss_of(a_, b_):
        sq = (a_ + b_ * xt - yt) ** 2
        loss = sq.sum() if total else sq.mean()
        return loss / 2 if half else loss

    sign = 1.0 if ascent else -1.0
    for _ in range(epochs):
        ga, gb = torch.autograd.grad(loss_of(a, b), [a, b])
        with torch.no_grad():
            a += sign * lr * ga
        if sequential:
            gb = torch.autograd.grad(loss_of(a.detach(), b), [b])[0]
        with torch.no_grad():
            b += sign * lr * gb
    return float(a.detach()), float(b.detach())


def _nf_oracle(i):
    return dict(zip(("a", "b"), reference_numpy_fit(i["x"], i["y"], i["lr"], i["epochs"])))


def _nf_mistakes(i):
    x, y, lr, n = i["x"], i["y"], i["lr"], i["epochs"]
    if n > 50:
        return {}   # the short cases come first and name the mistake; this one proves convergence
    good = reference_numpy_fit(x, y, lr, n)
    variants = [
        (reference_numpy_fit(x, y, lr, n, half=True),
         "the gradient misses the factor 2: d/da mean((a + b x - y)^2) = 2 mean(a + b x - y)"),
        (reference_numpy_fit(x, y, lr, n, total=True),
         "this follows the gradient of the sum of squared errors: take the mean over the points "
         "(MSE), not the sum"),
        (reference_numpy_fit(x, y, lr, n, ascent=True),
         "the parameters moved up the gradient: subtract lr * gradient"),
        (reference_numpy_fit(x, y, lr, n, sequential=True),
         "b was updated with a gradient computed after a changed: compute both gradients first, "
         "then update a and b together"),
        (reference_numpy_fit(x, y, lr, n - 1) if n > 1 else (0.0, 0.0),
         "one epoch too few: run exactly `epochs` updates"),
        (reference_numpy_fit(x, y, lr, n + 1),
         "one epoch too many: run exactly `epochs` updates"),
        (good[::-1], "a and b are swapped: return (a, b), the intercept first, then the slope"),
    ]
    return {name: [Mistake(v[k], hint) for v, hint in variants] for k, name in enumerate(("a", "b"))}


def _agrees_with_sklearn(i, out, case):
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit(i["x"], i["y"].ravel())
    want = {"a": float(reg.intercept_), "b": float(reg.coef_[0])}
    for name, value in want.items():
        got = out.get(name)
        if type(got) is float and abs(got - value) > SKLEARN_ATOL:
            raise CheckFailure(
                f"numpy_fit: after {i['epochs']} epochs `{name}` = {got:.7f}, but scikit-learn's "
                f"LinearRegression finds {value:.7f} (case '{case.label}'; allowed difference "
                f"{SKLEARN_ATOL:g})\nHint: with lr={i['lr']:g} gradient descent has converged "
                "by then; a wrong gradient or update converges elsewhere or not at all")


numpy_fit = Spec(
    name="ch08.numpy_fit",
    inputs=_nf_inputs,
    outputs=("a", "b"),
    oracle=_nf_oracle,
    tol=TRAJECTORY,
    # few epochs first: there the exact trajectory is compared, and a wrong gradient that
    # still converges to the right line is caught and named
    cases=(Case("one epoch", 0, dict(N=80, lr=0.1, epochs=1)),
           Case("seven epochs, 37 points", 1, dict(N=37, lr=0.05, epochs=7)),
           Case("1000 epochs", 2, dict(N=80, lr=0.1, epochs=1000)),
           Case("a single point, 3 epochs", 3, dict(N=1, lr=0.1, epochs=3))),
    numpy_only=True,
    mistakes=_nf_mistakes,
    properties=(Property("scikit-learn", _agrees_with_sklearn,
                         "converged gradient descent equals the least-squares solution",
                         cases=("1000 epochs",)),),
    error_hints=(("must return the pair", "return the pair (a, b): return float(a), float(b)"),),
    sweep_salts=25,
)


# ------------------------------------------------------------------------ ManualLinearRegression
def _mlr_inputs(rand, shape, seed, meta=False):
    x = rand.randn(*shape)
    y = 1.0 + 2.0 * x + 0.1 * rand.randn(*shape)
    device = META if meta else rand.device
    return {"x": x.to(device), "y": y.to(device), "seed": seed}


REGISTER_HINT = ("register exactly two parameters named `a` and `b` (self.a = "
                 "nn.Parameter(torch.randn(1)), likewise b), and nothing else. A plain tensor, or "
                 "nn.Parameter(...).to(device) (which returns a plain tensor), is not registered")


def _mlr_oracle(i, out):
    where = f"(device {i['x'].device}, x {tuple(i['x'].shape)})"
    n, a, b = out.get("n_params"), out.get("a"), out.get("b")
    if a is None or b is None or n != 2.0:
        count = int(n) if type(n) is float else n
        raise CheckFailure(f"ManualLinearRegression: the model registers {count} parameter(s), "
                           f"a: {'yes' if a is not None else 'no'}, b: {'yes' if b is not None else 'no'} "
                           f"{where}\nHint: {REGISTER_HINT}")
    for name, p in (("a", a), ("b", b)):
        if type(p) is not torch.Tensor or tuple(p.shape) != (1,) or p.dtype != torch.float32:
            got = f"shape {tuple(p.shape)}, {p.dtype}" if isinstance(p, torch.Tensor) else type(p).__name__
            raise CheckFailure(f"ManualLinearRegression: `{name}` has {got} {where}\nHint: make each "
                               "parameter with nn.Parameter(torch.randn(1)): shape (1,), float32")
        if p.device != i["x"].device:
            raise CheckFailure(f"ManualLinearRegression: `{name}` stayed on {p.device} after "
                               f"model.to({str(i['x'].device)!r}) {where}\nHint: {REGISTER_HINT}")
    if out.get("connected") != 1.0:
        raise CheckFailure(f"ManualLinearRegression: forward returned a result that does not depend "
                           f"on the parameters {where}\nHint: the prediction must stay in the graph: "
                           "compute self.a + self.b * x with tensors (no .item(), no .detach())")
    a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()
    pred = a_ + b_ * i["x"]
    ga, gb = torch.autograd.grad(((pred - i["y"]) ** 2).mean(), [a_, b_])
    return {"output": pred.detach(), "grad_a": ga, "grad_b": gb}


def _mlr_mistakes(i):
    # the values a learner's torch.randn(1) for a, then for b, draws under the case's seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(i["seed"])
        a, b = torch.randn(1).to(i["x"].device), torch.randn(1).to(i["x"].device)
    x = i["x"]
    return {"output": [Mistake(b + a * x, "a and b are swapped: the prediction is a + b * x (a the "
                               "intercept, b the slope)"),
                       Mistake(b * x, "the intercept is missing: the prediction is a + b * x"),
                       Mistake(a * x + b * x, "the prediction is a + b * x: a is added, not multiplied")]}


ManualLinearRegression = Spec(
    name="ch08.ManualLinearRegression",
    inputs=_mlr_inputs,
    outputs=("n_params", "a", "b", "output", "connected", "grad_a", "grad_b"),
    oracle=_mlr_oracle,
    tol={"output": Tol(1e-6, 1e-6, "float32: a + b x in one or two roundings"),
         "grad_a": Tol(1e-5, 1e-6, "float32 mean over up to 80 terms; CUDA may sum in another order"),
         "grad_b": Tol(1e-5, 1e-6, "float32 mean over up to 80 terms; CUDA may sum in another order")},
    cases=(Case("80 points", 10, dict(shape=(80, 1), seed=0)),
           Case("one point", 11, dict(shape=(1, 1), seed=1)),
           Case("a (4, 3) batch", 12, dict(shape=(4, 3), seed=2)),
           Case("on another device (meta)", 13, dict(shape=(5, 1), seed=3, meta=True))),
    mistakes=_mlr_mistakes,
    oracle_uses_outputs=True,
    error_hints=(("meta", META_HINT),),
    sweep_salts=120,
)


# ------------------------------------------------------------------------ make_train_step
def _ts_inputs(rand, N, D_in, H, D_out, steps, loss, opt, lr, seed, p=0.0, eval_first=False):
    return {"x": rand.randn(N, D_in), "y": rand.randn(N, D_out), "D_in": D_in, "H": H,
            "D_out": D_out, "steps": steps, "loss": loss, "opt": opt, "lr": lr, "seed": seed,
            "p": p, "eval_first": eval_first}


def _ts_reference(i, *, zero_grad=True, train_mode=True, loss_fn=None, step_first=False):
    """The course's train step, run the way the harness runs the learner's."""
    model, given_loss, opt = train_step_setup(i)
    loss_fn = loss_fn or given_loss
    losses, modes = [], []
    with torch.random.fork_rng(devices=rng_devices(i["x"])):
        torch.manual_seed(1234)
        for xb, yb in train_step_batches(i):
            if train_mode:
                model.train()
            loss = loss_fn(model(xb), yb)
            if step_first:
                opt.step()
                loss.backward()
            else:
                loss.backward()
                opt.step()
            if zero_grad:
                opt.zero_grad()
            losses.append(loss.item())
            modes.append(float(model.training))
    return {"modes": tuple(modes), "losses": tuple(losses), "params": flat_params(model)}


def _ts_mistakes(i):
    variants = [
        (_ts_reference(i, zero_grad=False),
         "the gradients add up from step to step: call optimizer.zero_grad() in every step"),
        (_ts_reference(i, step_first=True),
         "the parameters never changed: optimizer.step() must come after loss.backward() (which "
         "computes the gradients) and before optimizer.zero_grad() (which erases them)"),
    ]
    if i["loss"] != "mse":
        variants.append((_ts_reference(i, loss_fn=nn.MSELoss()),
                         "this is the MSE's result: use the loss_fn given to make_train_step"))
    found = {name: [Mistake(v[name], hint) for v, hint in variants] for name in ("losses", "params")}
    found["modes"] = [Mistake(tuple(0.0 for _ in range(i["steps"])),
                              "the model stayed in evaluation mode: call model.train() at the "
                              "start of every step")]
    return found


make_train_step = Spec(
    name="ch08.make_train_step",
    inputs=_ts_inputs,
    # the mode first: a step that never calls model.train() is named as such
    outputs=("losses", "params", "modes"),
    oracle=_ts_reference,
    tol={"modes": EXACT, "losses": SAME_STEPS, "params": SAME_STEPS},
    cases=(Case("Linear(1, 1), MSE, SGD", 20, dict(N=40, D_in=1, H=0, D_out=1, steps=4, loss="mse",
                                                   opt="sgd", lr=0.1, seed=0)),
           Case("MLP, L1, Adam", 21, dict(N=15, D_in=3, H=5, D_out=2, steps=3, loss="l1", opt="adam",
                                          lr=0.05, seed=1)),
           Case("MLP with dropout given in eval mode, MSE, Adam", 22,
                dict(N=12, D_in=4, H=16, D_out=3, steps=3, loss="mse", opt="adam", lr=0.01,
                     seed=2, p=0.5, eval_first=True)),
           Case("Linear(4, 3), L1, SGD, one example per step", 23,
                dict(N=5, D_in=4, H=0, D_out=3, steps=5, loss="l1", opt="sgd", lr=0.1, seed=3))),
    mistakes=_ts_mistakes,
    error_hints=(("not callable", "make_train_step(model, loss_fn, optimizer) returns the function "
                  "train_step itself (return train_step, not train_step(...))"),),
    sweep_salts=40,
)


# ------------------------------------------------------------------------ CustomDataset
def _ds_inputs(rand, N, x_shape, y_kind, dtype, meta=False):
    x = rand.randn(N, *x_shape, dtype=dtype)
    y = rand.randint(0, 5, N) if y_kind == "labels" else rand.randn(N, 1, dtype=dtype)
    device = META if meta else rand.device
    return {"x": x.to(device), "y": y.to(device)}


def _ds_oracle(i):
    return dict(zip(("length", "inputs", "targets"), dataset_items(TensorDataset(i["x"], i["y"]), len(i["x"]))))


def _ds_mistakes(i):
    n = float(len(i["x"]))
    x, y = i["x"], i["y"]
    found = {"length": [Mistake(n - 1, "len(dataset) must be the number of examples, len(x)"),
                        Mistake(float(x.shape[-1]), "len(dataset) must be the number of examples "
                                "x.shape[0], not the number of features")],
             "inputs": [Mistake(x.roll(1, dims=0), "__getitem__(index) returns row index of each "
                                "tensor: x[index], not x[index - 1]")]}
    if x.shape == y.shape and x.dtype == y.dtype:
        found["inputs"].append(Mistake(y, "x and y are swapped: __getitem__ returns (x[index], y[index])"))
    return found


CustomDataset = Spec(
    name="ch08.CustomDataset",
    inputs=_ds_inputs,
    outputs=("length", "inputs", "targets"),
    oracle=_ds_oracle,
    tol=EXACT,
    cases=(Case("80 points, (80, 1) targets", 30, dict(N=80, x_shape=(1,), y_kind="values", dtype=torch.float32)),
           Case("7 examples of 3 features, int64 labels", 31,
                dict(N=7, x_shape=(3,), y_kind="labels", dtype=torch.float32)),
           Case("one float64 example of shape (2, 4)", 32,
                dict(N=1, x_shape=(2, 4), y_kind="values", dtype=torch.float64)),
           Case("on another device (meta)", 33,
                dict(N=4, x_shape=(2,), y_kind="labels", dtype=torch.float32, meta=True))),
    mistakes=_ds_mistakes,
    error_hints=(("meta", META_HINT),
                 ("must be the pair", "__getitem__(index) returns the pair (x[index], y[index])"),
                 ("return tensors", "return tensors: the rows of the x and y tensors you were "
                  "given, not numpy arrays or numbers")),
    sweep_salts=200,
)


# ------------------------------------------------------------------------ make_loaders
def _ml_inputs(rand, N, D, train_frac, batch_size, seed):
    # column 0 of x is the example's index, so where each example went can be read back
    x = torch.cat([torch.arange(N, dtype=torch.float32).unsqueeze(1).to(rand.device),
                   rand.randn(N, D - 1)], dim=1)
    y = rand.randn(N, 1)
    return {"x": x, "y": y, "train_frac": train_frac, "batch_size": batch_size, "seed": seed}


def _split_sizes(i):
    n = len(i["x"])
    n_train = int(i["train_frac"] * n)
    return n_train, n - n_train


def _batch_sizes(n, bs):
    return tuple(float(min(bs, n - s)) for s in range(0, n, bs))


def _ml_oracle(i):
    n_train, n_val = _split_sizes(i)
    bs = i["batch_size"]
    return {"sizes": (float(n_train), float(n_val)), "largest_batch": float(min(bs, n_train)),
            "train_batches": _batch_sizes(n_train, bs), "val_batches": _batch_sizes(n_val, bs)}


def _ml_mistakes(i):
    n_train, n_val = _split_sizes(i)
    n = n_train + n_val
    return {"sizes": [
        Mistake((float(n_val), float(n_train)), "the sizes are swapped: train_frac is the share of "
                "the training set"),
        Mistake((float(n), float(n_val)), "the training loader serves the whole dataset: train on "
                "the training subset only"),
        Mistake((float(n_train), float(n)), "the validation loader serves the whole dataset: "
                "validate on the validation subset only"),
    ], "largest_batch": [
        Mistake(float(min(16, n_train)), "the batches have 16 examples: use the batch_size argument"),
    ]}


def _ml_properties(i, out, case):
    tensors = [out.get(k) for k in ("train_idx", "train_idx_2", "train_y", "val_idx", "val_idx_2", "val_y")]
    if any(type(t) is not torch.Tensor for t in tensors):
        raise CheckFailure("make_loaders: the loaders must yield (x, y) batches of tensors\nHint: "
                           "build them from one TensorDataset(x, y)")
    tr, tr2, try_, va, va2, vay = (t.cpu() for t in tensors)
    n = len(i["x"])
    where = f"(case '{case.label}', {n} examples)"
    seen = torch.cat([tr, va])
    both = set(tr.tolist()) & set(va.tolist())
    if both:
        raise CheckFailure(f"make_loaders: {len(both)} example(s) are in both the training and the "
                           f"validation loader {where}\nHint: the validation data leaks into "
                           "training: build each loader from its own subset of random_split")
    if sorted(seen.tolist()) != list(range(n)):
        raise CheckFailure(f"make_loaders: the two loaders together do not serve every example exactly "
                           f"once per epoch {where}\nHint: split one TensorDataset with random_split")
    if not torch.equal(try_, i["y"].cpu()[tr]) or not torch.equal(vay, i["y"].cpu()[va]):
        raise CheckFailure(f"make_loaders: some y is not paired with its own x {where}\nHint: keep "
                           "x[k] and y[k] together in one TensorDataset before splitting")
    if sorted(tr.tolist()) == list(range(len(tr))):
        raise CheckFailure(f"make_loaders: the training set is the first {len(tr)} examples {where}\n"
                           "Hint: split at random (random_split), or ordered data ends up all in one set")
    if torch.equal(tr, tr2):
        raise CheckFailure(f"make_loaders: the training loader served the same order in two epochs "
                           f"{where}\nHint: shuffle=True for the training loader")
    if not torch.equal(va, va2):
        raise CheckFailure(f"make_loaders: the validation loader changed its order between epochs "
                           f"{where}\nHint: shuffle=False for the validation loader")


def _ml_same_split(i, out, case):
    """The split follows `seed`: random_split with a generator seeded with it (the text
    says so), so the validation set is the one that generator gives."""
    va = out.get("val_idx")
    if type(va) is not torch.Tensor:
        return
    n_train, n_val = _split_sizes(i)
    perm = torch.randperm(n_train + n_val, generator=torch.Generator().manual_seed(i["seed"]))
    want = sorted(perm[n_train:].tolist())
    if sorted(va.cpu().tolist()) != want:
        raise CheckFailure(f"make_loaders: the validation set is not the one random_split gives with "
                           f"torch.Generator().manual_seed(seed) (case '{case.label}')\nHint: pass "
                           "generator=torch.Generator().manual_seed(seed) to random_split, so that "
                           "the split is the same at every run")


make_loaders = Spec(
    name="ch08.make_loaders",
    inputs=_ml_inputs,
    outputs=("sizes", "largest_batch", "train_batches", "val_batches", "train_idx", "train_idx_2", "train_y",
             "val_idx", "val_idx_2", "val_y"),
    oracle=_ml_oracle,
    tol=EXACT,
    cases=(Case("100 points, 80/20, batches of 16", 40, dict(N=100, D=2, train_frac=0.8, batch_size=16, seed=42)),
           Case("25 points, 80/20, batches of 7", 41, dict(N=25, D=3, train_frac=0.8, batch_size=7, seed=0)),
           Case("40 points, 75/25, one batch each", 42, dict(N=40, D=1, train_frac=0.75, batch_size=64, seed=3))),
    mistakes=_ml_mistakes,
    properties=(Property("split", _ml_properties, "no leakage, full cover, pairs intact, random split, "
                         "training shuffled, validation in a fixed order"),
                Property("seeded split", _ml_same_split, "random_split with the seeded generator")),
    sweep_salts=120,
)


# ------------------------------------------------------------------------ fit
def _fit_inputs(rand, N, Nv, D, H, p, bs, vbs, epochs, lr, opt, seed, momentum=0.0,
                checkpoint=False, val_scale=1.0):
    """Training points on the plane y = 1 + x @ (1, 2, ...) with noise; validation points
    on the same plane, or (val_scale < 1) on a flatter one: training then passes the
    validation optimum on its way, so the best epoch comes before the last."""
    x, xv = rand.randn(N, D), rand.randn(Nv, D)
    w = torch.arange(1, D + 1, dtype=torch.float32, device=rand.device).unsqueeze(1)
    return {"x": x, "y": 1 + x @ w + 0.1 * rand.randn(N, 1), "xv": xv,
            "yv": 1 + xv @ (val_scale * w) + 0.1 * rand.randn(Nv, 1), "D": D, "H": H, "p": p, "bs": bs,
            "vbs": vbs, "epochs": epochs, "lr": lr, "opt": opt, "seed": seed, "momentum": momentum,
            "checkpoint": checkpoint}


def _reference_fit(i, *, separate=False, val_trains=False, val_first=False, batch_means=False,
                   retrain=True, separate_in_train_mode=False):
    """The course's recipe, written out (grader side): per epoch, train on every batch, then
    validate under eval() and no_grad(); losses are means per example; a checkpoint is kept
    at each epoch whose validation loss is the lowest so far. The keyword flags build the
    allowed variant (`separate`: the training loss measured by a pass over train_loader
    in evaluation mode after the epoch's training) and known slips, for the hints."""
    model, train_loader, val_loader, loss_fn, opt, device = fit_setup(i)

    def one_pass(loader, train, mode=None):
        model.train(train if mode is None else mode)
        total, count, means = 0.0, 0, []
        with torch.set_grad_enabled(train):
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
                loss = loss_fn(model(xb), yb)
                if train:
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                total += loss.item() * len(xb)
                count += len(xb)
                means.append(loss.item())
        return sum(means) / len(means) if batch_means else total / count

    train_losses, val_losses, best = [], [], None
    checkpoint = (None,) * 4
    with torch.random.fork_rng(devices=rng_devices(i["x"])):
        torch.manual_seed(99)
        for epoch in range(i["epochs"]):
            before = one_pass(val_loader, val_trains) if val_first else None
            train_mode = True if (retrain or epoch == 0) else False
            tr = one_pass(train_loader, True, mode=train_mode)
            if separate:
                tr = one_pass(train_loader, False, mode=separate_in_train_mode)
            va = before if val_first else one_pass(val_loader, val_trains)
            train_losses.append(tr)
            val_losses.append(va)
            if best is None or va < best:
                best = va
                checkpoint = (float(epoch + 1), va, flat_params(model).cpu(),
                              optimizer_state_flat(opt.state_dict()))
    modes = torch.tensor(model[-1].records, dtype=torch.float32)
    return {"modes": modes, "train_losses": tuple(train_losses), "val_losses": tuple(val_losses),
            "params": flat_params(model), "checkpoint": checkpoint}


def _n_batches(n, bs):
    return -(-n // bs)


def _fit_modes(i, *, val=(0.0, 0.0), retrain=True, val_first=False, separate=None):
    """The (training, grad) record of every forward pass, epoch by epoch."""
    n_train, n_val = _n_batches(len(i["x"]), i["bs"]), _n_batches(len(i["xv"]), i["vbs"])
    rows = []
    for epoch in range(i["epochs"]):
        train = [(1.0 if (retrain or epoch == 0) else 0.0, 1.0)] * n_train
        extra = [separate] * n_train if separate else []
        vals = [val] * n_val
        rows += vals + train + extra if val_first else train + extra + vals
    return torch.tensor(rows, dtype=torch.float32)


def _fit_oracle(i, out):
    """The reference for the learner's way of measuring the training loss (the running mean
    over the training batches, or a separate pass in evaluation mode: both allowed), after
    the two device observations no value shows."""
    where = f"(device {i['x'].device}, {i['epochs']} epochs)"
    unmoved = out.get("unmoved")
    if unmoved != 0.0:
        raise CheckFailure(
            f"fit: {int(unmoved) if type(unmoved) is float else unmoved} operation(s) used a batch "
            f"before it was moved to `device` {where}\nHint: move every batch first, xb, yb = "
            "xb.to(device), yb.to(device): on a GPU the model's weights and a batch left on the "
            "CPU cannot meet (the checks mark the batches to see this without a GPU)")
    away = out.get("away")
    if away != 0.0:
        raise CheckFailure(
            f"fit: the model was moved away from `device` and used (or left) there {where}\nHint: "
            "keep the model on `device`: to save a checkpoint, torch.save(model.state_dict(), "
            "path) is enough (torch.load(..., map_location=...) places it when loading); "
            "model.cpu() or model.to('cpu') moves the model itself, and training then goes on on "
            "the CPU, or fails on a GPU")
    modes = out.get("modes")
    separate = _fit_modes(i, separate=(0.0, 0.0))
    chose_separate = type(modes) is torch.Tensor and modes.shape == separate.shape \
        and torch.equal(modes.cpu(), separate)
    ref = _reference_fit(i, separate=chose_separate)
    # for the hints: whether validation trained the model (an optimizer given to a helper
    # during validation, or train_step on validation batches)
    if type(modes) is torch.Tensor and modes.shape == _fit_modes(i).shape \
            and torch.equal(modes.cpu(), _fit_modes(i, val=(1.0, 1.0))):
        trained = _reference_fit(i, val_trains=True)["params"]
        got = out.get("params")
        i["_val_trained"] = type(got) is torch.Tensor and got.shape == trained.shape and \
            bool(torch.allclose(got, trained, rtol=SAME_STEPS.rtol, atol=SAME_STEPS.atol))
    expected = {"modes": ref["modes"], "train_losses": ref["train_losses"],
                "val_losses": ref["val_losses"], "params": ref["params"]}
    if i["checkpoint"]:
        epoch, val, params, opt_state = ref["checkpoint"]
        expected.update(ckpt_status=0.0, ckpt_epoch=epoch, ckpt_val_loss=val, ckpt_params=params,
                        ckpt_opt=opt_state)
    else:
        expected.update(ckpt_status=None, ckpt_epoch=None, ckpt_val_loss=None, ckpt_params=None,
                        ckpt_opt=None)
    return expected


WEIGHTED = ("this is the mean of the batch losses: weight each batch's loss by its size, "
            "sum(loss * len(xb)) / number of examples, since the last batch can be smaller")


def _fit_mistakes(i):
    means = _reference_fit(i, batch_means=True)
    first = _reference_fit(i, val_first=True)
    val_trained = ("validation trained the model: the validation batches ran in training mode "
                   "with gradients and the optimizer stepped on them (an optimizer passed to a "
                   "helper during validation, or train_step called on validation batches); "
                   "validate with model.eval() and torch.no_grad(), and no optimizer"
                   if i.get("_val_trained") else
                   "validation ran in training mode with autograd recording: model.eval() and "
                   "torch.no_grad() around the validation batches")
    found = {
        "modes": [
            Mistake(_fit_modes(i, val=(1.0, 0.0)), "validation ran in training mode: call "
                    "model.eval() before the validation batches (Dropout and BatchNorm behave "
                    "differently there)"),
            Mistake(_fit_modes(i, val=(0.0, 1.0)), "validation ran with autograd recording: wrap "
                    "the validation loop in `with torch.no_grad():`"),
            Mistake(_fit_modes(i, val=(1.0, 1.0)), val_trained),
            Mistake(_fit_modes(i, retrain=False), "after the first validation the model stayed in "
                    "evaluation mode: call model.train() before each epoch's training batches"),
            Mistake(_fit_modes(i, val_first=True), "each epoch validated before it trained: "
                    "validate after the epoch's training batches"),
            Mistake(_fit_modes(i, separate=(1.0, 0.0)), "your separate pass over train_loader (to "
                    "measure the training loss) ran in training mode: make it like the validation, "
                    "model.eval() and torch.no_grad()"),
            Mistake(_fit_modes(i, separate=(1.0, 1.0)), "your separate pass over train_loader (to "
                    "measure the training loss) ran in training mode with gradients: make it like "
                    "the validation, model.eval() and torch.no_grad()"),
            Mistake(_fit_modes(i, separate=(0.0, 1.0)), "your separate pass over train_loader (to "
                    "measure the training loss) ran with autograd recording: wrap it in "
                    "torch.no_grad(), like the validation"),
        ],
        "train_losses": [Mistake(means["train_losses"], WEIGHTED)],
        "val_losses": [
            Mistake(means["val_losses"], WEIGHTED),
            Mistake(first["val_losses"], "each epoch's validation loss was measured before its "
                    "training: validate after the epoch's training batches"),
            Mistake(first["train_losses"], "these are the training losses: compute val_losses on "
                    "val_loader"),
        ],
    }
    if i["checkpoint"]:
        ref = _reference_fit(i)
        best = int(ref["checkpoint"][0])
        found["ckpt_status"] = [
            Mistake(1.0, "no checkpoint file was written: when checkpoint_path is given, "
                    "torch.save(...) to it after every epoch whose validation loss is the lowest so far"),
            Mistake(2.0, "the checkpoint cannot be read with torch.load(path, weights_only=True): "
                    "save a dict of state_dicts and numbers, not the model or optimizer objects"),
            Mistake(3.0, "the checkpoint must be a dict with the keys 'epoch', 'model', 'optimizer' "
                    "and 'val_loss'"),
            Mistake(4.0, "the checkpoint's 'model' must be model.state_dict()")]
        found["ckpt_epoch"] = [
            Mistake(float(i["epochs"]), "the checkpoint is the last epoch's: save only when the "
                    "validation loss is lower than every earlier one"),
            Mistake(float(best - 1), "'epoch' counts the epochs done: 1 after the first epoch")]
        found["ckpt_params"] = [Mistake(ref["params"].cpu(), "the checkpoint holds the last epoch's "
                                        "weights: save only when the validation loss is lower than "
                                        "every earlier one")]
    return found


FIT_OUTPUTS = ("modes", "unmoved", "away", "train_losses", "val_losses", "params", "ckpt_status",
               "ckpt_epoch", "ckpt_val_loss", "ckpt_params", "ckpt_opt")

fit = Spec(
    name="ch08.fit",
    inputs=_fit_inputs,
    # modes first: a validation outside eval()/no_grad is named as such, not as a wrong loss
    outputs=FIT_OUTPUTS,
    oracle=_fit_oracle,
    tol={"modes": EXACT, "train_losses": SAME_STEPS, "val_losses": SAME_STEPS, "params": SAME_STEPS,
         "ckpt_status": EXACT, "ckpt_epoch": EXACT, "ckpt_val_loss": SAME_STEPS,
         "ckpt_params": SAME_STEPS,
         "ckpt_opt": Tol(1e-5, 1e-6, "the optimizer's float32 state (float64 in the file's copy), "
                         "the reference's operations in the same order")},
    cases=(Case("linear, 3 epochs, ragged batches", 50,
                dict(N=37, Nv=11, D=1, H=0, p=0.0, bs=8, vbs=4, epochs=3, lr=0.1, opt="sgd", seed=0)),
           Case("MLP with dropout, Adam, 2 epochs", 51,
                dict(N=24, Nv=10, D=3, H=8, p=0.5, bs=6, vbs=4, epochs=2, lr=0.01, opt="adam", seed=1)),
           Case("one batch each, 4 epochs", 52,
                dict(N=16, Nv=8, D=2, H=0, p=0.0, bs=16, vbs=8, epochs=4, lr=0.05, opt="sgd", seed=2)),
           Case("a checkpoint of the best epoch, SGD with momentum, 6 epochs", 53,
                dict(N=20, Nv=12, D=1, H=0, p=0.0, bs=5, vbs=4, epochs=6, lr=0.1, opt="sgd",
                     momentum=0.5, seed=3, checkpoint=True, val_scale=0.0))),
    mistakes=_fit_mistakes,
    oracle_uses_outputs=True,
    # Grade the loop alone: a fit that uses make_train_step gets the course's version.
    isolate=("make_train_step",),
    error_hints=(("must return the pair", "return the pair (train_losses, val_losses)"),
                 ("object is not callable", "make_train_step takes (model, loss_fn, optimizer), "
                  "in that order, and returns the step function"),
                 ("checkpoint_path", "fit takes a keyword argument checkpoint_path=None: "
                  "def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, "
                  "device=\"cpu\", checkpoint_path=None)")),
    sweep_salts=25,
)

SPECS = register(numpy_fit, ManualLinearRegression, make_train_step, CustomDataset, make_loaders, fit)

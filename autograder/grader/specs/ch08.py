"""Chapter 08: linear regression step by step, from numpy to idiomatic PyTorch.

Oracles: torch autograd in float64 (numpy gradient descent), scikit-learn's
LinearRegression (where gradient descent converges), PyTorch's own TensorDataset,
random_split and DataLoader, and reference training loops (for `fit`, the course's
`autograder.training.fit`). Models are built on the grader side from a seeded CPU
generator and moved to the device, so every device starts from the same weights.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..compare import CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec
from ..reference_training import fit as course_fit
from . import register

# numpy float64 against torch float64: the same arithmetic, summed in another order; over
# 1000 epochs of gradient descent these roundings add up, but stay far below 1e-9.
TRAJECTORY = Tol(1e-7, 1e-9, "float64 on both sides over up to 1000 steps; only the order of summation differs")
# float32 on the same device with the same operations in the same order as the reference:
# only how the learner accumulates the (float64) loss numbers may differ.
SAME_STEPS = Tol(1e-5, 1e-6, "float32, the reference's operations in the same order on the same device")
EXACT = Tol(0.0, 0.0, "sizes, counts and flags are exact")
SKLEARN_ATOL = 1e-5    # 1000 epochs at lr 0.1 converge to within ~1e-7 of the least-squares fit


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _seeded_init(seed: int, build, device: str) -> nn.Module:
    """A model whose initial weights come from the CPU generator (same on every device)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    return model.to(device)


def _flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


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


def _nf_call(fn, i):
    out = fn(i["x"], i["y"], i["lr"], i["epochs"])
    if type(out) not in (tuple, list) or len(out) != 2:
        raise TypeError("numpy_fit must return the pair (a, b)")
    # an array holding one number (the shape of a or b in the tutorial) is as good as a float
    return tuple(float(v.reshape(())) if type(v) is np.ndarray and v.size == 1 else v for v in out)


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
    call=_nf_call,
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
)


# ------------------------------------------------------------------------ ManualLinearRegression
def _mlr_inputs(rand, shape, seed):
    x = rand.randn(*shape)
    return {"x": x, "y": 1.0 + 2.0 * x + 0.1 * rand.randn(*shape), "seed": seed}


def _mlr_call(cls, i):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(i["seed"])
        model = cls()
    if not isinstance(model, nn.Module):
        raise TypeError("ManualLinearRegression must subclass nn.Module")
    names = [n for n, _ in model.named_parameters()]
    if sorted(names) != ["a", "b"]:
        raise ValueError(
            f"model.named_parameters() lists {names}: register exactly two parameters named "
            "`a` and `b` (self.a = nn.Parameter(torch.randn(1)), likewise b). A plain tensor, or "
            "nn.Parameter(...).to(device) (which returns a plain tensor), is not registered")
    model.to(i["x"].device)
    params = dict(model.named_parameters())
    out = model(i["x"])
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise ValueError("forward returned a result that does not depend on the parameters: compute "
                         "self.a + self.b * x with tensors (no .item(), no .detach())")
    ((out - i["y"]) ** 2).mean().backward()
    return params["a"], params["b"], out, params["a"].grad, params["b"].grad


def _mlr_param(value, device):
    ok = (type(value) is torch.Tensor and value.shape == (1,) and value.dtype == torch.float32
          and str(value.device) == str(torch.device(device)))
    return value.clone() if ok else torch.zeros(1, device=device)


def _mlr_oracle(i, out):
    device = i["x"].device
    a = _mlr_param(out.get("a"), device).requires_grad_()
    b = _mlr_param(out.get("b"), device).requires_grad_()
    pred = a + b * i["x"]
    ga, gb = torch.autograd.grad(((pred - i["y"]) ** 2).mean(), [a, b])
    return {"a": a.detach(), "b": b.detach(), "output": pred.detach(), "grad_a": ga, "grad_b": gb}


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
    call=_mlr_call,
    outputs=("a", "b", "output", "grad_a", "grad_b"),
    oracle=_mlr_oracle,
    tol={"a": EXACT, "b": EXACT,
         "output": Tol(1e-6, 1e-6, "float32: a + b x in one or two roundings"),
         "grad_a": Tol(1e-5, 1e-6, "float32 mean over up to 80 terms; CUDA may sum in another order"),
         "grad_b": Tol(1e-5, 1e-6, "float32 mean over up to 80 terms; CUDA may sum in another order")},
    cases=(Case("80 points", 10, dict(shape=(80, 1), seed=0)),
           Case("one point", 11, dict(shape=(1, 1), seed=1)),
           Case("a (4, 3) batch", 12, dict(shape=(4, 3), seed=2))),
    mistakes=_mlr_mistakes,
    oracle_uses_outputs=True,
)


# ------------------------------------------------------------------------ make_train_step
class _Mlp(nn.Sequential):
    def __init__(self, d_in, h, d_out, p=0.0):
        layers = [nn.Linear(d_in, h), nn.ReLU()] + ([nn.Dropout(p)] if p else []) + [nn.Linear(h, d_out)]
        super().__init__(*layers)


def _ts_inputs(rand, N, D_in, H, D_out, steps, loss, opt, lr, seed, p=0.0, eval_first=False):
    return {"x": rand.randn(N, D_in), "y": rand.randn(N, D_out), "D_in": D_in, "H": H,
            "D_out": D_out, "steps": steps, "loss": loss, "opt": opt, "lr": lr, "seed": seed,
            "p": p, "eval_first": eval_first}


def _ts_setup(i):
    device = i["x"].device
    if i["H"]:
        model = _seeded_init(i["seed"], lambda: _Mlp(i["D_in"], i["H"], i["D_out"], i["p"]), device)
    else:
        model = _seeded_init(i["seed"], lambda: nn.Linear(i["D_in"], i["D_out"]), device)
    if i["eval_first"]:
        model.eval()
    loss_fn = {"mse": nn.MSELoss(), "l1": nn.L1Loss()}[i["loss"]]
    if i["opt"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=i["lr"], momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=i["lr"])
    return model, loss_fn, opt


def _ts_batches(i):
    return list(zip(i["x"].chunk(i["steps"]), i["y"].chunk(i["steps"])))


def reference_make_train_step(model, loss_fn, optimizer):
    """The course's train step: one update on a batch, returns the batch loss (a float)."""
    def train_step(x, y):
        model.train()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()
    return train_step


def _ts_reference(i, *, zero_grad=True, train_mode=True, loss_fn=None, step_first=False):
    model, given_loss, opt = _ts_setup(i)
    loss_fn = loss_fn or given_loss
    losses = []
    with torch.random.fork_rng(devices=[i["x"].device.index or 0] if i["x"].is_cuda else []):
        torch.manual_seed(1234)
        for xb, yb in _ts_batches(i):
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
    return {"losses": tuple(losses), "params": _flat_params(model)}


def _ts_call(fn, i):
    model, loss_fn, opt = _ts_setup(i)
    step = fn(model, loss_fn, opt)
    if not callable(step):
        raise TypeError("make_train_step must return a function train_step(x, y)")
    losses = []
    with torch.random.fork_rng(devices=[i["x"].device.index or 0] if i["x"].is_cuda else []):
        torch.manual_seed(1234)
        for xb, yb in _ts_batches(i):
            losses.append(step(xb, yb))
    return losses, _flat_params(model)


def _ts_mistakes(i):
    variants = [
        (_ts_reference(i, zero_grad=False),
         "the gradients add up from step to step: call optimizer.zero_grad() in every step"),
        (_ts_reference(i, train_mode=False),
         "the model stayed in evaluation mode: call model.train() at the start of the step"),
        (_ts_reference(i, step_first=True),
         "the parameters never changed: optimizer.step() must come after loss.backward() (which "
         "computes the gradients) and before optimizer.zero_grad() (which erases them)"),
    ]
    if i["loss"] != "mse":
        variants.append((_ts_reference(i, loss_fn=nn.MSELoss()),
                         "this is the MSE's result: use the loss_fn given to make_train_step"))
    return {name: [Mistake(v[name], hint) for v, hint in variants] for name in ("losses", "params")}


make_train_step = Spec(
    name="ch08.make_train_step",
    inputs=_ts_inputs,
    call=_ts_call,
    outputs=("losses", "params"),
    oracle=_ts_reference,
    tol=SAME_STEPS,
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
)


# ------------------------------------------------------------------------ CustomDataset
def _ds_inputs(rand, N, x_shape, y_kind, dtype):
    x = rand.randn(N, *x_shape, dtype=dtype)
    y = rand.randint(0, 5, N) if y_kind == "labels" else rand.randn(N, 1, dtype=dtype)
    return {"x": x, "y": y}


def _items(ds, n):
    xs, ys = [], []
    for k in range(n):
        item = ds[k]
        if type(item) not in (tuple, list) or len(item) != 2:
            raise TypeError(f"dataset[{k}] must be the pair (x[{k}], y[{k}]), got a {type(item).__name__}")
        for part, where in zip(item, (xs, ys)):
            if not isinstance(part, torch.Tensor):
                raise TypeError(f"dataset[{k}] holds a {type(part).__name__}: return tensors, "
                                "the rows of the x and y tensors you were given")
            where.append(part)
    return float(len(ds)), torch.stack(xs), torch.stack(ys)


def _ds_call(cls, i):
    ds = cls(i["x"], i["y"])
    return _items(ds, len(i["x"]))


def _ds_oracle(i):
    return dict(zip(("length", "inputs", "targets"), _items(TensorDataset(i["x"], i["y"]), len(i["x"]))))


def _ds_mistakes(i):
    n = float(len(i["x"]))
    return {"length": [Mistake(n - 1, "len(dataset) must be the number of examples, len(x)"),
                       Mistake(float(i["x"].shape[-1]), "len(dataset) must be the number of examples "
                               "x.shape[0], not the number of features")]}


CustomDataset = Spec(
    name="ch08.CustomDataset",
    inputs=_ds_inputs,
    call=_ds_call,
    outputs=("length", "inputs", "targets"),
    oracle=_ds_oracle,
    tol=EXACT,
    cases=(Case("80 points, (80, 1) targets", 30, dict(N=80, x_shape=(1,), y_kind="values", dtype=torch.float32)),
           Case("7 examples of 3 features, int64 labels", 31,
                dict(N=7, x_shape=(3,), y_kind="labels", dtype=torch.float32)),
           Case("one float64 example of shape (2, 4)", 32,
                dict(N=1, x_shape=(2, 4), y_kind="values", dtype=torch.float64))),
    mistakes=_ds_mistakes,
)


# ------------------------------------------------------------------------ make_loaders
def _ml_inputs(rand, N, D, train_frac, batch_size, seed):
    # column 0 of x is the example's index, so where each example went can be read back
    x = torch.cat([torch.arange(N, dtype=torch.float32).unsqueeze(1).to(rand.device),
                   rand.randn(N, D - 1)], dim=1)
    y = rand.randn(N, 1)
    return {"x": x, "y": y, "train_frac": train_frac, "batch_size": batch_size, "seed": seed}


def _epoch(loader):
    xs, ys, sizes = [], [], []
    for xb, yb in loader:
        xs.append(xb)
        ys.append(yb)
        sizes.append(float(len(xb)))
    return torch.cat(xs)[:, 0].round().long(), torch.cat(ys), tuple(sizes)


def _ml_call(fn, i):
    train_loader, val_loader = fn(i["x"], i["y"], i["train_frac"], i["batch_size"], i["seed"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        tr1, try1, tr_sizes = _epoch(train_loader)
        tr2, _, _ = _epoch(train_loader)
        va1, vay1, va_sizes = _epoch(val_loader)
        va2, _, _ = _epoch(val_loader)
    sizes = (float(len(train_loader.dataset)), float(len(val_loader.dataset)))
    return sizes, max(tr_sizes, default=0.0), tr_sizes, va_sizes, tr1, tr2, try1, va1, va2, vay1


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
        raise CheckFailure("make_loaders: the loaders must yield (x, y) batches of tensors")
    tr, tr2, try_, va, va2, vay = (t.cpu() for t in tensors)
    n = len(i["x"])
    where = f"(case '{case.label}', {n} examples)"
    seen = torch.cat([tr, va])
    if len(set(tr.tolist()) & set(va.tolist())):
        raise CheckFailure(f"make_loaders: {len(set(tr.tolist()) & set(va.tolist()))} example(s) are in both "
                           f"the training and the validation loader {where}: the validation data "
                           "leaks into training\nHint: build each loader from its own subset of "
                           "random_split")
    if sorted(seen.tolist()) != list(range(n)):
        raise CheckFailure(f"make_loaders: the two loaders together do not serve every example exactly "
                           f"once per epoch {where}\nHint: split one TensorDataset with random_split")
    if not torch.equal(try_, i["y"].cpu()[tr]) or not torch.equal(vay, i["y"].cpu()[va]):
        raise CheckFailure(f"make_loaders: some y is not paired with its own x {where}\nHint: keep "
                           "x[k] and y[k] together in one TensorDataset before splitting")
    if sorted(tr.tolist()) == list(range(len(tr))):
        raise CheckFailure(f"make_loaders: the training set is the first {len(tr)} examples {where}: "
                           "split at random (random_split), or ordered data ends up all in one set")
    if torch.equal(tr, tr2):
        raise CheckFailure(f"make_loaders: the training loader served the same order in two epochs "
                           f"{where}\nHint: shuffle=True for the training loader")
    if not torch.equal(va, va2):
        raise CheckFailure(f"make_loaders: the validation loader changed its order between epochs "
                           f"{where}\nHint: shuffle=False for the validation loader")


make_loaders = Spec(
    name="ch08.make_loaders",
    inputs=_ml_inputs,
    call=_ml_call,
    outputs=("sizes", "largest_batch", "train_batches", "val_batches", "train_idx", "train_idx_2", "train_y",
             "val_idx", "val_idx_2", "val_y"),
    oracle=_ml_oracle,
    tol=EXACT,
    cases=(Case("100 points, 80/20, batches of 16", 40, dict(N=100, D=2, train_frac=0.8, batch_size=16, seed=42)),
           Case("25 points, 80/20, batches of 7", 41, dict(N=25, D=3, train_frac=0.8, batch_size=7, seed=0)),
           Case("40 points, 75/25, one batch each", 42, dict(N=40, D=1, train_frac=0.75, batch_size=64, seed=3))),
    mistakes=_ml_mistakes,
    properties=(Property("split", _ml_properties, "no leakage, full cover, pairs intact, random split, "
                         "training shuffled, validation in a fixed order"),),
)


# ------------------------------------------------------------------------ fit
class _Recorder(nn.Module):
    """Passes its input through and records, at every call, whether the model was in
    training mode and whether autograd was recording."""

    def __init__(self):
        super().__init__()
        self.records: list[tuple[float, float]] = []

    def forward(self, x):
        self.records.append((float(self.training), float(torch.is_grad_enabled())))
        return x


def _fit_inputs(rand, N, Nv, D, H, p, bs, vbs, epochs, lr, opt, seed):
    x, xv = rand.randn(N, D), rand.randn(Nv, D)
    w = torch.arange(1, D + 1, dtype=torch.float32, device=rand.device).unsqueeze(1)
    return {"x": x, "y": 1 + x @ w + 0.1 * rand.randn(N, 1), "xv": xv,
            "yv": 1 + xv @ w + 0.1 * rand.randn(Nv, 1), "D": D, "H": H, "p": p, "bs": bs,
            "vbs": vbs, "epochs": epochs, "lr": lr, "opt": opt, "seed": seed}


def _fit_setup(i):
    """Model (with a recorder at its end) on the device, loaders of CPU tensors (fit moves
    the batches), loss and optimizer; all from fixed seeds."""
    device = i["x"].device

    def build():
        body = _Mlp(i["D"], i["H"], 1, i["p"]) if i["H"] else nn.Linear(i["D"], 1)
        return nn.Sequential(body, _Recorder())

    model = _seeded_init(i["seed"], build, device)
    opt = (torch.optim.SGD(model.parameters(), lr=i["lr"]) if i["opt"] == "sgd"
           else torch.optim.Adam(model.parameters(), lr=i["lr"]))
    train_loader = DataLoader(TensorDataset(i["x"].cpu(), i["y"].cpu()), batch_size=i["bs"], shuffle=True,
                              generator=torch.Generator().manual_seed(i["seed"]))
    val_loader = DataLoader(TensorDataset(i["xv"].cpu(), i["yv"].cpu()), batch_size=i["vbs"])
    return model, train_loader, val_loader, nn.MSELoss(), opt, str(device)


def _rng_devices(i):
    return [i["x"].device.index or 0] if i["x"].is_cuda else []


def _fit_call(fn, i):
    model, train_loader, val_loader, loss_fn, opt, device = _fit_setup(i)
    with torch.random.fork_rng(devices=_rng_devices(i)), _quiet():
        torch.manual_seed(99)
        result = fn(model, train_loader, val_loader, loss_fn, opt, i["epochs"], device)
    if type(result) not in (tuple, list) or len(result) != 2:
        raise TypeError("fit must return the pair (train_losses, val_losses)")
    records = model[-1].records
    modes = torch.tensor(records, dtype=torch.float32) if records else torch.zeros(0, 2)
    return modes, result[0], result[1], _flat_params(model)


def _fit_oracle(i):
    model, train_loader, val_loader, loss_fn, opt, device = _fit_setup(i)
    with torch.random.fork_rng(devices=_rng_devices(i)):
        torch.manual_seed(99)
        history = course_fit(model, train_loader, val_loader, loss_fn, opt, i["epochs"], device,
                             show_progress=False)
    return {"modes": torch.tensor(model[-1].records, dtype=torch.float32),
            "train_losses": tuple(history.train_loss), "val_losses": tuple(history.val_loss),
            "params": _flat_params(model)}


def _variant_fit(i, *, batch_means=False, val_first=False):
    """A hand-written loop with a known slip, for the hints."""
    model, train_loader, val_loader, loss_fn, opt, device = _fit_setup(i)

    def mean_loss(loader, train):
        model.train(train)
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

    train_losses, val_losses = [], []
    with torch.random.fork_rng(devices=_rng_devices(i)):
        torch.manual_seed(99)
        for _ in range(i["epochs"]):
            before = mean_loss(val_loader, False) if val_first else None
            train_losses.append(mean_loss(train_loader, True))
            after = mean_loss(val_loader, False)
            val_losses.append(before if val_first else after)
    return tuple(train_losses), tuple(val_losses)


def _modes(i, val_training, val_grad, retrain=True, val_first=False):
    n_train = -(-len(i["x"]) // i["bs"])
    n_val = -(-len(i["xv"]) // i["vbs"])
    rows = []
    for epoch in range(i["epochs"]):
        train_flag = 1.0 if (retrain or epoch == 0) else 0.0
        train_rows, val_rows = [(train_flag, 1.0)] * n_train, [(val_training, val_grad)] * n_val
        rows += val_rows + train_rows if val_first else train_rows + val_rows
    return torch.tensor(rows, dtype=torch.float32)


def _fit_mistakes(i):
    means = _variant_fit(i, batch_means=True)
    first = _variant_fit(i, val_first=True)
    return {
        "modes": [
            Mistake(_modes(i, 1.0, 0.0), "validation ran in training mode: call model.eval() before "
                    "the validation batches (Dropout and BatchNorm behave differently there)"),
            Mistake(_modes(i, 0.0, 1.0), "validation ran with autograd recording: wrap the validation "
                    "loop in `with torch.no_grad():`"),
            Mistake(_modes(i, 1.0, 1.0), "validation ran in training mode with autograd recording: "
                    "model.eval() and torch.no_grad() around the validation batches"),
            Mistake(_modes(i, 0.0, 0.0, retrain=False), "after the first validation the model stayed "
                    "in evaluation mode: call model.train() before each epoch's training batches"),
            Mistake(_modes(i, 0.0, 0.0, val_first=True), "each epoch validated before it trained: "
                    "validate after the epoch's training batches"),
        ],
        "train_losses": [Mistake(means[0], "this is the mean of the batch losses: weight each batch's "
                                 "loss by its size, sum(loss * len(xb)) / number of examples, since the "
                                 "last batch can be smaller")],
        "val_losses": [
            Mistake(means[1], "this is the mean of the batch losses: weight each batch's loss by its "
                    "size, sum(loss * len(xb)) / number of examples, since the last batch can be smaller"),
            Mistake(first[1], "each epoch's validation loss was measured before its training: validate "
                    "after the epoch's training batches"),
            Mistake(first[0], "these are the training losses: compute val_losses on val_loader"),
        ],
    }


fit = Spec(
    name="ch08.fit",
    inputs=_fit_inputs,
    call=_fit_call,
    # modes first: a validation outside eval()/no_grad is named as such, not as a wrong loss
    outputs=("modes", "train_losses", "val_losses", "params"),
    oracle=_fit_oracle,
    tol={"modes": EXACT, "train_losses": SAME_STEPS, "val_losses": SAME_STEPS, "params": SAME_STEPS},
    cases=(Case("linear, 3 epochs, ragged batches", 50,
                dict(N=37, Nv=11, D=1, H=0, p=0.0, bs=8, vbs=4, epochs=3, lr=0.1, opt="sgd", seed=0)),
           Case("MLP with dropout, Adam, 2 epochs", 51,
                dict(N=24, Nv=10, D=3, H=8, p=0.5, bs=6, vbs=4, epochs=2, lr=0.01, opt="adam", seed=1)),
           Case("one batch each, 4 epochs", 52,
                dict(N=16, Nv=8, D=2, H=0, p=0.0, bs=16, vbs=8, epochs=4, lr=0.05, opt="sgd", seed=2))),
    mistakes=_fit_mistakes,
    # Grade the loop alone: a fit that uses make_train_step gets the course's version.
    isolate=lambda: {"make_train_step": reference_make_train_step},
)

SPECS = register(numpy_fit, ManualLinearRegression, make_train_step, CustomDataset, make_loaders, fit)

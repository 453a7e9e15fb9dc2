"""Chapter 08: linear regression, from numpy to a whole training recipe.

What each exercise's object is called with, built here from the grader's plain values
(weights come from a fixed seed, loaders from tensors), and what is observed of it. Some
observations need no GPU to see device mistakes:

* `fit` receives batches that know they have not been moved yet (`Unmoved`): an
  operation that meets the model's weights before `.to(device)` is counted, since on a GPU
  it would fail; and the model's `.to`/`.cpu`/`.cuda` are watched, so a forward pass made
  while the model was moved away from `device` (e.g. `model.cpu()` before saving a
  checkpoint) is counted too;
* the other exercises have cases on the `meta` device (shapes and dtypes, no values),
  where a tensor created on the CPU meets the inputs exactly as on a GPU.

Nothing here answers an exercise: the model builders and the recorder only set the
stage, and every verdict is the grader's.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.data import DataLoader, TensorDataset

from ..probes import default_device
from . import calls

CALLS, harness = calls()


def meta_errors_are_errors(call):
    """On the `meta` device, copying a tensor's data raises NotImplementedError, which the
    grader would read as "not answered yet": re-raise it as the device mistake it is."""

    @functools.wraps(call)
    def wrapped(learner, i):
        try:
            return call(learner, i)
        except NotImplementedError as err:
            if "meta" in str(err):
                raise RuntimeError(f"{err} (a tensor on the meta device met one elsewhere)") from None
            raise

    return wrapped


@contextlib.contextmanager
def quiet():
    """Progress bars and prints of the learner's loop are noise to an observation (and in
    JupyterLab a check would otherwise draw one widget per call): tqdm's bars are turned
    off, and what is printed is dropped."""
    import tqdm.auto

    saved = tqdm.auto.tqdm
    tqdm.auto.tqdm = functools.partial(saved, disable=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        tqdm.auto.tqdm = saved


def seeded_model(seed: int, build, device) -> nn.Module:
    """A model whose initial weights come from the CPU generator (the same on every device)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    return model.to(device)


def flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def rng_devices(x: torch.Tensor) -> list:
    return [x.device.index or 0] if x.is_cuda else []


# ------------------------------------------------------------------------ numpy_fit
@harness("numpy_fit")
def numpy_fit(fn, i):
    out = fn(i["x"], i["y"], i["lr"], i["epochs"])
    if type(out) not in (tuple, list) or len(out) != 2:
        raise TypeError("numpy_fit must return the pair (a, b)")
    # an array holding one number (the shape of a or b in the tutorial) is as good as a float
    return tuple(float(v.reshape(())) if type(v) is np.ndarray and v.size == 1 else v for v in out)


# ------------------------------------------------------------------------ ManualLinearRegression
@harness("ManualLinearRegression")
@meta_errors_are_errors
def manual_linear_regression(cls, i):
    # on `meta`, built there too (as a GPU user's code builds with a GPU default), so that a
    # parameter moved away in __init__ (nn.Parameter(...).to(...)) shows without a GPU
    where = default_device("meta") if i["x"].device.type == "meta" else contextlib.nullcontext()
    with torch.random.fork_rng(devices=[]), where:
        torch.manual_seed(i["seed"])
        model = cls()
    if not isinstance(model, nn.Module):
        raise TypeError("ManualLinearRegression must subclass nn.Module")
    model.to(i["x"].device)
    params = dict(model.named_parameters())
    a, b = params.get("a"), params.get("b")
    out = model(i["x"])
    connected = float(type(out) is torch.Tensor and out.requires_grad)
    if connected and a is not None and b is not None and out.shape == i["y"].shape:
        ((out - i["y"]) ** 2).mean().backward()
    return (float(len(params)), a, b, out, connected,
            None if a is None else a.grad, None if b is None else b.grad)


# ------------------------------------------------------------------------ make_train_step
class Mlp(nn.Sequential):
    """A small model for the checks: Linear, ReLU, (Dropout), Linear."""

    def __init__(self, d_in, h, d_out, p=0.0):
        layers = [nn.Linear(d_in, h), nn.ReLU()] + ([nn.Dropout(p)] if p else []) + [nn.Linear(h, d_out)]
        super().__init__(*layers)


def train_step_setup(i):
    """The model, loss and optimizer a train-step case is about, from plain values."""
    device = i["x"].device
    if i["H"]:
        model = seeded_model(i["seed"], lambda: Mlp(i["D_in"], i["H"], i["D_out"], i["p"]), device)
    else:
        model = seeded_model(i["seed"], lambda: nn.Linear(i["D_in"], i["D_out"]), device)
    if i["eval_first"]:
        model.eval()
    loss_fn = {"mse": nn.MSELoss(), "l1": nn.L1Loss()}[i["loss"]]
    if i["opt"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=i["lr"], momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=i["lr"])
    return model, loss_fn, opt


def train_step_batches(i):
    return list(zip(i["x"].chunk(i["steps"]), i["y"].chunk(i["steps"])))


@harness("make_train_step")
def make_train_step(fn, i):
    model, loss_fn, opt = train_step_setup(i)
    step = fn(model, loss_fn, opt)
    if not callable(step):
        raise TypeError("make_train_step must return a function train_step(x, y)")
    losses, modes = [], []
    with torch.random.fork_rng(devices=rng_devices(i["x"])):
        torch.manual_seed(1234)
        for xb, yb in train_step_batches(i):
            losses.append(step(xb, yb))
            modes.append(float(model.training))
    return losses, flat_params(model), tuple(modes)


# ------------------------------------------------------------------------ CustomDataset
def dataset_items(ds, n):
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


@harness("CustomDataset")
@meta_errors_are_errors
def custom_dataset(cls, i):
    ds = cls(i["x"], i["y"])
    return dataset_items(ds, len(i["x"]))


# ------------------------------------------------------------------------ make_loaders
def one_epoch(loader):
    xs, ys, sizes = [], [], []
    for xb, yb in loader:
        xs.append(xb)
        ys.append(yb)
        sizes.append(float(len(xb)))
    return torch.cat(xs)[:, 0].round().long(), torch.cat(ys), tuple(sizes)


@harness("make_loaders")
def make_loaders(fn, i):
    train_loader, val_loader = fn(i["x"], i["y"], i["train_frac"], i["batch_size"], i["seed"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        tr1, try1, tr_sizes = one_epoch(train_loader)
        tr2, _, _ = one_epoch(train_loader)
        va1, vay1, va_sizes = one_epoch(val_loader)
        va2, _, _ = one_epoch(val_loader)
    sizes = (float(len(train_loader.dataset)), float(len(val_loader.dataset)))
    return sizes, max(tr_sizes, default=0.0), tr_sizes, va_sizes, tr1, tr2, try1, va1, va2, vay1


# ------------------------------------------------------------------------ fit
class Unmoved(torch.Tensor):
    """A batch as a loader gives it, before `.to(device)`. An operation that meets a tensor
    that is not such a batch (the model's weights, its outputs: on `device`) is counted in
    `mixed`, as on a GPU it would fail; `.to(device)` (or any call given `device=`) returns
    an ordinary tensor. Operations on batches alone keep them unmoved."""

    mixed = 0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        moving = (func in (torch.Tensor.to, torch.Tensor.cuda) and _moves(func, args, kwargs)) \
            or kwargs.get("device") is not None
        others = [t for t in flat if isinstance(t, torch.Tensor) and not isinstance(t, Unmoved)]
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        if moving or others:
            if others and not moving:
                cls.mixed += 1
            return tree_map(lambda t: t.as_subclass(torch.Tensor) if isinstance(t, torch.Tensor) else t, out)
        return tree_map(lambda t: t.as_subclass(Unmoved) if type(t) is torch.Tensor else t, out)


def _moves(func, args, kwargs) -> bool:
    if func is torch.Tensor.cuda:
        return True
    try:
        return torch._C._nn._parse_to(*args[1:], **kwargs)[0] is not None
    except Exception:  # noqa: BLE001 - not a move we can read
        return False


class UnmovedLoader:
    """A DataLoader whose batches are `Unmoved` (its dataset, length and batch size as usual)."""

    def __init__(self, loader: DataLoader):
        self.loader = loader
        self.dataset = loader.dataset
        self.batch_size = loader.batch_size

    def __iter__(self):
        for batch in self.loader:
            yield tuple(t.as_subclass(Unmoved) if isinstance(t, torch.Tensor) else t for t in batch)

    def __len__(self):
        return len(self.loader)


ELSEWHERE = object()   # the model after .cpu(): away from `device` on a GPU machine


class Placement:
    """Where the model would be: the given device, until `.to`, `.cpu` or `.cuda` moves it
    (watched on the model object itself). Counts forward passes made elsewhere. `.cpu()`
    counts as a move away even when `device` is the CPU: on a GPU it would be one, and the
    checks must see it on any machine (`.to(device)` afterwards brings the model back)."""

    def __init__(self, model: nn.Module, device):
        self.device = torch.device(device)
        self.where = self.device
        self.away_passes = 0
        to, cpu, cuda = model.to, model.cpu, model.cuda

        def watched_to(*args, **kwargs):
            try:
                target = torch._C._nn._parse_to(*args, **kwargs)[0]
            except Exception:  # noqa: BLE001
                target = None
            if target is not None:
                self.where = target
            return to(*args, **kwargs)

        def watched_cpu():
            self.where = ELSEWHERE
            return cpu()

        def watched_cuda(device=None):
            self.where = torch.device("cuda" if device is None else device)
            return cuda(device)

        model.to, model.cpu, model.cuda = watched_to, watched_cpu, watched_cuda

    def away(self) -> bool:
        if self.where is ELSEWHERE:
            return True
        a, b = self.where, self.device
        return a.type != b.type or (a.index or 0) != (b.index or 0)


class Recorder(nn.Module):
    """Passes its input through and records, at every call, whether the model was in
    training mode, whether autograd was recording, and whether the model was away."""

    def __init__(self):
        super().__init__()
        self.records: list[tuple[float, float]] = []
        self.placement: Placement | None = None

    def forward(self, x):
        self.records.append((float(self.training), float(torch.is_grad_enabled())))
        if self.placement is not None and self.placement.away():
            self.placement.away_passes += 1
        return x


def fit_setup(i):
    """Model (a recorder at its end) on the device, loaders of CPU tensors with their own
    generators (fit moves the batches; the global RNG is left to dropout), loss and
    optimizer: all from fixed seeds."""
    device = i["x"].device

    def build():
        body = Mlp(i["D"], i["H"], 1, i["p"]) if i["H"] else nn.Linear(i["D"], 1)
        return nn.Sequential(body, Recorder())

    model = seeded_model(i["seed"], build, device)
    if i["opt"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=i["lr"], momentum=i["momentum"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=i["lr"])
    train_loader = DataLoader(TensorDataset(i["x"].cpu(), i["y"].cpu()), batch_size=i["bs"], shuffle=True,
                              generator=torch.Generator().manual_seed(i["seed"]))
    val_loader = DataLoader(TensorDataset(i["xv"].cpu(), i["yv"].cpu()), batch_size=i["vbs"],
                            generator=torch.Generator().manual_seed(i["seed"] + 1))
    return model, train_loader, val_loader, nn.MSELoss(), opt, str(device)


def optimizer_state_flat(state_dict) -> torch.Tensor:
    """The optimizer's per-parameter state (momentum buffers, Adam's moments and step) as
    one float64 vector, in parameter and key order."""
    state = state_dict.get("state", {}) if isinstance(state_dict, dict) else {}
    parts = []
    for pid in sorted(state):
        for key in sorted(state[pid]):
            v = state[pid][key]
            parts.append(v.detach().double().cpu().reshape(-1) if isinstance(v, torch.Tensor)
                         else torch.tensor([float(v)], dtype=torch.float64))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "val_loss")


def read_checkpoint(path: str, model: nn.Module) -> tuple:
    """(status, epoch, val_loss, model parameters, optimizer state) of the checkpoint file.
    status: 0 read, 1 no file, 2 not readable with torch.load(weights_only=True), 3 not a
    dict with the keys CHECKPOINT_KEYS, 4 its model state has other names than the model's."""
    if not os.path.exists(path):
        return 1.0, None, None, None, None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - e.g. a whole model object was saved
        return 2.0, None, None, None, None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in CHECKPOINT_KEYS) \
            or not isinstance(ckpt["model"], dict):
        return 3.0, None, None, None, None
    names = [n for n, _ in model.named_parameters()]
    if any(n not in ckpt["model"] or not isinstance(ckpt["model"][n], torch.Tensor) for n in names):
        return 4.0, None, None, None, None
    params = torch.cat([ckpt["model"][n].detach().reshape(-1).cpu() for n in names])
    epoch, val = ckpt["epoch"], ckpt["val_loss"]
    epoch = float(epoch) if type(epoch) in (int, float) else None
    val = float(val) if type(val) in (int, float) or (isinstance(val, torch.Tensor) and val.numel() == 1) else None
    return 0.0, epoch, val, params, optimizer_state_flat(ckpt["optimizer"])


@harness("fit")
def fit(fn, i):
    model, train_loader, val_loader, loss_fn, opt, device = fit_setup(i)
    recorder = model[-1]
    recorder.placement = Placement(model, device)
    folder = tempfile.mkdtemp(prefix="ch08_fit_") if i["checkpoint"] else None
    path = os.path.join(folder, "best.pt") if folder else None
    Unmoved.mixed = 0
    try:
        with torch.random.fork_rng(devices=rng_devices(i["x"])), quiet():
            torch.manual_seed(99)
            args = (model, UnmovedLoader(train_loader), UnmovedLoader(val_loader), loss_fn, opt,
                    i["epochs"], device)
            result = fn(*args, checkpoint_path=path) if path else fn(*args)
        if type(result) not in (tuple, list) or len(result) != 2:
            raise TypeError("fit must return the pair (train_losses, val_losses)")
        placement = recorder.placement
        away = float(placement.away_passes + placement.away())
        checkpoint = read_checkpoint(path, model) if path else (None,) * 5
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    records = recorder.records
    modes = torch.tensor(records, dtype=torch.float32) if records else torch.zeros(0, 2)
    return (modes, float(Unmoved.mixed), away, result[0], result[1], flat_params(model), *checkpoint)

"""Chapter 10: how each exercise's object is called, and what of it is observed.

Builders the oracles share (`frame`, `transform`, `tiny_model`, `make_optimizer`) make the
same objects from the same plain values on both sides. Nothing here trains, evaluates or
counts an answer: `build_cnn`'s short training run uses the grader's stand-ins for
`train_one_epoch` and `evaluate` (its isolation), found in the learner's namespace while
that exercise is graded.

Measurements, for contracts no value shows:
- `OnHost`: the loaders hand out batches of this tensor subclass; `.to(device)` turns one
  into a plain tensor, so a forward pass (or a loss) that still sees an `OnHost` batch was
  given a batch that was never moved to `device`: the mistake shows without a GPU;
- forward pre-hooks record the model's train/eval mode and the grad mode of every pass;
- `Counting*` optimizers count their steps (the optimizer given must be the one used);
- `model.to("meta")` and a forward pass on `meta` show layers that `.to(device)` does not
  move (kept in a plain Python list) and tensors created in `forward` without `device=`;
- a second run of the metrics under `default_device("meta")` shows results built from
  tensors created without `device=`.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.data import DataLoader, TensorDataset

from ..probes import CountingAdam, CountingSGD, default_device
from . import calls

CALLS, harness = calls()
N_CLASSES = 10
PIXEL_COLUMNS = [f"pixel{k}" for k in range(1, 785)]


# ------------------------------------------------------------------------ builders
def frame(table: np.ndarray, index: np.ndarray):
    """The CSV layout (label, pixel1..pixel784; int64 as pandas reads it), with the given
    row numbers as the index (as a slice of the full frame keeps them)."""
    import pandas as pd

    return pd.DataFrame(np.asarray(table, dtype=np.int64), columns=["label"] + PIXEL_COLUMNS,
                        index=np.asarray(index, dtype=np.int64))


def transform(kind: str, mean: float, std: float):
    """The transforms the cases use, from torchvision.transforms.v2."""
    from torchvision.transforms import v2

    to_float = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if kind == "none":
        return None
    if kind == "to_tensor":
        return v2.Compose(to_float)
    if kind == "normalize":
        return v2.Compose(to_float + [v2.Normalize([mean], [std])])
    if kind == "resize":
        return v2.Compose([v2.Resize(36), v2.CenterCrop(32)] + to_float)
    if kind == "augment":
        return v2.Compose([v2.RandomCrop(28, padding=2), v2.RandomHorizontalFlip(),
                           v2.RandomRotation(10)] + to_float + [v2.Normalize([mean], [std])])
    raise ValueError(kind)


def item_seed(k: int) -> int:
    """Random transforms draw the same numbers on both sides: torch is seeded per item."""
    return 1000 + k


PARAM_NAMES = ("conv_weight", "bn_weight", "bn_bias", "fc_weight", "fc_bias")


def tiny_model(params, dropout: bool, device) -> nn.Module:
    """A tiny CNN on 8 x 8 images and 3 classes, with BatchNorm (and Dropout) so that train
    and eval modes differ. No bias before BatchNorm: BatchNorm subtracts the batch mean,
    so such a bias has a gradient of pure rounding noise, which Adam would turn into
    +-lr steps that depend on the number of math threads."""
    layers = [nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU()]
    layers += [nn.Dropout(0.5)] if dropout else []
    layers += [nn.Flatten(), nn.Linear(4 * 6 * 6, 3)]
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for p, v in zip(model.parameters(), params):
            p.copy_(v.detach().cpu())
    return model.to(device)


def make_optimizer(kind: str, params, counting: bool = False) -> torch.optim.Optimizer:
    if kind == "sgd":
        return (CountingSGD if counting else torch.optim.SGD)(params, lr=0.02, momentum=0.9)
    return (CountingAdam if counting else torch.optim.Adam)(params, lr=0.01)


# ------------------------------------------------------------------------ probes
class OnHost(torch.Tensor):
    """A batch as the loader hands it out, on the host; `.to(...)` gives a plain tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.to, torch.Tensor.cuda):
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **kwargs)
            return out.as_subclass(torch.Tensor) if isinstance(out, torch.Tensor) else out
        return super().__torch_function__(func, types, args, kwargs)


def _collate_on_host(batch):
    xs = torch.stack([b[0] for b in batch])
    ys = torch.stack([b[1] for b in batch])
    return xs.as_subclass(OnHost), ys.as_subclass(OnHost)


def host_loader(x, y, batch: int) -> DataLoader:
    """A DataLoader over CPU tensors whose batches are `OnHost`."""
    return DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=batch, collate_fn=_collate_on_host)


class Watch:
    """Forward pre-hook on a model: how many passes, in which mode, on moved batches."""

    def __init__(self, model: nn.Module):
        self.passes = self.in_train = self.in_eval = self.with_grad = self.unmoved = 0
        self.handle = model.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        self.passes += 1
        self.in_train += bool(module.training)
        self.in_eval += not module.training
        self.with_grad += torch.is_grad_enabled()
        self.unmoved += bool(args) and isinstance(args[0], OnHost)


class WatchedLoss(nn.Module):
    """Cross-entropy that records targets never moved to the device."""

    def __init__(self):
        super().__init__()
        self.unmoved = 0

    def forward(self, out, target):
        self.unmoved += isinstance(target, OnHost)
        if isinstance(out, OnHost):
            out = out.as_subclass(torch.Tensor)
        if isinstance(target, OnHost):
            target = target.as_subclass(torch.Tensor)
        return nn.functional.cross_entropy(out, target)


def _plain(value):
    if isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
        return value.as_subclass(torch.Tensor)
    return value


# ------------------------------------------------------------------------ FMDataset
def _image_of(img, k: int, raw: bool):
    from PIL import Image

    if raw:
        if not isinstance(img, Image.Image):
            raise TypeError(
                f"dataset[{k}] returned an image of type {type(img).__name__}; without a transform it "
                "must be what torchvision returns: a PIL image in mode 'L'")
        if img.mode != "L" or img.size != (28, 28):
            raise TypeError(f"dataset[{k}] is a PIL image in mode {img.mode!r} of size {img.size}; "
                            "torchvision's is a PIL image in mode 'L' (8-bit grey), 28 x 28")
        return np.array(img)
    if isinstance(img, Image.Image):
        raise TypeError(f"dataset[{k}] returned a PIL image although a transform was given: "
                        "the transform was not applied")
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"dataset[{k}] returned an image of type {type(img).__name__}; with this "
                        "transform it must be the transform's result (a tensor)")
    return _plain(img).detach().cpu().clone()


def _label_of(label, k: int) -> int:
    if type(label) is int or isinstance(label, np.integer):
        return int(label)
    if type(label) is torch.Tensor and label.ndim == 0 and label.dtype == torch.int64:
        return int(label)
    raise TypeError(f"dataset[{k}] has a label of type {type(label).__name__} ({label!r}): the "
                    "label must be a class index (int)")


@harness("FMDataset")
def _fm_dataset(cls, i):
    df = frame(i["table"], i["index"])
    before = df.copy(deep=True)
    ds = cls(df, transform(i["transform"], i["mean"], i["std"]))
    length = len(ds)
    images, labels = [], []
    for k in range(len(i["index"])):
        torch.manual_seed(item_seed(k))
        item = ds[k]
        if type(item) not in (tuple, list) or len(item) != 2:
            raise TypeError(f"dataset[{k}] must be a pair (image, label), got {type(item).__name__}")
        images.append(_image_of(item[0], k, i["transform"] == "none"))
        labels.append(_label_of(item[1], k))
    stacked = np.stack(images) if i["transform"] == "none" else torch.stack(images)
    kept = float(df.shape == before.shape and df.index.equals(before.index)
                 and list(df.columns) == list(before.columns) and df.equals(before))
    return float(length), torch.tensor(labels, dtype=torch.int64), stacked, kept


# ------------------------------------------------------------------------ build_cnn
def _stand_in(fn, name: str):
    found = getattr(fn, "__globals__", {}).get(name)
    if found is None:
        raise RuntimeError(f"the grader's stand-in for {name} is missing: define build_cnn in a "
                           "notebook cell")
    return found


class _DeviceMix(TorchDispatchMode):
    """Notes any operation whose tensor arguments (beyond 0-d scalars) are on more than
    one device."""

    def __init__(self):
        super().__init__()
        self.mixed = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        leaves = tree_flatten((args, kwargs))[0]
        devices = {t.device.type for t in leaves if isinstance(t, torch.Tensor) and t.dim() > 0}
        self.mixed = self.mixed or len(devices) > 1
        return func(*args, **kwargs)


def _meta_forward_ok(model: nn.Module) -> float:
    """1.0 when the model, moved with .to("meta"), runs a forward pass on a meta batch
    with every tensor on meta: every layer moved with it (none kept in a plain Python
    list), and forward created no tensor on another device."""
    try:
        probe = copy.deepcopy(model).to("meta").eval()
        watch = _DeviceMix()
        with torch.no_grad(), watch:
            probe(torch.empty(2, 1, 28, 28, device="meta"))
        return 0.0 if watch.mixed else 1.0
    except Exception as err:   # noqa: BLE001 - what failed is what we measure
        return 0.0 if "device" in str(err) else 1.0


@harness("build_cnn")
def _build_cnn(fn, i):
    torch.manual_seed(i["seed"])
    model = fn()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_cnn must return an nn.Module, got {type(model).__name__}")
    other = fn()
    shared = {id(p) for p in model.parameters()} & {id(p) for p in other.parameters()} \
        if isinstance(other, nn.Module) else {0}
    fresh = float(other is not model and not shared)
    device = i["x"].device
    n_params = float(sum(p.numel() for p in model.parameters()))
    has_conv = float(any(isinstance(m, nn.Conv2d) for m in model.modules()))
    moves = _meta_forward_ok(model)
    model = model.to(device).eval()
    with torch.no_grad():
        logits = _plain(model(i["x"]))
    n_outputs = float(logits.shape[-1]) if isinstance(logits, torch.Tensor) and logits.ndim == 2 else -1.0
    accuracy = None
    if i["train"]:
        accuracy = _short_training(fn, model, i, device)
    return fresh, has_conv, n_params, moves, n_outputs, logits, accuracy


def _short_training(fn, model, i, device) -> float:
    """One epoch of Adam on the given training images, then the accuracy on the test
    images, both with the grader's stand-in loops (so only the network is graded)."""
    def images(u8):
        return ((u8.float() / 255.0 - i["mean"]) / i["std"]).unsqueeze(1)

    gen = torch.Generator().manual_seed(0)
    train = DataLoader(TensorDataset(images(i["train_images"]), i["train_labels"]), batch_size=32,
                       shuffle=True, generator=gen)
    test = DataLoader(TensorDataset(images(i["test_images"]), i["test_labels"]), batch_size=500)
    threads = torch.get_num_threads()
    # One thread: when several notebooks are graded at once on a few cores, more threads
    # only fight each other.
    torch.set_num_threads(1)
    try:
        torch.manual_seed(i["seed"])
        loss_fn = nn.CrossEntropyLoss()
        _stand_in(fn, "train_one_epoch")(model, train, loss_fn,
                                         torch.optim.Adam(model.parameters(), lr=1e-3), device)
        return float(_stand_in(fn, "evaluate")(model, test, loss_fn, device)[1])
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------ train_one_epoch
@harness("train_one_epoch")
def _train_one_epoch(fn, i):
    device = i["device"]
    model = tiny_model(i["params"], dropout=False, device=device)
    model.eval()   # the learner's loop must switch it to training mode itself
    optimizer = make_optimizer(i["opt"], model.parameters(), counting=True)
    loss_fn = WatchedLoss()
    watch = Watch(model)
    loss = fn(model, host_loader(i["x"], i["y"], i["batch"]), loss_fn, optimizer, device)
    watch.handle.remove()
    bn = model[1]
    return (float(optimizer.steps), float(watch.passes), float(watch.in_eval), float(watch.unmoved),
            float(loss_fn.unmoved), loss, *[p.detach().clone() for p in model.parameters()],
            bn.running_mean.detach().clone(), bn.running_var.detach().clone())


TRAIN_OUT = ("steps", "forward_passes", "passes_in_eval", "unmoved_inputs", "unmoved_targets",
             "loss") + PARAM_NAMES + ("bn_running_mean", "bn_running_var")


# ------------------------------------------------------------------------ evaluate
@harness("evaluate")
def _evaluate(fn, i):
    device = i["device"]
    model = tiny_model(i["params"], dropout=True, device=device)
    model.train()   # the learner's evaluate must switch it to eval mode itself
    loss_fn = WatchedLoss()
    watch = Watch(model)
    result = fn(model, host_loader(i["x"], i["y"], i["batch"]), loss_fn, device)
    watch.handle.remove()
    if type(result) not in (tuple, list) or len(result) != 2:
        raise TypeError(f"evaluate must return the pair (loss, accuracy), got {type(result).__name__}")
    grads_none = float(all(p.grad is None for p in model.parameters()))
    bn = model[1]
    return (float(watch.in_train), float(watch.with_grad), float(watch.unmoved), float(loss_fn.unmoved),
            result[0], result[1], bn.running_mean.detach().clone(),
            *[p.detach().clone() for p in model.parameters()], grads_none)


EVAL_OUT = ("passes_in_train", "passes_with_grad", "unmoved_inputs", "unmoved_targets", "loss",
            "accuracy", "bn_running_mean") + PARAM_NAMES + ("grads_none",)


# ------------------------------------------------------------------------ metrics
def _on_device(fn, args, device) -> float:
    """1.0 unless, with `meta` as the default device, the result lands on another device
    than the inputs' or the code mixes devices (a tensor created without device=)."""
    try:
        with default_device("meta"):
            out = fn(*args)
    except Exception as err:   # noqa: BLE001 - a device clash is what we look for
        return 0.0 if "device" in str(err) and "meta" in str(err) else 1.0
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return float(all(not isinstance(o, torch.Tensor) or o.device == device for o in outs))


@harness("confusion_matrix")
def _confusion_matrix(fn, i):
    args = (i["y_true"], i["y_pred"], i["n_classes"])
    return _on_device(fn, args, i["y_true"].device), fn(*args)


@harness("precision_recall_f1")
def _precision_recall_f1(fn, i):
    args = (i["y_true"], i["y_pred"], i["n_classes"])
    result = fn(*args)
    if type(result) not in (tuple, list) or len(result) != 3:
        raise TypeError("precision_recall_f1 must return three tensors (precision, recall, f1)")
    return (_on_device(fn, args, i["y_true"].device), *result)

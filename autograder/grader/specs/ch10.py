"""Chapter 10: Fashion-MNIST, a complete project.

Oracles:
- `FMDataset`: torchvision's own `FashionMNIST` dataset, item by item, on the same rows
  (the DataFrame handed to the learner is built from the raw IDX files, never from
  torchvision), with and without transforms (random ones seeded identically);
- `train_one_epoch` / `evaluate`: `autograder.training.run_epoch`, the course's reference
  loop, on a freshly rebuilt seeded tiny model and loader;
- `precision_recall_f1` / `confusion_matrix`: scikit-learn (`labels=range(n)`,
  `zero_division=0`);
- `build_cnn`: no oracle for the values (they depend on the learner's own random
  weights); its checks are properties: output shape (N, 10) of logits, a convolution,
  a stated parameter range, and an accuracy reached after a short seeded training run.

`reference_cnn()` is the course's CNN: the benchmark `bench/fashion_mnist.py` trains it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

from ..compare import EXACT, CheckFailure, Mistake, Tol
from ..spec import Case, Property, Spec
from ...learner.values import type_name
from . import register

# Fashion-MNIST pixel statistics over the 60,000 training images (after ToTensor).
MEAN, STD = 0.2860, 0.3530
N_CLASSES = 10

# ------------------------------------------------------------------------ tolerances
# Same float32 operations in the same order as the reference loop; a CUDA kernel (or a
# learner summing the loss in another order) may differ in the last bits.
SAME_LOOP = Tol(1e-5, 1e-6, "float32, the same operations as the reference loop; CUDA may differ in the last bits")
# Accuracy and precision/recall/F1 are ratios of integer counts: float32 division rounds
# at ~6e-8 relative, scikit-learn divides in float64.
RATIO = Tol(1e-6, 1e-7, "a ratio of integer counts: float32 rounding vs scikit-learn's float64")
# Items must be what torchvision returns: same uint8 pixels, same float32 transform code.
ITEMS = Tol(1e-6, 1e-6, "the same transform code on the same uint8 pixels; float32 rounding only")
# The logits depend on the learner's own random weights: only their type, shape, dtype
# and device are fixed (and they must be finite: nan fails even an infinite tolerance).
ANY_FINITE = Tol(0.0, math.inf, "the values depend on your model's own random weights: only shape, dtype and device are checked")


# ------------------------------------------------------------------------ the course's CNN
def reference_cnn() -> nn.Module:
    """The chapter's CNN (the notebook's `build_cnn` builds the same layers): two
    conv-BN-ReLU-pool blocks (1 -> 16 -> 32 channels, 28 -> 14 -> 7 pixels), then a
    128-unit hidden layer with dropout and 10 class logits. 207,018 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, N_CLASSES),
    )


# ------------------------------------------------------------------------ data helpers
@functools.lru_cache(maxsize=1)
def _raw_train() -> tuple[np.ndarray, np.ndarray]:
    """Training images (60000, 28, 28) uint8 and labels, read straight from the IDX files."""
    import contextlib
    import io

    from .. import data

    with contextlib.redirect_stdout(io.StringIO()):
        raw = data.fetch_raw()
    return (data.read_idx(raw / "train-images-idx3-ubyte"),
            data.read_idx(raw / "train-labels-idx1-ubyte"))


@functools.lru_cache(maxsize=1)
def _torchvision_train():
    from torchvision.datasets import FashionMNIST

    from .. import data

    return FashionMNIST(root=str(data.data_root()), train=True, download=False)


def frame(rows) -> "pandas.DataFrame":  # noqa: F821
    """The CSV layout (label, pixel1..pixel784; int64 as pandas reads it) for the given
    training rows, keeping the row numbers as the index (as a slice of the full frame does)."""
    import pandas as pd

    images, labels = _raw_train()
    rows = np.asarray(rows, dtype=np.int64)
    table = np.column_stack([labels[rows], images[rows].reshape(len(rows), -1)]).astype(np.int64)
    columns = ["label"] + [f"pixel{i}" for i in range(1, 785)]
    return pd.DataFrame(table, columns=columns, index=rows)


def _transform(kind: str):
    from torchvision import transforms as T

    if kind == "none":
        return None
    if kind == "to_tensor":
        return T.ToTensor()
    if kind == "normalize":
        return T.Compose([T.ToTensor(), T.Normalize((MEAN,), (STD,))])
    if kind == "augment":
        return T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(),
                          T.RandomRotation(10), T.ToTensor(), T.Normalize((MEAN,), (STD,))])
    raise ValueError(kind)


def _item_seed(k: int) -> int:
    return 1000 + k    # random transforms draw the same numbers on both sides


# ------------------------------------------------------------------------ FMDataset
def _dataset_inputs(rand, n, how, transform):
    if how == "slice":
        start = int(rand.randint(0, 60000 - n, 1)[0])
        rows = np.arange(start, start + n)
    else:   # a random sample, in random order (as df.sample(n) gives)
        rows = torch.randperm(60000, generator=rand._gen)[:n].numpy()
    return {"df": frame(rows), "transform": _transform(transform), "rows": rows, "kind": transform}


def _plain_image(img, k, raw):
    from PIL import Image

    if raw:
        if not isinstance(img, Image.Image):
            raise TypeError(
                f"dataset[{k}] returned an image of type {type_name(img)}; without a transform it "
                "must be what torchvision returns: a PIL image in mode 'L', e.g. "
                "Image.fromarray(pixels.astype(np.uint8).reshape(28, 28), mode='L')")
        if img.mode != "L" or img.size != (28, 28):
            raise TypeError(
                f"dataset[{k}] is a PIL image in mode {img.mode!r} of size {img.size}; torchvision's "
                "is mode 'L' (8-bit grey), 28 x 28: build it from a uint8 array")
        return np.array(img)
    if isinstance(img, Image.Image):
        raise TypeError(f"dataset[{k}] returned a PIL image although a transform was given: "
                        "apply self.transform to the image before returning it")
    if type(img) is not torch.Tensor:
        raise TypeError(f"dataset[{k}] returned an image of type {type_name(img)}; with this "
                        "transform it must be the transform's result (a torch.Tensor)")
    return img.detach().cpu()


def _plain_label(label, k):
    if type(label) is int or isinstance(label, np.integer):
        return int(label)
    if type(label) is torch.Tensor and label.ndim == 0 and label.dtype == torch.int64:
        return int(label)
    raise TypeError(f"dataset[{k}] has a label of type {type_name(label)} ({label!r}); return the "
                    "class index as an int, as torchvision does: int(row['label'])")


def _call_dataset(cls, i):
    ds = cls(i["df"], i["transform"])
    length = len(ds)
    images, labels = [], []
    for k in range(len(i["rows"])):
        torch.manual_seed(_item_seed(k))
        item = ds[k]
        if type(item) not in (tuple, list) or len(item) != 2:
            raise TypeError(f"dataset[{k}] must be a pair (image, label), got {type_name(item)}")
        images.append(_plain_image(item[0], k, i["transform"] is None))
        labels.append(_plain_label(item[1], k))
    if i["transform"] is None:
        stacked = np.stack(images)
    else:
        stacked = torch.stack(images)
    return float(length), torch.tensor(labels, dtype=torch.int64), stacked


def _dataset_oracle(i):
    tv = _torchvision_train()
    tv.transform = i["transform"]
    images, labels = [], []
    for k, row in enumerate(i["rows"]):
        torch.manual_seed(_item_seed(k))
        img, label = tv[int(row)]
        images.append(np.array(img) if i["transform"] is None else img)
        labels.append(label)
    tv.transform = None
    stacked = np.stack(images) if i["transform"] is None else torch.stack(images)
    return {"length": float(len(i["rows"])), "labels": torch.tensor(labels, dtype=torch.int64),
            "images": stacked}


def _images_from(pixels, i):
    """What the items would be if the 784 values of each row were `pixels` (n, 784)."""
    from PIL import Image

    out = []
    for k, p in enumerate(pixels):
        torch.manual_seed(_item_seed(k))
        img = Image.fromarray(np.asarray(p, dtype=np.uint8).reshape(28, 28), mode="L")
        out.append(np.array(img) if i["transform"] is None else i["transform"](img))
    return np.stack(out) if i["transform"] is None else torch.stack(out)


def _dataset_mistakes(i):
    values = i["df"].to_numpy()
    n = len(values)
    images = values[:, 1:]
    hints = {
        "length": [Mistake(785.0, "len(dataset) is the number of columns: it must be the number "
                                  "of rows (images), len(self.df)"),
                   Mistake(float(n - 1), "one image short: len(dataset) is len(self.df), with no -1")],
        "labels": [],
        "images": [
            Mistake(_images_from(images.reshape(n, 28, 28).transpose(0, 2, 1).reshape(n, 784), i),
                    "the images are transposed: reshape the 784 pixels to (28, 28) row by row, with no .T"),
            Mistake(_images_from(values[:, :784], i),
                    "the image starts with the label: the pixels are columns 1..784 (column 0 is the label)"),
        ],
    }
    if n > 1:
        hints["labels"].append(Mistake(torch.tensor(values[::-1, 0].copy()),
                                       "the items come in reverse order"))
    if i["transform"] is not None:
        floats = []
        try:
            for k, p in enumerate(images):
                torch.manual_seed(_item_seed(k))
                floats.append(i["transform"](p.reshape(28, 28).astype(np.float32)))
            hints["images"].append(Mistake(
                torch.stack(floats),
                "the pixels were not scaled to [0, 1]: give the transform a uint8 image (a PIL image, "
                "as torchvision does); ToTensor divides by 255 only for uint8 input"))
        except Exception:   # noqa: BLE001 - e.g. RandomCrop refuses a numpy array: no such mistake
            pass
    return hints


FMDataset = Spec(
    name="ch10.FMDataset",
    inputs=_dataset_inputs,
    call=_call_dataset,
    outputs=("length", "labels", "images"),
    oracle=_dataset_oracle,
    tol={"length": EXACT, "labels": EXACT, "images": ITEMS},
    cases=(
        Case("slice of 17 rows, no transform", 0, dict(n=17, how="slice", transform="none")),
        Case("20 sampled rows, ToTensor", 1, dict(n=20, how="sample", transform="to_tensor")),
        Case("one row, ToTensor + Normalize", 2, dict(n=1, how="sample", transform="normalize")),
        Case("8 rows, seeded augmentation", 3, dict(n=8, how="sample", transform="augment")),
    ),
    mistakes=_dataset_mistakes,
)


# ------------------------------------------------------------------------ build_cnn
PARAM_RANGE = (20_000, 1_500_000)
TRAIN_IMAGES, TEST_IMAGES, MIN_ACCURACY = 2000, 1000, 0.65


@functools.lru_cache(maxsize=1)
def _small_split():
    from ...learner.training import fashion_mnist

    x, y = fashion_mnist(train=True, limit=TRAIN_IMAGES)
    xt, yt = fashion_mnist(train=False, limit=TEST_IMAGES)
    return (x - MEAN) / STD, y, (xt - MEAN) / STD, yt


def short_training(model: nn.Module, device) -> float:
    """One seeded epoch of Adam on 2,000 training images, then the accuracy on the first
    1,000 test images (the course's reference loop does both)."""
    from ..reference_training import run_epoch

    x, y, xt, yt = _small_split()
    gen = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32,
                                         shuffle=True, generator=gen)
    test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=500)
    loss_fn = nn.CrossEntropyLoss()
    threads = torch.get_num_threads()
    # One thread: when several notebooks are graded at once on a few cores, more threads
    # only fight each other (measured: 8x slower on 2 busy cores).
    torch.set_num_threads(1)
    try:
        run_epoch(model, loader, loss_fn, torch.optim.Adam(model.parameters(), lr=1e-3), device)
        return float(run_epoch(model, test, loss_fn, None, device)[1])
    finally:
        torch.set_num_threads(threads)


def _cnn_inputs(rand, N, train):
    return {"x": rand.randn(N, 1, 28, 28), "train": train, "seed": rand.seed}


def _call_cnn(fn, i):
    torch.manual_seed(i["seed"])
    model = fn()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_cnn must return an nn.Module, got {type_name(model)}")
    device = i["x"].device
    model = model.to(device)
    n_params = float(sum(p.numel() for p in model.parameters()))
    has_conv = float(any(isinstance(m, nn.Conv2d) for m in model.modules()))
    model.eval()
    with torch.no_grad():
        logits = model(i["x"])
    accuracy = short_training(model, device) if i["train"] else None
    return logits, n_params, has_conv, accuracy


def _cnn_oracle(i):
    return {"logits": torch.zeros(len(i["x"]), N_CLASSES, device=i["x"].device)}


def _has_conv(i, out, case):
    if out.get("has_conv") != 1.0:
        raise CheckFailure("build_cnn: the model has no nn.Conv2d layer (case "
                           f"'{case.label}')\nHint: this exercise asks for a convolutional network: "
                           "start with nn.Conv2d(1, channels, kernel_size=3, padding=1)")


def _param_range(i, out, case):
    n = out.get("n_params")
    lo, hi = PARAM_RANGE
    if type(n) is not float or not lo <= n <= hi:
        shown = f"{n:,.0f}" if type(n) is float else repr(n)
        raise CheckFailure(
            f"build_cnn: the model has {shown} parameters; this exercise asks for "
            f"{lo:,} to {hi:,}\nHint: " + (
                "too many parameters: pool (nn.MaxPool2d(2)) after each conv block so the first "
                "Linear layer sees 7 x 7 feature maps, not 28 x 28" if type(n) is float and n > hi
                else "too few parameters: use at least two conv layers and a hidden Linear layer"))


def _logits_not_probabilities(i, out, case):
    logits = out.get("logits")
    if type(logits) is torch.Tensor and logits.ndim == 2:
        z = logits.double()
        if bool(((z >= 0) & (z <= 1)).all()) and torch.allclose(z.sum(1), torch.ones_like(z[:, 0]), atol=1e-4):
            raise CheckFailure(
                "build_cnn: every output row is a probability distribution (it sums to 1): the "
                "model ends with a softmax\nHint: return raw scores (logits); nn.CrossEntropyLoss "
                "applies log-softmax itself, and a softmax before it slows learning down")


def _accuracy(i, out, case):
    acc = out.get("accuracy")
    if type(acc) is not float or not acc >= MIN_ACCURACY:
        raise CheckFailure(
            f"build_cnn: after one epoch of Adam (lr 1e-3, batch 32) on {TRAIN_IMAGES:,} training "
            f"images, your model classifies {acc if type(acc) is not float else f'{acc:.3f}'} of "
            f"{TEST_IMAGES:,} test images correctly; at least {MIN_ACCURACY} is expected (the "
            "course's CNN reaches about 0.78)\nHint: conv -> ReLU -> pool blocks, then Linear "
            "layers with a ReLU between them, and no softmax at the end")


build_cnn = Spec(
    name="ch10.build_cnn",
    inputs=_cnn_inputs,
    call=_call_cnn,
    outputs=("logits", "n_params", "has_conv", "accuracy"),
    oracle=_cnn_oracle,
    tol=ANY_FINITE,
    cases=(
        Case("batch of 5", 0, dict(N=5, train=False)),
        Case("batch of 1, then a short training run", 1, dict(N=1, train=True)),
    ),
    properties=(
        Property("has a convolution", _has_conv, "a CNN: at least one nn.Conv2d"),
        Property("parameter count", _param_range, f"between {PARAM_RANGE[0]:,} and {PARAM_RANGE[1]:,}"),
        Property("logits", _logits_not_probabilities, "CrossEntropyLoss expects logits"),
        Property("learns", _accuracy, f"accuracy >= {MIN_ACCURACY} after a short seeded training run",
                 cases=("batch of 1, then a short training run",)),
    ),
)


# ------------------------------------------------------------------------ train/evaluate
def tiny_model(rand, dropout: bool) -> nn.Module:
    """A seeded tiny CNN on 8 x 8 images and 3 classes, with BatchNorm (and Dropout) so
    that train and eval modes differ. Its weights come from `rand`, not torch's RNG."""
    layers = [nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()]
    layers += [nn.Dropout(0.5)] if dropout else []
    layers += [nn.Flatten(), nn.Linear(4 * 6 * 6, 3)]
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(rand.randn(*p.shape, scale=0.4, dtype=torch.float32).cpu())
    return model.to(rand.device)


PARAM_NAMES = ("conv_weight", "conv_bias", "bn_weight", "bn_bias", "fc_weight", "fc_bias")


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _bn(model):
    return next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def _loader(rand, n, batch):
    x = rand.randn(n, 1, 8, 8).cpu()
    y = rand.randint(0, 3, n).cpu()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


def _make_train_inputs(seed, device, n, batch, opt):
    from ..inputs import Rand

    rand = Rand(seed, device)
    model = tiny_model(rand, dropout=False)
    model.eval()   # the learner's loop must switch it to training mode itself
    loader = _loader(rand, n, batch)
    if opt == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    return {"model": model, "loader": loader, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": optimizer, "device": device, "n": n,
            "fresh": lambda: _make_train_inputs(seed, device, n, batch, opt)}


def _train_inputs(rand, n, batch, opt):
    return _make_train_inputs(rand.seed, rand.device, n, batch, opt)


def _call_train(fn, i):
    loss = fn(i["model"], i["loader"], i["loss_fn"], i["optimizer"], i["device"])
    return (loss, *_params(i["model"]), _bn(i["model"]).running_mean.detach().clone())


def _variant_epoch(i, zero_grad=True, train_mode=True):
    """The reference loop, or one with a known mistake; returns (batch losses, sizes)."""
    model, optimizer = i["model"], i["optimizer"]
    model.train(train_mode)
    losses, sizes = [], []
    for xb, yb in i["loader"]:
        xb, yb = xb.to(i["device"]), yb.to(i["device"])
        loss = i["loss_fn"](model(xb), yb)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        sizes.append(len(xb))
    return losses, sizes


def _train_result(i, loss):
    return {"loss": loss, **dict(zip(PARAM_NAMES, _params(i["model"]))),
            "bn_running_mean": _bn(i["model"]).running_mean.detach().clone()}


def _train_oracle(i):
    from ..reference_training import run_epoch

    loss, _ = run_epoch(i["model"], i["loader"], i["loss_fn"], i["optimizer"], i["device"])
    return _train_result(i, loss)


def _train_mistakes(i):
    hints: dict[str, list[Mistake]] = {}

    def add(result, hint, only=None):
        for name, value in result.items():
            if only is None or name in only:
                hints.setdefault(name, []).append(Mistake(value, hint))

    for kwargs, hint in (
        (dict(zero_grad=False), "gradients pile up from batch to batch: call optimizer.zero_grad() "
                                "before loss.backward()"),
        (dict(train_mode=False), "the model stayed in eval mode: call model.train() at the start "
                                 "(BatchNorm and Dropout behave differently while training)"),
    ):
        f = i["fresh"]()
        losses, sizes = _variant_epoch(f, **kwargs)
        add(_train_result(f, sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)), hint)
    losses, sizes = _variant_epoch(i["fresh"]())
    n = sum(sizes)
    add({"loss": sum(losses) / len(losses)},
        "this is the mean of the per-batch losses: the last batch is smaller, so weight each "
        "batch's loss by its size (loss.item() * len(xb)) and divide by the number of examples")
    add({"loss": sum(l * s for l, s in zip(losses, sizes))},
        "this is the total loss over all examples: divide by the number of examples for the mean")
    add({"loss": losses[-1]}, "this is the loss of the last batch only: average over all examples")
    if n > 1:
        add({"loss": sum(losses)}, "this is the sum of the per-batch mean losses: weight each by its "
                                   "batch size and divide by the number of examples")
    return hints


def _mean_loss_with(i, params) -> float:
    """Mean loss on the whole loader for the fresh model carrying `params` (train mode,
    no update), for the 'loss falls' property."""
    model = i["fresh"]()["model"]
    model.train()
    with torch.no_grad():
        for p, v in zip(model.parameters(), params):
            p.copy_(v.to(p.device))
        total, count = 0.0, 0
        for xb, yb in i["loader"]:
            xb, yb = xb.to(i["device"]), yb.to(i["device"])
            total += float(nn.functional.cross_entropy(model(xb), yb)) * len(xb)
            count += len(xb)
    return total / count


def _loss_falls(i, out, case):
    params = [out.get(name) for name in PARAM_NAMES]
    if not all(type(p) is torch.Tensor for p in params):
        return
    before = _mean_loss_with(i, _params(i["fresh"]()["model"]))
    after = _mean_loss_with(i, params)
    if not after < before:
        raise CheckFailure(f"train_one_epoch: the loss did not fall over the epoch (case '{case.label}'): "
                           f"{before:.4f} before, {after:.4f} after\nHint: call optimizer.step() after "
                           "loss.backward() for every batch")


train_one_epoch = Spec(
    name="ch10.train_one_epoch",
    inputs=_train_inputs,
    call=_call_train,
    outputs=("loss",) + PARAM_NAMES + ("bn_running_mean",),
    oracle=_train_oracle,
    tol=SAME_LOOP,
    cases=(
        Case("SGD with momentum, 23 examples in batches of 8", 0, dict(n=23, batch=8, opt="sgd")),
        Case("Adam, 30 examples in batches of 10", 1, dict(n=30, batch=10, opt="adam")),
        Case("a single example", 2, dict(n=1, batch=4, opt="sgd")),
    ),
    mistakes=_train_mistakes,
    properties=(Property("loss falls", _loss_falls, "one epoch lowers the mean loss on the data",
                         cases=("SGD with momentum, 23 examples in batches of 8",
                                "Adam, 30 examples in batches of 10")),),
)


class RecordingLoss(nn.Module):
    """Cross-entropy that remembers whether any of its results could be backpropagated
    (an autograd graph was built), to tell whether evaluation ran under no_grad."""

    def __init__(self):
        super().__init__()
        self.graph_built = False

    def forward(self, out, target):
        loss = nn.functional.cross_entropy(out, target)
        self.graph_built = self.graph_built or bool(loss.requires_grad)
        return loss


def _make_eval_inputs(seed, device, n, batch):
    from ..inputs import Rand

    rand = Rand(seed, device)
    model = tiny_model(rand, dropout=True)
    model.train()   # the learner's evaluate must switch it to eval mode itself
    return {"model": model, "loader": _loader(rand, n, batch), "loss_fn": RecordingLoss(),
            "device": device, "n": n, "fresh": lambda: _make_eval_inputs(seed, device, n, batch)}


def _eval_inputs(rand, n, batch):
    return _make_eval_inputs(rand.seed, rand.device, n, batch)


def _call_eval(fn, i):
    result = fn(i["model"], i["loader"], i["loss_fn"], i["device"])
    running = _bn(i["model"]).running_mean.detach().clone()
    graph = float(i["loss_fn"].graph_built)
    if type(result) in (tuple, list) and len(result) == 2:
        return running, graph, result[0], result[1]
    return running, graph, result, None


def _eval_oracle(i):
    from ..reference_training import run_epoch

    loss, acc = run_epoch(i["model"], i["loader"], i["loss_fn"], None, i["device"])
    return {"bn_running_mean": _bn(i["model"]).running_mean.detach().clone(),
            "graph": 0.0, "loss": loss, "accuracy": float(acc)}


def _eval_mistakes(i):
    f = i["fresh"]()
    f["model"].train()
    with torch.no_grad():
        losses, sizes, correct = [], [], 0
        for xb, yb in f["loader"]:
            xb, yb = xb.to(f["device"]), yb.to(f["device"])
            f["model"](xb)
    train_running = _bn(f["model"]).running_mean.detach().clone()
    g = i["fresh"]()
    g["model"].eval()
    with torch.no_grad():
        for xb, yb in g["loader"]:
            xb, yb = xb.to(g["device"]), yb.to(g["device"])
            out = g["model"](xb)
            losses.append(float(nn.functional.cross_entropy(out, yb)))
            sizes.append(len(xb))
            correct += int((out.argmax(1) == yb).sum())
    n = sum(sizes)
    return {
        "bn_running_mean": [Mistake(train_running, "the BatchNorm running statistics changed: call "
                                                   "model.eval() before evaluating (it also switches Dropout off)")],
        "graph": [Mistake(1.0, "evaluate built an autograd graph: run the loop under torch.no_grad() "
                               "(no gradients are needed, and it saves memory and time)")],
        "loss": [Mistake(sum(losses) / len(losses), "this is the mean of the per-batch losses: weight "
                         "each batch's loss by its size and divide by the number of examples"),
                 Mistake(sum(l * s for l, s in zip(losses, sizes)), "this is the total loss: divide by "
                         "the number of examples")],
        "accuracy": [Mistake(float(correct), "this is the number of correct predictions: divide by the "
                             "number of examples"),
                     Mistake(100.0 * correct / n, "this is a percentage: return a fraction between 0 and 1")],
    }


evaluate = Spec(
    name="ch10.evaluate",
    inputs=_eval_inputs,
    call=_call_eval,
    outputs=("bn_running_mean", "graph", "loss", "accuracy"),
    oracle=_eval_oracle,
    tol={"bn_running_mean": SAME_LOOP, "graph": EXACT, "loss": SAME_LOOP, "accuracy": RATIO},
    cases=(
        Case("25 examples in batches of 8", 0, dict(n=25, batch=8)),
        Case("40 examples in batches of 16", 1, dict(n=40, batch=16)),
        Case("a single example", 2, dict(n=1, batch=8)),
    ),
    mistakes=_eval_mistakes,
)


# ------------------------------------------------------------------------ metrics
def _labels_inputs(rand, n, k, absent=None, never_predicted=None, noise=0.4):
    y_true = rand.randint(0, k, n)
    if absent is not None:
        y_true = torch.where(y_true == absent, (absent + 1) % k, y_true)
    guess = rand.randint(0, k, n)
    y_pred = torch.where(rand.uniform(n).to(y_true.device) < noise, guess, y_true)
    if never_predicted is not None:
        y_pred = torch.where(y_pred == never_predicted, (never_predicted + 2) % k, y_pred)
    return {"y_true": y_true, "y_pred": y_pred, "n_classes": k}


METRIC_CASES = (
    Case("10 classes, class 3 never present, class 7 never predicted", 0,
         dict(n=300, k=10, absent=3, never_predicted=7)),
    Case("3 classes, 7 examples", 1, dict(n=7, k=3)),
    Case("5 classes, one example", 2, dict(n=1, k=5)),
    Case("4 classes, class 0 neither present nor predicted", 3,
         dict(n=40, k=4, absent=0, never_predicted=0)),
)


def _np(t):
    return t.detach().cpu().numpy()


def reference_confusion_matrix(y_true, y_pred, n_classes):
    from sklearn.metrics import confusion_matrix as sk_cm

    cm = sk_cm(_np(y_true), _np(y_pred), labels=list(range(n_classes)))
    return torch.from_numpy(cm.astype(np.int64)).to(y_true.device)


def _prf_oracle(i):
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(
        _np(i["y_true"]), _np(i["y_pred"]), labels=list(range(i["n_classes"])), zero_division=0)
    dev = i["y_true"].device
    return {name: torch.tensor(v, dtype=torch.float32, device=dev)
            for name, v in (("precision", p), ("recall", r), ("f1", f))}


def _prf_mistakes(i):
    exp = _prf_oracle(i)
    p, r = exp["precision"], exp["recall"]
    return {
        "precision": [Mistake(r, "precision and recall are swapped: precision of class c divides by "
                                 "the number PREDICTED as c, recall by the number truly c")],
        "recall": [Mistake(p, "precision and recall are swapped: recall of class c divides by the "
                              "number truly c, precision by the number PREDICTED as c")],
        "f1": [Mistake((p + r) / 2, "this is the arithmetic mean of precision and recall: F1 is their "
                                    "harmonic mean, 2 P R / (P + R) (0 where P + R = 0)")],
    }


precision_recall_f1 = Spec(
    name="ch10.precision_recall_f1",
    inputs=_labels_inputs,
    call=lambda fn, i: fn(i["y_true"], i["y_pred"], i["n_classes"]),
    outputs=("precision", "recall", "f1"),
    oracle=_prf_oracle,
    tol=RATIO,
    cases=METRIC_CASES,
    mistakes=_prf_mistakes,
    # Graded alone: a learner's precision_recall_f1 may call their own confusion_matrix.
    isolate=lambda: {"confusion_matrix": reference_confusion_matrix},
)


def _cm_mistakes(i):
    cm = reference_confusion_matrix(i["y_true"], i["y_pred"], i["n_classes"])
    return {"cm": [
        Mistake(cm.T, "rows and columns are swapped: row i counts the examples whose TRUE class is i, "
                      "column j those PREDICTED as j (scikit-learn's convention)"),
        Mistake((cm > 0).long(), "each (true, predicted) pair was counted at most once: "
                                 "cm[y_true, y_pred] += 1 does not add up repeated index pairs; use "
                                 "index_put_(..., accumulate=True), torch.bincount, or a loop"),
    ]}


confusion_matrix = Spec(
    name="ch10.confusion_matrix",
    inputs=_labels_inputs,
    call=lambda fn, i: fn(i["y_true"], i["y_pred"], i["n_classes"]),
    outputs=("cm",),
    oracle=lambda i: {"cm": reference_confusion_matrix(i["y_true"], i["y_pred"], i["n_classes"])},
    tol=EXACT,
    cases=METRIC_CASES,
    mistakes=_cm_mistakes,
)

SPECS = register(FMDataset, build_cnn, train_one_epoch, evaluate, precision_recall_f1, confusion_matrix)

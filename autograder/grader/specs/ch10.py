"""Chapter 10: Fashion-MNIST, a complete project.

Oracles:
- `FMDataset`: torchvision's own `FashionMNIST` dataset, item by item, on the same rows
  (the frame handed to the learner is built from the raw IDX files, never from
  torchvision), with and without transforms (random ones seeded identically);
- `train_one_epoch` / `evaluate`: the course's reference loop
  (`autograder.grader.reference_training.run_epoch`) on the same tiny model, rebuilt from
  the same plain weights with the learner-side builder;
- `precision_recall_f1` / `confusion_matrix`: scikit-learn (`labels=range(n)`,
  `zero_division=0`);
- `build_cnn`: no oracle for the values (they depend on the learner's own random
  weights); its checks are properties: logits of shape (N, 10), a convolution, a stated
  parameter range, layers that move with the model, a fresh model per call, and an
  accuracy reached after a short seeded training run (with the grader's stand-in loops).

`reference_cnn()`, `MEAN` and `STD` are the course's CNN and pixel statistics:
the benchmark `bench/fashion_mnist.py` trains it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ...learner.harness.ch10 import (EVAL_OUT, PARAM_NAMES, TRAIN_OUT, frame, item_seed,
                                     make_optimizer, tiny_model, transform)
from ..compare import EXACT, CheckFailure, Mistake, Tol
from ..reference_training import run_epoch
from ..spec import Case, Property, Spec
from . import register

# Fashion-MNIST pixel statistics over the 60,000 training images (after scaling to [0, 1]).
MEAN, STD = 0.2860, 0.3530
N_CLASSES = 10

# ------------------------------------------------------------------------ tolerances
# Same float32 operations in the same order as the reference loop; a CUDA kernel (or a
# learner summing the loss in another order) may differ in the last bits. Measured worst
# error ratio of the solution (salts x {1, 2} threads): see docs/coverage.md's ch10 notes.
SAME_LOOP = Tol(1e-5, 1e-6, "float32, the same operations as the reference loop; CUDA may differ in the last bits")
# Accuracy and precision/recall/F1 are ratios of integer counts: float32 division rounds
# at ~6e-8 relative, scikit-learn divides in float64.
RATIO = Tol(1e-6, 1e-7, "a ratio of integer counts: float32 rounding vs scikit-learn's float64")
# Items must be what torchvision returns: same uint8 pixels, same float32 transform code.
ITEMS = Tol(1e-6, 1e-6, "the same transform code on the same uint8 pixels; float32 rounding only")
# The logits depend on the learner's own random weights: only their type, shape, dtype
# and device are fixed (and they must be finite: nan fails even an infinite tolerance).
ANY_FINITE = Tol(0.0, math.inf, "the values depend on your model's own random weights: only shape, dtype and device are checked")
COUNT = Tol(0.0, 0.0, "a count or a yes/no")

DEVICE_HINT = ("a tensor was created without device= (it landed on the default device, not on the "
               "inputs'): create new tensors with device=y_true.device, or use *_like functions")


def _counted(hint: str, most: int = 200) -> list[Mistake]:
    """The same hint for any positive count (how many calls went wrong does not matter)."""
    return [Mistake(float(n), hint) for n in range(1, most + 1)]


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
@functools.lru_cache(maxsize=2)
def _raw(train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels, read straight from the IDX files."""
    import contextlib
    import io

    from ...learner import data

    with contextlib.redirect_stdout(io.StringIO()):
        raw = data.fetch_raw()
    prefix = "train" if train else "t10k"
    return (data.read_idx(raw / f"{prefix}-images-idx3-ubyte"),
            data.read_idx(raw / f"{prefix}-labels-idx1-ubyte"))


@functools.lru_cache(maxsize=1)
def _torchvision_train():
    from torchvision.datasets import FashionMNIST

    from ...learner import data

    return FashionMNIST(root=str(data.data_root()), train=True, download=False)


# ------------------------------------------------------------------------ FMDataset
def _dataset_inputs(rand, n, how, transform):
    if how == "slice":
        start = int(rand.randint(0, 60000 - n, 1)[0])
        rows = np.arange(start, start + n)
    else:   # a random sample, in random order (as df.sample(n) gives)
        rows = torch.randperm(60000, generator=rand._gen)[:n].numpy()
    images, labels = _raw(True)
    table = np.column_stack([labels[rows], images[rows].reshape(len(rows), -1)]).astype(np.int64)
    return {"table": table, "index": rows.astype(np.int64), "transform": transform,
            "mean": MEAN, "std": STD}


def _tf(i):
    return transform(i["transform"], i["mean"], i["std"])


def _dataset_oracle(i):
    tv = _torchvision_train()
    tf = _tf(i)
    images, labels = [], []
    for k, row in enumerate(i["index"]):
        torch.manual_seed(item_seed(k))
        img, label = tv[int(row)]
        images.append(np.array(img) if tf is None else tf(img).as_subclass(torch.Tensor))
        labels.append(label)
    stacked = np.stack(images) if tf is None else torch.stack(images)
    return {"df_kept": 1.0, "length": float(len(i["index"])),
            "labels": torch.tensor(labels, dtype=torch.int64), "images": stacked}


def _images_from(pixels, i):
    """What the items would be if the 784 values of each row were `pixels` (n, 784)."""
    from PIL import Image

    tf = _tf(i)
    out = []
    for k, p in enumerate(pixels):
        torch.manual_seed(item_seed(k))
        img = Image.fromarray(np.asarray(p, dtype=np.uint8).reshape(28, 28), mode="L")
        out.append(np.array(img) if tf is None else tf(img).as_subclass(torch.Tensor))
    return np.stack(out) if tf is None else torch.stack(out)


def _dataset_mistakes(i):
    values = i["table"]
    n = len(values)
    images = values[:, 1:]
    hints = {
        "df_kept": [Mistake(0.0, "the frame you were given was changed: do not modify df (no "
                                 "inplace=True, no df[...] = ...); work on a copy or on numpy arrays")],
        "length": [Mistake(785.0, "len(dataset) is the number of columns: it must be the number "
                                  "of rows (images), len(df)"),
                   Mistake(float(n - 1), "one image short: len(dataset) is len(df), with no -1")],
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
    tf = _tf(i)
    if tf is not None:
        floats = []
        try:
            for k, p in enumerate(images):
                torch.manual_seed(item_seed(k))
                floats.append(tf(torch.from_numpy(p.reshape(1, 28, 28).astype(np.float32)))
                              .as_subclass(torch.Tensor))
            hints["images"].append(Mistake(
                torch.stack(floats),
                "the pixels were not scaled to [0, 1]: give the transform a uint8 image (a PIL image, "
                "as torchvision does); ToDtype(..., scale=True) scales only integer images"))
        except Exception:   # noqa: BLE001 - a transform that refuses such input: no such mistake
            pass
    return hints


PIL_HINT = ("without a transform an item's image must be what torchvision returns: a PIL image in "
            "mode 'L', Image.fromarray(<(28, 28) uint8 array>)")

FMDataset = Spec(
    name="ch10.FMDataset",
    inputs=_dataset_inputs,
    outputs=("length", "labels", "images", "df_kept"),
    oracle=_dataset_oracle,
    tol={"df_kept": EXACT, "length": EXACT, "labels": EXACT, "images": ITEMS},
    cases=(
        Case("slice of 17 rows, no transform", 0, dict(n=17, how="slice", transform="none")),
        Case("20 sampled rows, ToImage + ToDtype", 1, dict(n=20, how="sample", transform="to_tensor")),
        Case("one row, + Normalize", 2, dict(n=1, how="sample", transform="normalize")),
        Case("8 rows, seeded augmentation", 3, dict(n=8, how="sample", transform="augment")),
        Case("5 rows, Resize + CenterCrop", 4, dict(n=5, how="slice", transform="resize")),
    ),
    mistakes=_dataset_mistakes,
    error_hints=(("a PIL image in mode", PIL_HINT),
                 ("although a transform was given", "apply self.transform to the image before "
                  "returning it, when a transform is given"),
                 ("must be the transform's result", "apply self.transform to the PIL image and return "
                  "what it returns"),
                 ("must be a class index", "return the class index as an int, as torchvision does: "
                  "int(label)"),
                 ("must be a pair", "return the pair (image, label)"),
                 ("KeyError", "look rows up by position (df.iloc[i] or a numpy array), not by the "
                  "index label (df.loc[i]): the frame may be a slice whose index does not start at 0")),
    sweep_salts=10,
)


# ------------------------------------------------------------------------ build_cnn
PARAM_RANGE = (20_000, 1_500_000)
TRAIN_IMAGES, TEST_IMAGES, MIN_ACCURACY = 2000, 1000, 0.65


def _cnn_inputs(rand, N, train):
    inputs = {"x": rand.randn(N, 1, 28, 28), "train": train, "seed": rand.seed, "mean": MEAN, "std": STD}
    if train:
        images, labels = _raw(True)
        test_images, test_labels = _raw(False)
        rows = torch.randperm(60000, generator=rand._gen)[:TRAIN_IMAGES].numpy()
        test_rows = torch.randperm(10000, generator=rand._gen)[:TEST_IMAGES].numpy()
        inputs.update({
            "train_images": torch.from_numpy(images[rows].copy()),
            "train_labels": torch.from_numpy(labels[rows].astype(np.int64)),
            "test_images": torch.from_numpy(test_images[test_rows].copy()),
            "test_labels": torch.from_numpy(test_labels[test_rows].astype(np.int64)),
        })
    return inputs


def _cnn_oracle(i):
    return {"fresh": 1.0, "moves": 1.0, "n_outputs": float(N_CLASSES),
            "logits": torch.zeros(len(i["x"]), N_CLASSES, device=i["x"].device)}


def _cnn_mistakes(i):
    return {
        "fresh": [Mistake(0.0, "build_cnn returned the same model (or shared layers) twice: build and "
                               "return a new nn.Module at every call, not one made once outside it")],
        "moves": [Mistake(0.0, "after model.to(device) the forward pass mixed devices: keep layers in "
                               "nn.Sequential / nn.ModuleList attributes (a plain Python list is "
                               "invisible to .to() and .parameters()), and create no tensor in forward "
                               "without device=")],
        "n_outputs": [Mistake(float(k), f"the model must output {N_CLASSES} logits per image (one per "
                                        f"class), not {k}: the last layer is nn.Linear(..., {N_CLASSES})")
                      for k in range(1, 50) if k != N_CLASSES],
    }


def _has_conv(i, out, case):
    if out.get("has_conv") != 1.0:
        raise CheckFailure("build_cnn: the model has no nn.Conv2d layer (case "
                           f"'{case.label}')\nHint: a CNN needs at least one nn.Conv2d layer: start with "
                           "nn.Conv2d(1, channels, kernel_size=3, padding=1)")


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
                "model ends with a softmax\nHint: the model ends with a softmax: return raw scores "
                "(logits); nn.CrossEntropyLoss applies log-softmax itself, and a softmax before it "
                "slows learning down")


def _accuracy(i, out, case):
    acc = out.get("accuracy")
    if type(acc) is not float or not acc >= MIN_ACCURACY:
        raise CheckFailure(
            f"build_cnn: after one epoch of Adam (lr 1e-3, batch 32) on {TRAIN_IMAGES:,} training "
            f"images, your model classifies {acc if type(acc) is not float else f'{acc:.3f}'} of "
            f"{TEST_IMAGES:,} test images correctly; at least {MIN_ACCURACY} is expected (the "
            "course's CNN reaches about 0.78)\nHint: conv -> ReLU -> pool blocks, then Linear "
            "layers with a ReLU between them, and nothing after the last Linear layer (no ReLU, "
            "no softmax)")


build_cnn = Spec(
    name="ch10.build_cnn",
    inputs=_cnn_inputs,
    outputs=("fresh", "has_conv", "n_params", "moves", "n_outputs", "logits", "accuracy"),
    oracle=_cnn_oracle,
    tol={"fresh": COUNT, "moves": COUNT, "n_outputs": COUNT, "logits": ANY_FINITE},
    cases=(
        Case("batch of 5", 0, dict(N=5, train=False)),
        Case("batch of 1, then a short training run", 1, dict(N=1, train=True)),
    ),
    mistakes=_cnn_mistakes,
    # The short training run uses the grader's loops, not the learner's: only the
    # network is graded here.
    isolate=("train_one_epoch", "evaluate"),
    properties=(
        Property("has a convolution", _has_conv, "a CNN: at least one nn.Conv2d"),
        Property("parameter count", _param_range, f"between {PARAM_RANGE[0]:,} and {PARAM_RANGE[1]:,}"),
        Property("logits", _logits_not_probabilities, "CrossEntropyLoss expects logits"),
        Property("learns", _accuracy, f"accuracy >= {MIN_ACCURACY} after a short seeded training run",
                 cases=("batch of 1, then a short training run",)),
    ),
    error_hints=(("must return an nn.Module", "return the model itself (an nn.Module such as "
                  "nn.Sequential(...)), not its class or its output"),
                 ("shapes cannot be multiplied", "the first Linear layer's input size must match the "
                  "flattened feature maps: with padding=1 and two 2 x 2 poolings, 32 * 7 * 7")),
    sweep_salts=3,
)


# ------------------------------------------------------------------------ train/evaluate
def _params_of(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _loop_inputs(rand, n, batch, **extra):
    template = tiny_model([], dropout=False, device="cpu")
    params = [rand.randn(*p.shape, scale=0.3).cpu() for p in template.parameters()]
    x = rand.randn(n, 1, 8, 8).cpu()
    teacher = rand.randn(3, 64).cpu()
    y = (x.flatten(1) @ teacher.T).argmax(dim=1)      # labels a small CNN can learn
    return {"params": params, "x": x, "y": y, "batch": batch, "device": rand.device, **extra}


def _plain_loader(i):
    return DataLoader(TensorDataset(i["x"], i["y"]), batch_size=i["batch"])


def _n_batches(i):
    return math.ceil(len(i["x"]) / i["batch"])


def _train_inputs(rand, n, batch, opt):
    """A tiny model and learnable data; redrawn (from the same seeded stream) until one
    epoch of the reference loop lowers the mean loss, so that the "loss falls" property
    holds for every input the grader may draw (with these learning rates a redraw is rare:
    0 of 2,000 salts needed one when measured)."""
    for _ in range(20):
        i = _loop_inputs(rand, n, batch, opt=opt)
        if n < 2 or _reference_lowers(i):
            return i
    return i


def _reference_lowers(i) -> bool:
    model = _fresh(i)
    run_epoch(model, _plain_loader(i), nn.CrossEntropyLoss(), make_optimizer(i["opt"], model.parameters()),
              i["device"])
    return _mean_loss_with(i, _params_of(model)) < _mean_loss_with(i, i["params"])


def _fresh(i, dropout=False):
    model = tiny_model(i["params"], dropout=dropout, device=i["device"])
    return model


def _train_state(model, loss):
    bn = model[1]
    return {"loss": loss, **dict(zip(PARAM_NAMES, _params_of(model))),
            "bn_running_mean": bn.running_mean.detach().clone(),
            "bn_running_var": bn.running_var.detach().clone()}


def _train_oracle(i):
    model = _fresh(i)
    optimizer = make_optimizer(i["opt"], model.parameters())
    loss, _ = run_epoch(model, _plain_loader(i), nn.CrossEntropyLoss(), optimizer, i["device"])
    nb = float(_n_batches(i))
    return {"steps": nb, "forward_passes": nb, "passes_in_eval": 0.0, "unmoved_inputs": 0.0,
            "unmoved_targets": 0.0, **_train_state(model, loss)}


def _variant_epoch(i, zero_grad=True, train_mode=True, zero_between=False):
    """The reference loop with a known mistake: (the model after it, batch losses, sizes)."""
    model = _fresh(i)
    optimizer = make_optimizer(i["opt"], model.parameters())
    model.train(train_mode)
    losses, sizes = [], []
    for xb, yb in _plain_loader(i):
        xb, yb = xb.to(i["device"]), yb.to(i["device"])
        loss = nn.functional.cross_entropy(model(xb), yb)
        if zero_grad and not zero_between:
            optimizer.zero_grad()
        loss.backward()
        if zero_between:
            optimizer.zero_grad()
        optimizer.step()
        losses.append(float(loss.detach()))
        sizes.append(len(xb))
    return model, losses, sizes


def _train_mistakes(i):
    hints: dict[str, list[Mistake]] = {}
    nb = _n_batches(i)

    def add(result, hint):
        for name, value in result.items():
            hints.setdefault(name, []).append(Mistake(value, hint))

    model, losses, sizes = _variant_epoch(i, zero_grad=False)
    add(_train_state(model, sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)),
        "gradients pile up from batch to batch: call optimizer.zero_grad() before loss.backward()")
    model, losses, sizes = _variant_epoch(i, zero_between=True)
    add(_train_state(model, sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)),
        "the parameters did not change: zero the gradients before loss.backward() (or after "
        "optimizer.step()), never between backward and step")
    _, losses, sizes = _variant_epoch(i)
    add({"loss": sum(losses) / len(losses)},
        "this is the mean of the per-batch losses: the last batch is smaller, so weight each "
        "batch's loss by its size (loss.item() * len(xb)) and divide by the number of examples")
    add({"loss": sum(l * s for l, s in zip(losses, sizes))},
        "this is the total loss over all examples: divide by the number of examples for the mean")
    add({"loss": losses[-1]}, "this is the loss of the last batch only: average over all examples")
    if sum(sizes) > 1:
        add({"loss": sum(losses)}, "this is the sum of the per-batch mean losses: weight each by its "
                                   "batch size and divide by the number of examples")
    hints.update({
        "steps": [Mistake(0.0, "the optimizer you were given took no step: call optimizer.step() "
                               "on the `optimizer` argument after loss.backward()"),
                  Mistake(2.0 * nb, "two optimizer steps per batch: step once per batch")],
        "forward_passes": [Mistake(float(k * nb), "the model ran more than one forward pass per batch: "
                                                  "compute model(xb) once per batch (every pass in "
                                                  "training mode also updates BatchNorm's running "
                                                  "statistics)") for k in (2, 3)],
        "passes_in_eval": _counted("the model stayed in eval mode: call model.train() at the start "
                                   "(BatchNorm and Dropout behave differently while training)"),
        "unmoved_inputs": _counted("the images were not moved to `device`: xb = xb.to(device) before "
                                   "model(xb) (the loader hands out CPU batches)"),
        "unmoved_targets": _counted("the labels were not moved to `device`: yb = yb.to(device) before "
                                    "the loss (the loader hands out CPU batches)"),
    })
    return hints


def _mean_loss_with(i, params) -> float:
    """Mean loss on the whole data for the model carrying `params` (train mode, no update)."""
    model = tiny_model(params, dropout=False, device=i["device"])
    model.train()
    with torch.no_grad():
        total, count = 0.0, 0
        for xb, yb in _plain_loader(i):
            xb, yb = xb.to(i["device"]), yb.to(i["device"])
            total += float(nn.functional.cross_entropy(model(xb), yb)) * len(xb)
            count += len(xb)
    return total / count


def _loss_falls(i, out, case):
    params = [out.get(name) for name in PARAM_NAMES]
    if not all(type(p) is torch.Tensor for p in params):
        return
    before = _mean_loss_with(i, i["params"])
    after = _mean_loss_with(i, params)
    if not after < before:
        raise CheckFailure(f"train_one_epoch: the loss did not fall over the epoch (case '{case.label}'): "
                           f"{before:.4f} before, {after:.4f} after\nHint: call optimizer.step() after "
                           "loss.backward() for every batch")


train_one_epoch = Spec(
    name="ch10.train_one_epoch",
    inputs=_train_inputs,
    outputs=TRAIN_OUT,
    oracle=_train_oracle,
    tol={**{name: COUNT for name in TRAIN_OUT[:5]}, **{name: SAME_LOOP for name in TRAIN_OUT[5:]}},
    cases=(
        Case("SGD with momentum, 23 examples in batches of 8", 0, dict(n=23, batch=8, opt="sgd")),
        Case("Adam, 30 examples in batches of 10", 1, dict(n=30, batch=10, opt="adam")),
        Case("a single example", 2, dict(n=1, batch=4, opt="sgd")),
    ),
    mistakes=_train_mistakes,
    properties=(Property("loss falls", _loss_falls, "one epoch lowers the mean loss on the data",
                         cases=("SGD with momentum, 23 examples in batches of 8",
                                "Adam, 30 examples in batches of 10")),),
    error_hints=(("element 0 of tensors does not require grad", "the loss has no gradient: run the "
                  "training loop with gradients on (no torch.no_grad() around it)"),),
    sweep_salts=15,
)


def _eval_inputs(rand, n, batch):
    return _loop_inputs(rand, n, batch)


def _eval_oracle(i):
    model = _fresh(i, dropout=True)
    loss, acc = run_epoch(model, _plain_loader(i), nn.CrossEntropyLoss(), None, i["device"])
    return {"passes_in_train": 0.0, "passes_with_grad": 0.0, "unmoved_inputs": 0.0,
            "unmoved_targets": 0.0, "loss": loss, "accuracy": float(acc),
            "bn_running_mean": model[1].running_mean.detach().clone(),
            **dict(zip(PARAM_NAMES, [p.detach().clone().to(i["device"]) for p in i["params"]])),
            "grads_none": 1.0}


def _eval_mistakes(i):
    model = _fresh(i, dropout=True)
    model.eval()
    losses, sizes, correct = [], [], 0
    with torch.no_grad():
        for xb, yb in _plain_loader(i):
            xb, yb = xb.to(i["device"]), yb.to(i["device"])
            out = model(xb)
            losses.append(float(nn.functional.cross_entropy(out, yb)))
            sizes.append(len(xb))
            correct += int((out.argmax(1) == yb).sum())
    n = sum(sizes)
    return {
        "passes_in_train": _counted("the model ran in training mode: call model.eval() before "
                                    "evaluating (Dropout stays on and BatchNorm's running statistics "
                                    "change otherwise)"),
        "passes_with_grad": _counted("evaluate built an autograd graph: run the loop under "
                                     "torch.no_grad() (no gradients are needed, and it saves memory "
                                     "and time)"),
        "unmoved_inputs": _counted("the images were not moved to `device`: xb = xb.to(device) before "
                                   "model(xb) (the loader hands out CPU batches)"),
        "unmoved_targets": _counted("the labels were not moved to `device`: yb = yb.to(device) before "
                                    "the loss and the accuracy (the loader hands out CPU batches)"),
        "loss": [Mistake(sum(losses) / len(losses), "this is the mean of the per-batch losses: weight "
                         "each batch's loss by its size and divide by the number of examples"),
                 Mistake(sum(l * s for l, s in zip(losses, sizes)), "this is the total loss: divide by "
                         "the number of examples")],
        "accuracy": [Mistake(float(correct), "this is the number of correct predictions: divide by the "
                             "number of examples"),
                     Mistake(100.0 * correct / n, "this is a percentage: return a fraction between 0 and 1")],
        "grads_none": [Mistake(0.0, "evaluate must not learn: no loss.backward() (it fills .grad)")],
    }


evaluate = Spec(
    name="ch10.evaluate",
    inputs=_eval_inputs,
    outputs=EVAL_OUT,
    oracle=_eval_oracle,
    tol={**{name: COUNT for name in EVAL_OUT[:4]}, "loss": SAME_LOOP, "accuracy": RATIO,
         "bn_running_mean": SAME_LOOP, **{name: EXACT for name in PARAM_NAMES}, "grads_none": COUNT},
    cases=(
        Case("25 examples in batches of 8", 0, dict(n=25, batch=8)),
        Case("40 examples in batches of 16", 1, dict(n=40, batch=16)),
        Case("a single example", 2, dict(n=1, batch=8)),
    ),
    mistakes=_eval_mistakes,
    error_hints=(("must return the pair", "return the pair (loss, accuracy), two Python floats"),),
    sweep_salts=15,
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
    return {"on_input_device": 1.0, **{name: torch.tensor(v, dtype=torch.float32, device=dev)
                                        for name, v in (("precision", p), ("recall", r), ("f1", f))}}


def _prf_mistakes(i):
    exp = _prf_oracle(i)
    p, r = exp["precision"], exp["recall"]
    return {
        "on_input_device": [Mistake(0.0, DEVICE_HINT)],
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
    outputs=("on_input_device", "precision", "recall", "f1"),
    oracle=_prf_oracle,
    tol={"on_input_device": COUNT, "precision": RATIO, "recall": RATIO, "f1": RATIO},
    cases=METRIC_CASES,
    mistakes=_prf_mistakes,
    # Graded alone: a learner's precision_recall_f1 may call their own confusion_matrix.
    isolate=("confusion_matrix",),
    error_hints=(("three tensors", "return the three tensors (precision, recall, f1)"),),
    sweep_salts=60,
)


def _cm_mistakes(i):
    cm = reference_confusion_matrix(i["y_true"], i["y_pred"], i["n_classes"])
    return {
        "on_input_device": [Mistake(0.0, DEVICE_HINT)],
        "cm": [
            Mistake(cm.T, "rows and columns are swapped: row i counts the examples whose TRUE class is i, "
                          "column j those PREDICTED as j (scikit-learn's convention)"),
            Mistake((cm > 0).long(), "each (true, predicted) pair was counted at most once: "
                                     "cm[y_true, y_pred] += 1 does not add up repeated index pairs; use "
                                     "index_put_(..., accumulate=True), torch.bincount, or a loop"),
        ]}


confusion_matrix = Spec(
    name="ch10.confusion_matrix",
    inputs=_labels_inputs,
    outputs=("on_input_device", "cm"),
    oracle=lambda i: {"on_input_device": 1.0,
                      "cm": reference_confusion_matrix(i["y_true"], i["y_pred"], i["n_classes"])},
    tol={"on_input_device": COUNT, "cm": EXACT},
    cases=METRIC_CASES,
    mistakes=_cm_mistakes,
    sweep_salts=30,
)

SPECS = register(FMDataset, build_cnn, train_one_epoch, evaluate, precision_recall_f1, confusion_matrix)

"""Benchmark: the course's Fashion-MNIST CNN on the real test set (10,000 images), on CPU.

    python bench/fashion_mnist.py --mode quick|full|both [--model chapter|wide] [--seeds N] [--threads 2]

Trains `autograder.grader.specs.ch10.reference_cnn()` (the architecture chapter 10's `build_cnn`
builds), or with `--model wide` the step beyond it that chapter 10's last section describes
(`wide_cnn` below), and prints the test accuracy and the wall time of each mode, everything
included (loading the data, training, evaluating). With `--seeds N` each mode runs N times
(seeds 0..N-1: initial weights, batch order and augmentation) and the mean and spread follow.

* quick: one epoch on the first QUICK_IMAGES training images, Adam with a one-cycle
  learning-rate schedule. Target: >= 0.85 test accuracy within 60 s on 2 CPU cores.
* full: FULL_EPOCHS[model] epochs on all 60,000 training images with augmentation (random
  shifts of up to 2 pixels and horizontal flips, applied to whole batches of tensors:
  per-image PIL transforms would cost more than the model on a CPU), Adam with a one-cycle
  schedule. Targets: the chapter's CNN >= 0.92; `--model wide` >= 0.93 (mean of 3 seeds)
  within 10 minutes per run. The accuracy with each test image's mirror image averaged in
  (flips were part of training) is printed beside it, as a further step.

The last line for each mode reads e.g. `quick: accuracy 0.8712 in 52.3 s`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

START = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from autograder.grader.reference_training import run_epoch  # noqa: E402
from autograder.grader.specs.ch10 import MEAN, STD, reference_cnn  # noqa: E402
from autograder.learner.training import fashion_mnist, seed_everything  # noqa: E402

QUICK_IMAGES, QUICK_BATCH, QUICK_LR = 24_000, 64, 4e-3
FULL_EPOCHS = {"chapter": 15, "wide": 30}
FULL_BATCH, FULL_LR = 128, 4e-3


def wide_cnn() -> nn.Module:
    """The step beyond the chapter's CNN: the same two conv-BN-ReLU-pool blocks with twice the
    channels (1 -> 32 -> 64) and no convolution bias (BatchNorm's shift replaces it), the same
    128-unit head with dropout. 421,738 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


MODELS = {"chapter": reference_cnn, "wide": wide_cnn}


def load():
    x, y = fashion_mnist(train=True)
    xt, yt = fashion_mnist(train=False)
    return (x - MEAN) / STD, y, (xt - MEAN) / STD, yt


def augment(xb: torch.Tensor, gen: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random shift of each image by up to `pad` pixels and a random horizontal flip, on a
    whole batch at once (pure indexing, no Python loop over images)."""
    n, _, h, w = xb.shape
    padded = nn.functional.pad(xb, (pad, pad, pad, pad), value=float(xb.min()))
    dy = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=gen)
    rows = (dy + torch.arange(h).view(1, h, 1)).expand(n, h, w)
    cols = (dx + torch.arange(w).view(1, 1, w)).expand(n, h, w)
    flip = torch.rand(n, 1, 1, generator=gen) < 0.5
    cols = torch.where(flip, dx + (w - 1 - torch.arange(w)).view(1, 1, w), cols)
    batch = torch.arange(n).view(n, 1, 1).expand(n, h, w)
    return padded[batch, 0, rows, cols].unsqueeze(1)


def batches(x, y, batch_size, gen, aug=False):
    order = torch.randperm(len(x), generator=gen)
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        xb = x[idx]
        yield (augment(xb, gen) if aug else xb), y[idx]


def flip_averaged_accuracy(model, xt, yt) -> float:
    """Accuracy when each test image's probabilities are averaged with its mirror image's."""
    model.eval()
    with torch.no_grad():
        right = sum(int(((model(xb).softmax(1) + model(xb.flip(-1)).softmax(1)).argmax(1) == yb).sum())
                    for xb, yb in zip(xt.split(1000), yt.split(1000)))
    return right / len(yt)


def test_accuracy(model, xt, yt) -> float:
    chunks = [(xt[i:i + 1000], yt[i:i + 1000]) for i in range(0, len(xt), 1000)]
    return float(run_epoch(model, chunks, nn.CrossEntropyLoss())[1])


def train(model, x, y, epochs, batch_size, lr, aug, log, seed=0):
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        total, count, t0 = 0.0, 0, time.perf_counter()
        for xb, yb in batches(x, y, batch_size, gen, aug):
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(xb)
            count += len(xb)
        log(f"  epoch {epoch + 1}/{epochs}: train loss {total / count:.4f} "
            f"({count / (time.perf_counter() - t0):.0f} images/s)")


def run(mode: str, started: float, model_name: str = "chapter", seed: int = 0) -> tuple[float, float]:
    seed_everything(seed)
    x, y, xt, yt = load()
    print(f"{mode}: data loaded in {time.perf_counter() - started:.1f} s", flush=True)
    model = MODELS[model_name]()
    log = lambda line: print(line, flush=True)  # noqa: E731
    if mode == "quick":
        train(model, x[:QUICK_IMAGES], y[:QUICK_IMAGES], 1, QUICK_BATCH, QUICK_LR, False, log, seed)
    else:
        train(model, x, y, FULL_EPOCHS[model_name], FULL_BATCH, FULL_LR, True, log, seed)
    acc = test_accuracy(model, xt, yt)
    seconds = time.perf_counter() - started
    if mode == "full":   # only full mode trains on flipped images
        print(f"{mode}: with mirror images averaged in: {flip_averaged_accuracy(model, xt, yt):.4f}", flush=True)
    return acc, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("quick", "full", "both"), default="quick")
    parser.add_argument("--model", choices=sorted(MODELS), default="chapter",
                        help="chapter: build_cnn's layers; wide: the step beyond (default chapter)")
    parser.add_argument("--seeds", type=int, default=1, help="runs per mode, seeds 0..N-1 (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    modes = ("quick", "full") if args.mode == "both" else (args.mode,)
    first = True
    for mode in modes:
        accs, times = [], []
        for seed in range(args.seeds):
            # The first run's clock starts with the process (imports included).
            acc, secs = run(mode, START if first else time.perf_counter(), args.model, seed)
            first = False
            accs.append(acc)
            times.append(secs)
            print(f"{mode}: accuracy {acc:.4f} in {secs:.1f} s (model {args.model}, seed {seed})", flush=True)
        if args.seeds > 1:
            t = torch.tensor(accs, dtype=torch.float64)
            print(f"{mode}: mean accuracy {t.mean():.4f} (std {t.std():.4f}, min {t.min():.4f}, "
                  f"max {t.max():.4f}) over {args.seeds} seeds; longest run {max(times):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the Fashion-MNIST chapters (09, 10) share with the learner: the class names, a
seed for everything, and the data set as tensors.

The reference training loop the specs compare learners' loops with is grader-side
(`autograder.grader.reference_training`): it is an exercise's answer, so a grading kernel
must not be able to reach it.
"""

from __future__ import annotations

import contextlib
import io
import random

import numpy as np
import torch

from . import data

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, numpy and torch (all devices) for a repeatable run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fashion_mnist(train: bool = True, limit: int | None = None, root=None,
                  flat: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST as tensors: images float32 in [0, 1], shape (n, 1, 28, 28) (or
    (n, 784) when `flat`), labels int64. Reads the raw IDX files `make data` put in
    data/ (fetching them first if they are missing); `limit` keeps the first n."""
    root = data.data_root() if root is None else root
    with contextlib.redirect_stdout(io.StringIO()):  # the data step's per-file log is noise here
        raw = data.fetch_raw(root)
    prefix = "train" if train else "t10k"
    images = data.read_idx(raw / f"{prefix}-images-idx3-ubyte")[:limit]
    labels = data.read_idx(raw / f"{prefix}-labels-idx1-ubyte")[:limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    x = x.reshape(len(x), -1) if flat else x.unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))

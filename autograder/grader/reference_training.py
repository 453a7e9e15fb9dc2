"""The course's reference training loop: one epoch of training or evaluation and a `fit`
loop with progress bars. Specs compare learners' own loops with it (chapters 08-10) and
the Fashion-MNIST benchmark trains with it. Grader side: it answers exercises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from ..learner.plotting import progress


def run_epoch(model: torch.nn.Module, loader: Iterable, loss_fn: Callable,
              optimizer: torch.optim.Optimizer | None = None, device: str | torch.device = "cpu",
              desc: str = "", show_progress: bool = False) -> tuple[float, float | None]:
    """One pass over `loader`: trains when an optimizer is given (model.train()), else
    evaluates under no_grad (model.eval()). Returns (mean loss per example, accuracy),
    accuracy None when the targets are not class indices."""
    training = optimizer is not None
    model.train(training)
    total_loss, correct, count, classify = 0.0, 0, 0, True
    batches = progress(loader, desc=desc) if show_progress else loader
    with torch.set_grad_enabled(training):
        for xb, yb in batches:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = loss_fn(out, yb)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            n = len(xb)
            total_loss += float(loss.detach()) * n
            count += n
            if classify and yb.dtype == torch.int64 and out.ndim == 2:
                correct += int((out.argmax(dim=1) == yb).sum())
            else:
                classify = False
    return total_loss / max(count, 1), (correct / max(count, 1) if classify else None)


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)


def fit(model: torch.nn.Module, train_loader: Iterable, val_loader: Iterable | None,
        loss_fn: Callable, optimizer: torch.optim.Optimizer, epochs: int,
        device: str | torch.device = "cpu", scheduler=None, show_progress: bool = True) -> History:
    """Train for `epochs`, validating after each; the scheduler steps once per epoch,
    after the optimizer's steps (where `scheduler.step()` belongs)."""
    history = History()
    epochs_iter = progress(range(epochs), desc="epochs") if show_progress else range(epochs)
    for _ in epochs_iter:
        loss, _ = run_epoch(model, train_loader, loss_fn, optimizer, device)
        history.train_loss.append(loss)
        if val_loader is not None:
            val_loss, acc = run_epoch(model, val_loader, loss_fn, None, device)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(acc)
        if scheduler is not None:
            scheduler.step()
    return history

"""Plots and progress bars the chapters share, so notebooks stay about their topic."""

from __future__ import annotations

from typing import Iterable, Sequence

from .settings import quick_mode


def progress(iterable: Iterable, desc: str = "", total: int | None = None):
    """A progress bar over `iterable` (a widget in JupyterLab, text elsewhere)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, mininterval=0.5)


def loss_curve(losses: Sequence[float] | dict[str, Sequence[float]], *, title: str = "",
               xlabel: str = "step", log: bool = True, ax=None):
    """Plot one loss curve, or several given as {label: values}; returns the Axes."""
    import matplotlib.pyplot as plt

    series = losses if isinstance(losses, dict) else {"loss": losses}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in series.items():
        ax.plot(range(len(values)), [float(v) for v in values], label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss" + (" (log scale)" if log else ""))
    ax.set_title(title + (" [quick mode]" if quick_mode() else ""))
    if len(series) > 1:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax

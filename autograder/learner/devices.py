"""The devices every check runs on: the CPU always, plus each accelerator that is present."""

from __future__ import annotations

import torch

from .settings import requested_devices


def _present() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def available_devices() -> list[str]:
    """The devices to test on, in order: CPU first.

    COURSE_DEVICES (e.g. "cpu" or "cpu,cuda") restricts the list; naming a device that is
    not present is an error rather than a silent skip, so a GPU run cannot quietly test
    only the CPU.
    """
    present = _present()
    wanted = requested_devices()
    if wanted is None:
        return present
    missing = [name for name in wanted if name not in present]
    if missing:
        raise RuntimeError(
            f"COURSE_DEVICES names {', '.join(missing)}, which this machine does not have "
            f"(present: {', '.join(present)})"
        )
    return wanted


def default_device() -> str:
    """The fastest device present: what a notebook should train on."""
    return available_devices()[-1]

"""Chapter 01: plain numpy functions, called with the grader's arrays as they are."""

from __future__ import annotations

import numpy as np

from . import calls

CALLS, harness = calls()


@harness("forward")
def forward(fn, i):
    return fn(i["x"], i["w1"], i["w2"])


@harness("sse_loss")
def sse_loss(fn, i):
    return fn(i["y_pred"], i["y"])


@harness("backward")
def backward(fn, i):
    return fn(i["x"], i["y"], i["h"], i["h_relu"], i["y_pred"], i["w2"])


@harness("train")
def train(fn, i):
    w1, w2, losses = fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    if type(losses) is np.ndarray and losses.ndim == 1:
        losses = [float(v) for v in losses]   # an array of losses is as good as a list
    return losses, w1, w2

"""Chapter 01: plain numpy functions, called with the grader's arrays as they are.

numpy's BLAS runs with as many threads as torch's math while the learner's function runs
(the thread count the observation records and the judge reproduces): one number for both
libraries, and no idle BLAS threads spinning against each other on a busy machine.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from . import calls

CALLS, harness = calls()


_controller = []


@contextlib.contextmanager
def blas_threads():
    if not _controller:          # finding the loaded BLAS libraries takes ~10 ms: once
        try:
            from threadpoolctl import ThreadpoolController
            _controller.append(ThreadpoolController())
        except Exception:        # noqa: BLE001 - no threadpoolctl: numpy's own default then
            _controller.append(None)
    if _controller[0] is None:
        yield
        return
    with _controller[0].limit(limits=torch.get_num_threads(), user_api="blas"):
        yield


@harness("forward")
def forward(fn, i):
    with blas_threads():
        return fn(i["x"], i["w1"], i["w2"])


@harness("sse_loss")
def sse_loss(fn, i):
    with blas_threads():
        return fn(i["y_pred"], i["y"])


@harness("backward")
def backward(fn, i):
    with blas_threads():
        return fn(i["x"], i["y"], i["h"], i["h_relu"], i["y_pred"], i["w2"])


@harness("train")
def train(fn, i):
    with blas_threads():
        result = fn(i["x"], i["y"], i["w1"], i["w2"], i["lr"], i["steps"])
    if type(result) not in (tuple, list) or len(result) != 3:
        return result                          # judged as "3 values must be returned"
    w1, w2, losses = result
    if type(losses) is np.ndarray and losses.ndim == 1:
        losses = [float(v) for v in losses]   # an array of losses is as good as a list
    return losses, w1, w2

"""autograder.static, autograder.gradients, autograder.devices and settings."""

import numpy as np
import pytest
import torch

from autograder import available_devices, pick, quick_mode
from autograder.grader.compare import CheckFailure
from autograder.grader.gradients import (autograd_grads, finite_difference_check, gradcheck,
                                  numeric_gradient, relative_error)
from autograder.grader.static import ForbiddenCalls, NoLoops, NoModule, check_source


def loopy(a):
    total = 0
    for v in a:
        total += v
    return [v for v in a], total


def vectorised(a):
    return a.sum(axis=0)


def uses_torch(a):
    import torch as t  # noqa: F401
    return torch.tensor(a)


def calls_eval(a):
    return eval("a")


def test_no_loops():
    with pytest.raises(CheckFailure, match=r"line 3: a Python loop \(For\)"):
        check_source(loopy, [NoLoops()], "loopy")
    check_source(vectorised, [NoLoops()], "vectorised")


def test_no_module_and_forbidden_calls():
    with pytest.raises(CheckFailure, match="imports torch"):
        check_source(uses_torch, [NoModule("torch")], "f")
    with pytest.raises(CheckFailure, match=r"calls eval\(\)"):
        check_source(calls_eval, [ForbiddenCalls(frozenset({"eval"}))], "f")


def test_source_that_cannot_be_read_is_a_failure():
    with pytest.raises(CheckFailure, match="could not read the source"):
        check_source(len, [NoLoops()], "len")


def test_numeric_gradient_of_a_cubic():
    x = np.array([1.0, -2.0, 0.5])
    num = numeric_gradient(lambda: float((x ** 3).sum()), x)
    assert relative_error(num, 3 * x ** 2) < 1e-9


def test_finite_difference_check_catches_a_wrong_gradient():
    w = np.array([[1.0, 2.0], [3.0, -1.0]])

    def loss():
        return float((w ** 2).sum())

    finite_difference_check(loss, {"w": w}, {"w": 2 * w}, what="t")
    with pytest.raises(CheckFailure, match="relative error"):
        finite_difference_check(loss, {"w": w}, {"w": 2 * w.T}, what="t")


class WrongSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be 2 x


def test_gradcheck_wrapper_reports_a_wrong_backward():
    x = torch.randn(4, requires_grad=True)
    gradcheck(lambda t: t * t, x)
    with pytest.raises(CheckFailure, match="gradcheck"):
        gradcheck(WrongSquare.apply, x)


def test_autograd_grads_with_cotangent():
    x = torch.randn(3, dtype=torch.float64)
    g = autograd_grads(lambda x: x ** 2, {"x": x}, ["x"], cotangent=torch.ones(3, dtype=torch.float64))
    assert torch.allclose(g["x"], 2 * x)
    assert x.grad is None and not x.requires_grad


def test_devices(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICES", raising=False)
    assert available_devices()[0] == "cpu"
    monkeypatch.setenv("COURSE_DEVICES", "cpu")
    assert available_devices() == ["cpu"]
    monkeypatch.setenv("COURSE_DEVICES", "cpu,tpu9")
    with pytest.raises(RuntimeError, match="tpu9"):
        available_devices()


@pytest.mark.parametrize("raw, quick", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_quick_mode(monkeypatch, raw, quick):
    monkeypatch.setenv("COURSE_QUICK", raw)
    assert quick_mode() is quick
    assert pick(full=10, quick=2) == (2 if quick else 10)

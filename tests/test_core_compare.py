"""autograder.compare: fail closed, and say what is wrong in words a learner can use."""

import numpy as np
import pytest
import torch

from autograder.grader.compare import FLOAT64, CheckFailure, Mistake, Tol, Where, compare, diagnose
from autograder.learner.values import Unusable, capture

W = Where("ex: the result", "cpu", "case 'c'")


def fails(actual, expected, tol=FLOAT64, where=W) -> str:
    with pytest.raises(CheckFailure) as info:
        compare(capture(actual), expected, tol, where)
    return str(info.value)


def test_equal_values_pass():
    e = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    compare(capture(e.clone()), e, FLOAT64, W)
    compare(capture(e.numpy().copy()), e.numpy(), FLOAT64, W)
    compare(capture(np.float64(2.0)), 2.0, FLOAT64, W)


def test_tolerance_is_respected_at_the_edge():
    e = torch.ones(5, dtype=torch.float64)
    tol = Tol(0.0, 1e-6, "test")
    compare(capture(e + 0.9e-6), e, tol, W)
    msg = fails(e + 2e-6, e, tol)
    assert "Greatest absolute difference" in msg and "allowed: rtol=0, atol=1e-06: test" in msg


def test_message_says_what_where_and_how_much():
    e = torch.zeros(2, 3, dtype=torch.float64)
    a = e.clone()
    a[1, 2] = 5.0
    msg = fails(a, e)
    assert msg.startswith("ex: the result is wrong (device cpu, case 'c')")
    assert "expected: torch.Tensor of shape (2, 3), dtype torch.float64, device cpu" in msg
    assert "at index (1, 2)" in msg


def test_torch_where_numpy_was_asked():
    msg = fails(torch.zeros(2, dtype=torch.float64), np.zeros(2))
    assert "numpy only" in msg


def test_numpy_where_torch_was_asked():
    assert "stays a tensor" in fails(np.zeros(2), torch.zeros(2, dtype=torch.float64))


def test_transposed_shape_and_square_transposed_values():
    g = torch.Generator().manual_seed(2)
    e = torch.randn(3, 5, dtype=torch.float64, generator=g)
    assert "transpose" in fails(e.T.contiguous(), e)
    s = torch.randn(4, 4, dtype=torch.float64, generator=g)
    assert "transpose of the expected value" in fails(s.T.contiguous(), s)


def test_sum_vs_mean_and_sign_hints():
    e = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert "24 times larger" in fails(e * 24, e)
    assert "8 times smaller" in fails(e / 8, e)
    assert "sign is flipped" in fails(-e, e)


def test_dtype_device_none_nan_and_unusable():
    e = torch.ones(3, dtype=torch.float64)
    assert "keep the input's dtype" in fails(e.float(), e)
    assert "input's device" in fails(torch.ones(3, dtype=torch.float64, device="meta"), e)
    assert "missing `return`" in fails(None, e)
    assert "nan or inf" in fails(torch.tensor([1.0, float("inf"), 1.0], dtype=torch.float64), e)
    with pytest.raises(CheckFailure, match="plain torch.Tensor"):
        compare(Unusable("an object of type X"), e, FLOAT64, W)


def test_expected_none_requires_none():
    compare(None, None, FLOAT64, W)
    assert "must be None" in fails(torch.zeros(1), None)


def test_sequences_need_the_right_length_and_plain_numbers():
    assert "one step too few" in fails([1.0, 2.0], (1.0, 2.0, 3.0))
    compare(capture([1.0, 2.0]), (1.0, 2.0), FLOAT64, W)


def test_declared_mistake_is_named():
    e = torch.tensor([1.0, -2.0, 3.0, -4.0], dtype=torch.float64)
    wrong = e.abs()
    where = Where("ex", mistakes=(Mistake(wrong.clone(), "you took abs()"),))
    assert "you took abs()" in fails(wrong, e, where=where)


def test_no_hint_for_unrelated_values():
    g = torch.Generator().manual_seed(1)
    assert diagnose(torch.randn(5, dtype=torch.float64, generator=g),
                    torch.randn(5, dtype=torch.float64, generator=g), FLOAT64) == ""


def test_failure_renders_without_traceback():
    err = CheckFailure("line one\nline two")
    rendered = err._render_traceback_()
    assert len(rendered) == 1 and "line one" in rendered[0] and "Traceback" not in rendered[0]

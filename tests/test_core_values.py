"""autograder.values: only plain values cross from learner code to the grader."""

import numpy as np
import pytest
import torch

from autograder.learner import values
from autograder.learner.values import Unusable


class AlwaysEqual:
    def __eq__(self, other):
        return True


class LyingTensor(torch.Tensor):
    """Answers every torch function with the other argument: fools allclose and ==."""

    calls = 0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        LyingTensor.calls += 1
        return True


def test_plain_values_are_copied():
    t = torch.ones(3, requires_grad=True)
    a = np.arange(4.0)
    out = values.capture((t * 2, a, 1.5, np.float64(2.0), 3, None))
    assert type(out[0]) is torch.Tensor and not out[0].requires_grad
    assert type(out[1]) is np.ndarray and out[1] is not a
    assert out[2:] == (1.5, 2.0, 3.0, None)
    a[0] = 99
    assert out[1][0] == 0, "a capture must not alias the learner's array"


def test_parameter_is_accepted_as_a_plain_tensor():
    p = torch.nn.Parameter(torch.zeros(2))
    assert type(values.capture(p)) is torch.Tensor


@pytest.mark.parametrize("value, word", [
    (AlwaysEqual(), "AlwaysEqual"),
    (np.matrix([[1.0]]), "subclass of numpy.ndarray"),
    (np.array([object()]), "dtype=object"),
    (True, "bool"),
    ("1.0", "str"),
])
def test_other_objects_are_unusable(value, word):
    out = values.capture(value)
    assert isinstance(out, Unusable) and word in out.reason


def test_tensor_subclass_is_rejected_without_calling_it():
    liar = torch.zeros(3).as_subclass(LyingTensor)
    assert torch.allclose(liar, torch.ones(3)) is True  # why exact types matter
    LyingTensor.calls = 0
    out = values.capture(liar)
    assert isinstance(out, Unusable) and "subclass of torch.Tensor" in out.reason
    assert LyingTensor.calls == 0


def test_round_trip_without_pickle(tmp_path):
    data = {"t": torch.arange(6.0).reshape(2, 3), "a": np.eye(2, dtype=np.float32),
            "f": 2.5, "n": None, "seq": (1.0, 2.0), "bad": Unusable("why")}
    values.save(data, tmp_path / "obs.zip")
    back = values.load(tmp_path / "obs.zip")
    assert torch.equal(back["t"], data["t"]) and back["t"].dtype == torch.float32
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], data["a"])
    assert back["f"] == 2.5 and back["n"] is None and back["seq"] == (1.0, 2.0)
    assert back["bad"] == Unusable("why")


def test_describe_names_type_shape_dtype_device():
    text = values.describe(torch.zeros(2, 3, dtype=torch.float64))
    assert "torch.Tensor" in text and "(2, 3)" in text and "float64" in text and "cpu" in text

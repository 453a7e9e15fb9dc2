"""autograder.spec: declared checks, run in two separate steps (observe, judge)."""

import numpy as np
import pytest
import torch

from autograder import CheckFailure, check
from autograder.compare import FLOAT64, Tol
from autograder.spec import Case, Observation, Property, Spec, judge, observe
from autograder.specs import get_spec

SQUARE = Spec(
    name="demo.square",
    inputs=lambda rand, n: {"x": rand.randn(n, dtype=torch.float64)},
    call=lambda fn, i: fn(i["x"]),
    outputs=("y",),
    oracle=lambda i: {"y": i["x"] ** 2},
    tol=FLOAT64,
    cases=(Case("five", 0, {"n": 5}), Case("one", 1, {"n": 1})),
)


def square(x):
    return x * x


def test_correct_answer_passes(capsys):
    check(SQUARE, square)
    assert "2 case(s) passed on cpu" in capsys.readouterr().out


def test_observation_crosses_as_bytes_and_is_judged_elsewhere():
    obs = observe(SQUARE, square, SQUARE.cases[0], "cpu")
    judge(SQUARE, Observation.loads(obs.dumps()))
    bad = observe(SQUARE, lambda x: x * 3, SQUARE.cases[0], "cpu")
    with pytest.raises(CheckFailure):
        judge(SQUARE, Observation.loads(bad.dumps()))


def test_judge_rebuilds_inputs_so_mutating_them_gains_nothing():
    def cheat(x):
        x.zero_()          # the grader's oracle must not see this
        return torch.zeros_like(x)

    with pytest.raises(CheckFailure, match="is wrong"):
        check(SQUARE, cheat)


def test_objects_that_claim_equality_fail():
    class Liar:
        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailure, match="Liar"):
        check(SQUARE, lambda x: Liar())


def test_not_implemented_and_errors_are_reported():
    def todo(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="replace `raise NotImplementedError"):
        check(SQUARE, todo)
    with pytest.raises(CheckFailure, match="ZeroDivisionError"):
        check(SQUARE, lambda x: 1 / 0)


def test_wrong_number_of_outputs():
    two = Spec(**{**SQUARE.__dict__, "name": "demo.two", "outputs": ("a", "b"),
                  "oracle": lambda i: {"a": i["x"], "b": i["x"]}})
    with pytest.raises(CheckFailure, match=r"2 values \(a, b\) must be returned"):
        check(two, lambda x: x)


def helper(x):
    return x + 1000.0   # wrong on purpose; isolation must replace it


def uses_helper(x):
    return helper(x) - 1.0


def test_property_and_isolation():
    prop_calls = []
    spec = Spec(**{**SQUARE.__dict__, "name": "demo.iso",
                   "oracle": lambda i: {"y": i["x"] - 1.0},
                   "isolate": lambda: {"helper": lambda x: x},
                   "properties": (Property("called", lambda i, o, c: prop_calls.append(c.label), "test"),)})
    check(spec, uses_helper, quiet=True)
    assert prop_calls == ["five", "one"] * len(spec.devices())


def test_registry_finds_chapter_specs_and_explains_unknown_names():
    assert get_spec("ch01.forward").exercise == "forward"
    with pytest.raises(KeyError, match="has no exercise"):
        get_spec("ch01.nope")
    with pytest.raises(KeyError, match="no specs for chapter"):
        get_spec("ch99.x")


def _all_specs():
    import importlib
    import pkgutil

    import autograder.specs as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"autograder.specs.{info.name}")
        yield from getattr(module, "SPECS", {}).values()


@pytest.mark.parametrize("spec", list(_all_specs()), ids=lambda s: s.name)
def test_every_tolerance_is_justified(spec):
    tols = [spec.tol] if isinstance(spec.tol, Tol) else list(spec.tol.values())
    assert tols and all(t.why.strip() for t in tols)
    assert spec.cases and len({c.label for c in spec.cases}) == len(spec.cases)


def test_numpy_spec_rejects_torch_in_source():
    with pytest.raises(CheckFailure, match="uses torch"):
        check("ch01.sse_loss", _torch_loss)


def _torch_loss(y_pred, y):
    return float(torch.sum((torch.from_numpy(y_pred) - torch.from_numpy(y)) ** 2))


def test_numpy_float_is_a_number():
    check("ch01.sse_loss", _np_loss, quiet=True)


def _np_loss(y_pred, y):
    return np.sum((y_pred - y) ** 2)


def test_check_chapter_reports_every_exercise(capsys):
    ns = {"sse_loss": _np_loss, "forward": lambda x, w1, w2: (x, x, x)}
    from autograder import check_chapter
    verdicts = check_chapter("ch01", ns)
    out = capsys.readouterr().out
    assert verdicts["sse_loss"] == "" and "\u2713 sse_loss" in out
    assert "\u2717 forward" in out and "is wrong" in verdicts["forward"] or "shape" in verdicts["forward"]
    assert "backward is not defined" in verdicts["backward"]
    assert "1 of 4 exercises pass" in out

"""autograder.grader.spec: declared checks, run in separate steps (plan and inputs on the
grader side, observe on the learner side, judge on the grader side), with only plain
values crossing between them."""

import numpy as np
import pytest
import torch

from autograder import CheckFailure, check
from autograder.grader.compare import FLOAT64, Tol
from autograder.grader.spec import Case, Property, Spec, judge, make_inputs, plan
from autograder.grader.specs import get_spec
from autograder.learner import harness, values
from autograder.learner.observe import observe

# A harness registered under a demo chapter: how the learner's object is called.
DEMO_CALLS, demo = harness.calls()


@demo("square")
def _call_square(fn, i):
    return fn(i["x"])


@demo("iso")
def _call_iso(fn, i):
    return fn(i["x"])


import sys
import types

_module = types.ModuleType("autograder.learner.harness.demo")
_module.CALLS = DEMO_CALLS
sys.modules["autograder.learner.harness.demo"] = _module

SQUARE = Spec(
    name="demo.square",
    inputs=lambda rand, n: {"x": rand.randn(n, dtype=torch.float64)},
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
    planned = plan(SQUARE)[0]
    inputs = make_inputs(planned, salt=7)
    shipped = values.loads(values.dumps(inputs))
    obs = observe(SQUARE.harness_call(), square, shipped)
    judge(planned, inputs, values.loads(values.dumps(obs)))
    bad = observe(SQUARE.harness_call(), lambda x: x * 3, shipped)
    with pytest.raises(CheckFailure):
        judge(planned, inputs, values.loads(values.dumps(bad)))


def test_salt_draws_other_inputs():
    planned = plan(SQUARE)[0]
    assert not torch.equal(make_inputs(planned, 0)["x"], make_inputs(planned, 1)["x"])
    assert torch.equal(make_inputs(planned, 3)["x"], make_inputs(planned, 3)["x"])


def test_changing_an_input_in_place_fails_and_gains_nothing():
    def cheat(x):
        x.zero_()          # the grader's oracle never sees this
        return torch.zeros_like(x)

    with pytest.raises(CheckFailure, match="changed its input `x`"):
        check(SQUARE, cheat)


def test_an_input_the_exercise_may_change_is_allowed():
    spec = Spec(**{**SQUARE.__dict__, "may_modify": ("x",)})

    def square_in_place(x):
        y = x * x
        x.add_(1.0)
        return y

    check(spec, square_in_place, quiet=True)


def test_objects_that_claim_equality_fail():
    class Liar:
        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailure, match="Liar"):
        check(SQUARE, lambda x: Liar())


def test_not_implemented_and_errors_are_reported():
    def todo(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="not answered yet"):
        check(SQUARE, todo)
    with pytest.raises(CheckFailure, match="ZeroDivisionError"):
        check(SQUARE, lambda x: 1 / 0)


def test_wrong_number_of_outputs():
    two = Spec(**{**SQUARE.__dict__, "name": "demo.two", "harness": "demo.square", "outputs": ("a", "b"),
                  "oracle": lambda i: {"a": i["x"], "b": i["x"]}})
    with pytest.raises(CheckFailure, match=r"2 values \(a, b\) must be returned"):
        check(two, lambda x: x)


def helper(x):
    return x + 1000.0   # wrong on purpose; isolation must replace it


def uses_helper(x):
    return through_another_helper(x) - 1.0


def through_another_helper(x):
    return helper(x)    # stand-ins reach helpers of the learner's own too


def test_property_and_stand_ins(monkeypatch):
    prop_calls = []
    stand_ins = types.ModuleType("autograder.grader.isolation.demo")
    stand_ins.helper = lambda x: x
    monkeypatch.setitem(sys.modules, "autograder.grader.isolation.demo", stand_ins)
    spec = Spec(**{**SQUARE.__dict__, "name": "demo.iso",
                   "oracle": lambda i: {"y": i["x"] - 1.0}, "isolate": ("helper",),
                   "properties": (Property("called", lambda i, o, c: prop_calls.append(c.label), "test"),)})
    check(spec, uses_helper, quiet=True)
    assert prop_calls == ["five", "one"] * len(spec.devices())
    assert helper(0.0) == 1000.0, "the learner's namespace is restored afterwards"


def test_registry_finds_chapter_specs_and_explains_unknown_names():
    assert get_spec("ch01.forward").exercise == "forward"
    with pytest.raises(KeyError, match="has no exercise"):
        get_spec("ch01.nope")
    with pytest.raises(KeyError, match="no specs for chapter"):
        get_spec("ch99.x")


def _all_specs():
    """Every chapter's specs; a chapter whose module cannot be imported is one failing case."""
    import importlib
    import pkgutil

    import autograder.grader.specs as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
        try:
            module = importlib.import_module(f"autograder.grader.specs.{info.name}")
        except Exception as err:  # noqa: BLE001
            yield pytest.param(f"{info.name} cannot be imported: {type(err).__name__}: {err}",
                               id=f"{info.name}-broken")
            continue
        for spec in getattr(module, "SPECS", {}).values():
            yield pytest.param(spec, id=spec.name)


@pytest.mark.parametrize("spec", list(_all_specs()))
def test_every_tolerance_is_justified(spec):
    assert not isinstance(spec, str), spec
    tols = [spec.tol] if isinstance(spec.tol, Tol) else list(spec.tol.values())
    assert tols and all(t.why.strip() for t in tols)
    assert spec.cases and len({c.label for c in spec.cases}) == len(spec.cases)


@pytest.mark.parametrize("spec", list(_all_specs()))
def test_every_spec_has_a_learner_side_harness(spec):
    assert not isinstance(spec, str), spec
    spec.harness_call()


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

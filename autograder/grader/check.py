"""`check` and `check_chapter` in one process (JupyterLab, the test-suite): the same plan,
learner-side observation and judge as the grading pipeline, with the inputs and the
observation sent through `values.dumps/loads` exactly as they cross the sandbox."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from ..learner import values
from ..learner.errors import CheckFailure
from ..learner.observe import observe
from .spec import Spec, judge, make_inputs, plan
from .static import check_source


def get_spec(spec: Spec | str) -> Spec:
    if isinstance(spec, Spec):
        return spec
    from .specs import get_spec as lookup
    return lookup(spec)


def failures(spec: Spec | str, learner: Any, *, salt: int = 0) -> list[CheckFailure]:
    """Every failing (case, device) of one exercise, as CheckFailures ([] when it passes)."""
    spec = get_spec(spec)
    try:
        check_source(learner, spec.source_rules(), spec.exercise)
    except CheckFailure as err:
        return [err]
    call, stand_ins = spec.harness_call(), spec.isolation()
    found: list[CheckFailure] = []
    for planned in plan(spec):
        inputs = make_inputs(planned, salt)
        shipped = values.loads(values.dumps(inputs))
        observation = observe(call, learner, shipped, may_modify=spec.may_modify, isolate=stand_ins)
        try:
            judge(planned, inputs, values.loads(values.dumps(observation)))
        except CheckFailure as err:
            found.append(err)
    return found


def check(spec: Spec | str, learner: Any, *, quiet: bool = False, salt: int = 0) -> None:
    """Run every case of a spec on every device; raise CheckFailure on the first failure.

    This is what a test cell calls: `check("ch01.forward", forward)`.
    """
    spec = get_spec(spec)
    found = failures(spec, learner, salt=salt)
    if found:
        more = f"\n({len(found) - 1} more failing case(s) not shown)" if len(found) > 1 else ""
        raise CheckFailure(f"{found[0]}{more}") from None
    if not quiet:
        devices = ", ".join(spec.devices())
        print(f"\u2713 {spec.exercise}: {len(spec.cases)} case(s) passed on {devices}")


def check_chapter(chapter: str, namespace: Mapping[str, Any]) -> dict[str, str]:
    """Check every exercise of a chapter against the learner's definitions (found by
    exercise name in `namespace`, e.g. `globals()`) and print one verdict per exercise.

    The one-line self-check of a notebook: `check_chapter("ch01", globals())`.
    Returns {exercise: "" if it passes, else the failure message}.
    """
    specs = importlib.import_module(f"{__package__}.specs.{chapter}").SPECS
    verdicts: dict[str, str] = {}
    for name, spec in specs.items():
        if name not in namespace:
            verdicts[name] = f"{name} is not defined: run its cell first"
        else:
            try:
                check(spec, namespace[name], quiet=True)
                verdicts[name] = ""
            except CheckFailure as err:
                verdicts[name] = str(err)
        mark = "\u2713" if not verdicts[name] else "\u2717"
        print(f"{mark} {name}" + (f"\n    " + verdicts[name].replace("\n", "\n    ") if verdicts[name] else ""))
    passed = sum(not v for v in verdicts.values())
    print(f"{passed} of {len(verdicts)} exercises pass")
    return verdicts

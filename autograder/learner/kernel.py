"""The grading kernel's side of out-of-process grading.

While the learner's notebook runs, each test cell's `check(...)` only records which object
it graded (`register`). Then the grader runs one harvest cell per exercise, in an order
it chose: `harvest` reads the job the grader wrote (the object's name, the harness, and
the inputs of every planned observation, already drawn: the kernel never sees a seed or
a salt), calls the object through its harness, and writes one observation file per planned
id into the outbox. Each is captured and written on its own, so one value that cannot be
recorded costs only its own observation. After each harvest cell the grader takes the
files out of the kernel's reach before anything else runs. Stand-ins for other exercises
arrive in the harvest cell's own text, never in a job file the kernel could read earlier.

Nothing here can judge: the kernel holds no oracle and sends only plain values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import harness as harness_registry
from . import values
from .observe import error_text, observe

_registered: dict[str, Any] = {}


def register(spec: str, obj: Any) -> None:
    """What a test cell's `check(spec, obj)` does in a grading kernel."""
    _registered[str(spec)] = obj
    print(f"{spec.split('.', 1)[-1]}: recorded; the grader judges it after the run")


def _canary(*args, **kwargs):
    """The grader's planted wrong answer: its observations must fail."""
    return None


def _stand_ins(source: str, names: list[str]) -> dict:
    if not source:
        return {}
    namespace: dict = {"__name__": "grader_stand_ins"}
    exec(compile(source, "<grader stand-ins>", "exec"), namespace)  # noqa: S102 - the grader's own code
    return {name: namespace[name] for name in names}


def _write(outbox: Path, obs_id: str, observation: Any) -> None:
    try:
        blob = values.dumps(observation)
    except Exception as err:  # noqa: BLE001 - e.g. a tensor dtype that cannot be sent
        blob = values.dumps({"result": None, "changed": {}, "numerics": {},
                             "error": f"the result could not be recorded ({error_text(err)})"})
    tmp = outbox / f".{obs_id}.tmp"
    tmp.write_bytes(blob)
    os.replace(tmp, outbox / f"{obs_id}.obs")


def harvest(job_file: str, outbox: str, namespace: dict, *, canary: bool = False,
            stand_ins: str = "") -> int:
    """Observe one exercise for every planned id in the job; returns how many were written."""
    job = values.load(job_file)
    out = Path(outbox)
    spec = job["spec"]
    obj = _canary if canary else _registered.get(spec, namespace.get(job["object"]))
    call = harness_registry.get(job["harness"])
    isolate = _stand_ins(stand_ins, list(job.get("isolate", [])))
    written = 0
    for item in job["items"]:
        if obj is None:
            observation = {"result": None, "changed": {}, "numerics": {},
                           "error": f"NameError: {job['object']} is not defined (did its cell run?)"}
        else:
            try:
                observation = observe(call, obj, item["inputs"], may_modify=tuple(job.get("may_modify", ())),
                                      isolate=isolate)
            except BaseException as err:  # noqa: BLE001 - recorded, never fatal to the harvest
                if isinstance(err, KeyboardInterrupt):
                    raise
                observation = {"result": None, "changed": {}, "numerics": {},
                               "error": f"the grader could not call your code ({error_text(err)})"}
        _write(out, item["id"], observation)
        written += 1
    return written

"""Grading one notebook inside the worker process (worker.py): jobs, sandboxed run,
harvest, accounting, judge, verdicts in the test cells. See worker.py for the steps."""

from __future__ import annotations

import ast
import asyncio
import importlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..learner import values
from ..learner.errors import CheckFailure
from . import sandbox
from .spec import Planned, Spec, judge, make_inputs, plan

CANARY = "__canary__"
GRADER_NOTE = "graded by the course's grader outside the kernel"


@dataclass
class ExerciseJob:
    exercise: str
    spec: Spec
    planned: list[Planned]
    inputs: dict[str, dict] = field(default_factory=dict)   # id -> the grader's own inputs
    canary: bool = False

    @property
    def ids(self) -> set[str]:
        return {p.id for p in self.planned}


# ----------------------------------------------------------------------------- 2. jobs
def harvest_order(specs: dict[str, Spec], exercises: list[str]) -> list[str]:
    """Exercises without stand-ins first (notebook order), then each exercise after every
    exercise its stand-ins replace: stand-ins reach the kernel only after the observations
    they could help forge were taken away."""
    done: list[str] = []
    pending = [e for e in exercises if e in specs]
    while pending:
        ready = [e for e in pending if all(d in done or d not in pending for d in specs[e].isolate)]
        if not ready:
            raise ValueError(f"stand-ins depend on each other in a circle: {pending}")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def write_jobs(chapter: str, exercises: list[str], salt: int, jobs_dir: Path) -> list[ExerciseJob]:
    specs = importlib.import_module(f"{__package__}.specs.{chapter}").SPECS
    order = harvest_order(specs, exercises)
    first = specs[order[0]]
    made = [ExerciseJob(CANARY, first, [Planned(f"{CANARY}.{k}", first, p.case, p.device)
                                        for k, p in enumerate(plan(first))], canary=True)]
    made += [ExerciseJob(e, specs[e], plan(specs[e])) for e in order]
    for job in made:
        items = []
        for p in job.planned:
            job.inputs[p.id] = make_inputs(p, salt)
            items.append({"id": p.id, "inputs": job.inputs[p.id]})
        spec = job.spec
        # No stand-ins in a job file: the kernel can read every job from the start, and a
        # stand-in must reach it only in its exercise's harvest cell (see _harvest_cell).
        payload = {"spec": spec.name, "object": spec.exercise, "harness": spec.harness or spec.name,
                   "may_modify": list(spec.may_modify), "isolate": list(spec.isolate), "items": items}
        (jobs_dir / f"{job.exercise}.job").write_bytes(values.dumps(payload))
    return made


# ----------------------------------------------------------------------------- 3. run
class Outbox:
    """Observation files leave the kernel's reach after each harvest cell; anything that
    is not exactly what the grader planned is an anomaly of the exercise it claims."""

    def __init__(self, folder: Path, jobs: list[ExerciseJob]):
        self.folder = folder
        self.jobs = {j.exercise: j for j in jobs}
        self.observations: dict[str, bytes] = {}
        self.anomalies: dict[str, list[str]] = {}

    def _owner(self, obs_id: str) -> str:
        return obs_id.split(".", 1)[0] if obs_id.split(".", 1)[0] in self.jobs else ""

    def collect(self, exercise: str | None) -> None:
        expected = self.jobs[exercise].ids if exercise else set()
        for path in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            name = path.name
            obs_id = name[:-4] if name.endswith(".obs") else name
            try:
                ok = path.is_file() and not path.is_symlink() and \
                    path.stat().st_size <= values.MAX_BLOB_BYTES
                data = path.read_bytes() if ok else b""
            except OSError:
                ok, data = False, b""
            try:
                path.unlink()
            except OSError:
                pass
            if name.startswith(".") and name.endswith(".tmp"):
                continue                      # a write the kernel never finished
            owner = self._owner(obs_id)
            if obs_id not in expected or obs_id in self.observations or not ok:
                why = ("an observation the grader did not plan" if obs_id not in expected else
                       "a second observation for the same input" if obs_id in self.observations
                       else "an unreadable observation file")
                self.anomalies.setdefault(owner, []).append(f"{why} ({name[:60]!r})")
                continue
            self.observations[obs_id] = data


def _harvest_cell(job: ExerciseJob, work: Path) -> nbformat.NotebookNode:
    stand_ins = "" if job.canary else job.spec.isolation_source()
    cell = nbformat.v4.new_code_cell(
        "import autograder.learner.kernel as _grader_kernel\n"
        f"_grader_kernel.harvest({str(work / 'jobs' / (job.exercise + '.job'))!r}, "
        f"{str(work / 'outbox')!r}, globals(), canary={job.canary}, stand_ins={stand_ins!r})")
    cell.metadata["grader"] = job.exercise
    return cell


class SandboxRefused(RuntimeError):
    """The kernel's probe found the sandbox weaker than it must be: nothing is graded."""


@dataclass
class RunReport:
    timings: dict[str, float] = field(default_factory=dict)   # seconds per phase, for bench/
    problems: list[str] = field(default_factory=list)
    skipped: set[int] = field(default_factory=set)      # cells left out after killing the kernel
    harvested: bool = False


async def _run(nb, work: Path, jobs: list[ExerciseJob], outbox: Outbox, limits: sandbox.Limits,
               policy: sandbox.SandboxPolicy) -> RunReport:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    report = RunReport()
    deadline = time.monotonic() + limits.total_seconds
    learner_cells = len(nb.cells)
    for attempt in range(3):
        km = sandbox_kernel_manager(work, limits, policy)
        client = LimitedClient(nb, km, limits, resources={"metadata": {"path": str(work / "run")}})
        failed_at = None
        started = False
        try:
            t0 = time.monotonic()
            async with client.async_setup_kernel():
                await _probe(client, nb, work, policy)
                report.timings["kernel start"] = round(time.monotonic() - t0, 3)
                t0 = time.monotonic()
                started = True
                overtime = False
                for index in range(learner_cells):
                    cell = nb.cells[index]
                    if cell.cell_type != "code" or index in report.skipped:
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 1:
                        # Over budget: only the graded cells still run (set-up, answers, tests),
                        # each with a short limit; demos and extra cells are left out.
                        if not overtime:
                            overtime = True
                            report.problems.append(
                                f"the notebook used up its time budget of {limits.total_seconds} s; "
                                "after that only set-up, answer and test cells were run")
                        if not cell.metadata.get("nbgrader"):
                            cell.outputs = [_note("[not run: the notebook's time budget was spent]")]
                            continue
                        client.timeout = max(5, limits.cell_seconds // 4)
                    else:
                        client.timeout = int(min(limits.cell_seconds, remaining))
                    try:
                        await client.async_execute_cell(cell, index)
                    except (DeadKernelError, CellTimeoutError) as err:
                        failed_at = (index, err)
                        break
                if failed_at is None:
                    client.timeout = limits.harvest_seconds
                    report.timings["notebook"] = round(time.monotonic() - t0, 3)
                    t0 = time.monotonic()
                    outbox.collect(None)            # anything written before the harvest
                    for job in jobs:
                        cell = _harvest_cell(job, work)
                        nb.cells.append(cell)
                        try:
                            await client.async_execute_cell(cell, len(nb.cells) - 1)
                        finally:
                            outbox.collect(job.exercise)
                        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
                        if error is not None:
                            report.problems.append(
                                f"recording {job.exercise} failed ({error.get('ename')}: "
                                f"{str(error.get('evalue', ''))[:200]})")
                    report.harvested = True
                    report.timings["harvest"] = round(time.monotonic() - t0, 3)
        except SandboxRefused:
            raise
        except (DeadKernelError, CellTimeoutError, RuntimeError) as err:
            if not started:
                raise SandboxRefused(f"the sandboxed kernel did not start ({type(err).__name__}: "
                                     f"{str(err)[:300]})") from None
            failed_at = failed_at or (None, err)
        finally:
            del nb.cells[learner_cells:]
            sandbox_shutdown(km)
        if client.stopped:
            cells = ", ".join(str(i + 1) for i in client.stopped if i < learner_cells)
            if cells:
                report.problems.append(f"cell(s) {cells} ran longer than the time limit and were stopped")
        if failed_at is None:
            return report
        index, err = failed_at
        if index is None:
            report.problems.append(f"the kernel died while the grader recorded the results "
                                   f"({type(err).__name__}); exercises not recorded score zero")
            return report
        report.skipped.add(index)
        what = ("ignored the interrupt after its time limit" if isinstance(err, CellTimeoutError)
                else "stopped the kernel (a crash, os._exit, or running out of memory)")
        report.problems.append(f"cell {index + 1} {what}; the notebook was run again without it")
        for cell in nb.cells[:learner_cells]:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.cells[index].outputs = [_note(f"[not run: this cell {what}]")]
        if time.monotonic() > deadline:
            break
    report.problems.append("the notebook could not be run to the end; exercises not recorded score zero")
    return report


async def _probe(client, nb, work: Path, policy: sandbox.SandboxPolicy) -> None:
    """The kernel's first cell, before any learner code: who it runs as, what it sees.
    Grading refuses (fails closed) unless the sandbox has every property it must have."""
    import json

    cell = nbformat.v4.new_code_cell(sandbox.probe_code(policy))
    cell.metadata["grader"] = "probe"
    nb.cells.append(cell)
    try:
        await client.async_execute_cell(cell, len(nb.cells) - 1)
    finally:
        nb.cells.pop()
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    lines = [ln[len(sandbox.MARKER):] for ln in text.splitlines() if ln.startswith(sandbox.MARKER)]
    try:
        report = json.loads(lines[-1])
    except (ValueError, IndexError):
        raise SandboxRefused("the sandbox's probe reported nothing") from None
    problems = sandbox.probe_problems(report, policy, work)
    if problems:
        raise SandboxRefused("; ".join(problems))


def sandbox_kernel_manager(work: Path, limits: sandbox.Limits, policy: sandbox.SandboxPolicy):
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    argv = sandbox.kernel_argv(work, limits, policy)

    class SandboxedKernelManager(AsyncKernelManager):
        def write_connection_file(self, **kwargs):
            super().write_connection_file(**kwargs)
            if policy.host_root:     # the kernel runs as uid 65534 and must read it
                os.chown(self.connection_file, sandbox.NOBODY, sandbox.NOBODY)

        @property
        def kernel_spec(self):
            # "message": the client asks the kernel to interrupt itself; a signal would
            # reach the launcher, whose death takes the sandbox with it.
            return KernelSpec(argv=argv, display_name="sandboxed course kernel",
                              language="python", interrupt_mode="message")

    sockets = str(work / "run" / ".k")
    if len(sockets) > 90:   # Unix socket paths are limited to ~107 bytes, with a "-N" suffix
        raise ValueError(f"the kernel's work folder path is too long for its sockets: {work}")
    km = SandboxedKernelManager(transport="ipc", ip=sockets)
    km.connection_file = str(work / "run" / ".kernel.json")
    return km


def sandbox_shutdown(km) -> None:
    from jupyter_core.utils import run_sync
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - a kernel that is already gone is fine
        pass


def _note(text: str):
    return nbformat.v4.new_output("stream", name="stderr", text=text + "\n")


def LimitedClient(nb, km, limits: sandbox.Limits, **kw):
    """nbclient with a per-cell output budget and interrupt-then-give-up on time limits."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    class _Client(NotebookClient):
        def __init__(self):
            super().__init__(nb, km=km, timeout=limits.cell_seconds, allow_errors=True,
                             interrupt_on_timeout=True, record_timing=False, **kw)
            self._spent: dict[int, int] = {}
            self._timed_out: set[int] = set()
            self.stopped: list[int] = []          # cells interrupted at their time limit

        async def _async_handle_timeout(self, timeout, cell=None):
            index = next((i for i, c in enumerate(self.nb.cells) if c is cell), -1)
            if index in self._timed_out:
                raise CellTimeoutError.error_from_timeout_and_cell(
                    "Cell ignored the interrupt after its time limit", timeout, cell)
            self._timed_out.add(index)
            self.stopped.append(index)
            if cell is not None:
                cell.setdefault("outputs", []).append(
                    _note(f"[stopped: this cell ran longer than the time limit of {timeout} s]"))
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            if cell_index < len(self.nb.cells) and self.nb.cells[cell_index].metadata.get("grader"):
                return super().output(outs, msg, display_id, cell_index)
            size = len(str(msg.get("content", "")))
            spent = self._spent.get(cell_index, 0)
            self._spent[cell_index] = spent + size
            if spent + size > limits.output_bytes:
                if spent <= limits.output_bytes:
                    outs.append(_note(f"[output truncated: this cell printed more than "
                                      f"{limits.output_bytes // 1000} kB]"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    return _Client()


# ----------------------------------------------------------------------------- 4. judge
def _cell_source(nb, grade_id: str) -> str:
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return str(cell.get("source", ""))
    return ""


def static_failures(spec: Spec, source_text: str) -> str:
    """The spec's source rules on the learner's answer cell text (never on the kernel)."""
    rules = spec.source_rules()
    if not rules:
        return ""
    try:
        tree = ast.parse(source_text)
    except SyntaxError as err:
        return f"{spec.exercise}: the answer cell does not parse: {err}"
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            and n.name == spec.exercise]
    target = defs[0] if defs else tree
    found = [f"{v}" + (f" ({r.why})" if r.why else "") for r in rules for v in r.violations(target)]
    return f"{spec.exercise}: the code breaks this exercise's rules\n" + "\n".join(found) if found else ""


def judge_job(job: ExerciseJob, outbox: Outbox) -> str:
    """'' when every planned observation is present and correct, else the first failure."""
    failures: list[str] = []
    for p in job.planned:
        blob = outbox.observations.get(p.id)
        if blob is None:
            failures.append(f"{job.spec.exercise}: the grader could not observe your answer on "
                            f"case '{p.case.label}' ({p.device}): is it defined, and did the "
                            "notebook run to the end?")
            continue
        try:
            observation = values.loads(blob)
        except ValueError as err:
            failures.append(f"{job.spec.exercise}: what your code returned could not be read ({err})")
            continue
        try:
            judge(p, job.inputs[p.id], observation)
        except CheckFailure as err:
            failures.append(str(err))
        except Exception as err:  # noqa: BLE001 - a judge crash never passes
            failures.append(f"{job.spec.exercise}: the grader could not judge this answer "
                            f"({type(err).__name__}: {str(err)[:200]})")
    if not failures:
        return ""
    more = f"\n({len(failures) - 1} more failing case(s) not shown)" if len(failures) > 1 else ""
    return failures[0] + more


def in_kernel_result(cell) -> tuple[bool | None, str]:
    """Whether the test cell ran without an error in the kernel, and the error if any."""
    if cell is None or (not cell.get("outputs") and cell.get("execution_count") is None):
        return None, ""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return False, f"{out.get('ename')}: {str(out.get('evalue', ''))[:300]}"
    return True, ""


def _cap(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "\n[message shortened]"


def grade_notebook(job: dict, work: Path, host_root: bool, limits: sandbox.Limits) -> dict:
    """The worker's job: {"notebook": path of the assembled notebook, "chapter", "salt",
    "points": {exercise: points}, "executed": where to write the executed notebook}."""
    started = time.monotonic()
    chapter, salt = job["chapter"], int(job["salt"])
    points: dict[str, float] = {k: float(v) for k, v in job["points"].items()}
    nb = nbformat.read(job["notebook"], as_version=4)
    policy = sandbox.SandboxPolicy(host_root=host_root, data=Path(job["data"]) if job.get("data") else None)
    sandbox.prepare_work(work, host_root)
    missing = sandbox.missing_tools()
    if missing:
        return {"fatal": f"grading needs {', '.join(missing)} for its sandbox "
                         "(apt-get install bubblewrap util-linux); nothing was graded"}
    t0 = time.monotonic()
    jobs = write_jobs(chapter.split("_")[0], list(points), salt, work / "jobs")
    jobs_seconds = round(time.monotonic() - t0, 3)
    outbox = Outbox(work / "outbox", jobs)
    try:
        report = asyncio.run(_run(nb, work, jobs, outbox, limits, policy))
    except SandboxRefused as err:
        return {"fatal": f"the sandbox cannot be set up safely here, so nothing was graded: {err}"}
    flags: list[str] = []
    judged_from = time.monotonic()
    # the canary: a known wrong answer recorded through the same path must fail
    canary = jobs[0]
    canary_present = all(p.id in outbox.observations for p in canary.planned)
    if report.harvested and not canary_present:
        flags.append("the grader's canary observations are missing: the recording was tampered with")
    canary_passed = canary_present and not judge_job(canary, outbox)
    if canary_passed:
        flags.append("the grader's canary (a known wrong answer) passed: the recording was "
                     "tampered with; every exercise is set to zero")
    exercises = {}
    by_name = {j.exercise: j for j in jobs[1:]}
    for exercise, pts in points.items():
        cell = next((c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                     == f"test_{exercise}"), None)
        passed_in_kernel, kernel_error = in_kernel_result(cell)
        ex_job = by_name.get(exercise)
        if ex_job is None:
            message = f"{exercise}: no check is declared for this exercise"
        else:
            message = static_failures(ex_job.spec, _cell_source(nb, exercise)) or judge_job(ex_job, outbox)
        anomalies = outbox.anomalies.get(exercise, [])
        if anomalies:
            flags.append(f"{exercise}: {'; '.join(anomalies[:3])}: scored zero")
            message = message or f"{exercise}: the recording of your results was tampered with"
        if canary_passed or (report.harvested and not canary_present):
            message = message or "the recording of your results was tampered with"
        score = pts if not message else 0.0
        if score and passed_in_kernel is False:
            flags.append(f"{exercise}: the grader's verdict is pass but the test cell failed in the "
                         f"kernel ({kernel_error}): look at that cell's output")
        exercises[exercise] = {"points": pts, "score": score,
                               "message": _cap(message, limits.message_chars),
                               "in_kernel_passed": passed_in_kernel}
        if cell is not None:
            _put_verdict(cell, message, limits)
    if outbox.anomalies.get(""):
        flags.append("files the grader did not plan appeared among the observations: "
                     + "; ".join(outbox.anomalies[""][:3]))
    Path(job["executed"]).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, job["executed"])
    return {"exercises": exercises, "problems": report.problems, "flags": flags,
            "seconds": round(time.monotonic() - started, 2),
            "timings": {"jobs": jobs_seconds, **report.timings,
                        "judge": round(time.monotonic() - judged_from, 3)}}


def _put_verdict(cell, message: str, limits: sandbox.Limits) -> None:
    """The test cell's outputs say what the grader decided: nbgrader scores a test cell by
    whether it shows an error, so an error appears exactly when the verdict is fail."""
    kept = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"]
    if message:
        kept.append(nbformat.v4.new_output("error", ename="CheckFailure",
                                           evalue=_cap(message, limits.message_chars), traceback=[]))
    else:
        kept.append(nbformat.v4.new_output("stream", name="stdout", text=f"\u2713 {GRADER_NOTE}\n"))
    cell.outputs = kept

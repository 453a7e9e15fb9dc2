"""Grade submissions: each in its own throwaway copy and sandboxed kernel, with every
verdict computed in the grader's own process.

One submission, as named steps (each a function below):
1. `load`      read the file; malformed JSON, a truncated file or another chapter's
               notebook is reported and graded as what it is (zero), never a crash;
2. `assemble`  rebuild the notebook from the instructor's source: the learner's solution
               cells (first copy of a duplicated grade id) and extra helper cells, and the
               source's own test, locked and prose cells (deleted or edited tests restored);
3. `execute`   run it in the sandbox (sandbox.py) with per-cell time, memory and output
               limits; then the harvest cell writes plain observations of each exercise on
               inputs salted by the grader (harvest.py);
4. `judge`     in this process: static rules on the learner's source text, then each
               observation against the spec's oracle; a canary (a known wrong answer that
               went through the same harvest) must fail, or the submission is flagged;
5. `verdict`   points per exercise (all or nothing: fails closed), the in-kernel test
               result beside it, and flags where the two disagree.
The result is one JSON file per submission, written atomically; a batch skips
submissions whose result already exists for the same file contents, so an interrupted
run resumes without grading anything twice.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import sandbox, tamper
from .compare import CheckFailure
from .course import REPO, SOLUTIONS
from .harvest import CANARY
from .spec import Observation, judge
from .static import LOOP_NODES  # noqa: F401  (re-exported for rule authors)

MAX_OBSERVATION_BYTES = 50 * 1024 ** 2


@dataclass
class ExerciseResult:
    exercise: str
    points: float
    score: float = 0.0
    message: str = ""                  # the grader's failure message ("" when it passes)
    in_kernel_passed: bool | None = None


@dataclass
class Result:
    student: str
    chapter: str
    sha256: str
    status: str = "graded"             # graded | malformed | wrong-chapter | error
    exercises: dict[str, ExerciseResult] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # reported to learner and instructor
    flags: list[str] = field(default_factory=list)      # for the instructor's attention
    salt: int = 0
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Result":
        raw = json.loads(text)
        raw["exercises"] = {k: ExerciseResult(**v) for k, v in raw["exercises"].items()}
        return cls(**raw)


# ----------------------------------------------------------------------------- 1. load
def source_notebook(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(str(SOLUTIONS / chapter / f"{chapter}.ipynb"), as_version=4)


def _grade_ids(nb) -> list[str]:
    return [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")]


def exercises_of(source) -> dict[str, float]:
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and meta["grade_id"].startswith("test_"):
            out[meta["grade_id"][5:]] = float(meta["points"])
    return out


def load(data: bytes, chapter: str, source) -> tuple[nbformat.NotebookNode | None, str, str]:
    """(notebook, status, problem). The notebook is None when it cannot be graded."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        return None, "malformed", "the file is not text (not a notebook)"
    except Exception as err:  # noqa: BLE001 - nbformat raises several kinds
        return None, "malformed", f"the notebook cannot be read ({type(err).__name__}: " \
                                  f"{' '.join(str(err).split())[:200]}); was it truncated?"
    if not isinstance(nb.get("cells"), list):
        return None, "malformed", "the notebook has no list of cells"
    mine = {e for e in exercises_of(source)}
    theirs = {gid for gid in _grade_ids(nb)}
    if mine and not (mine & theirs):
        other = _which_chapter(theirs)
        hint = f" it looks like {other}" if other else ""
        return None, "wrong-chapter", f"this notebook has none of {chapter}'s exercises;{hint}"
    return nb, "graded", ""


def _which_chapter(grade_ids: set[str]) -> str:
    from .course import chapters
    for ch in chapters():
        if set(exercises_of(source_notebook(ch))) & grade_ids:
            return ch
    return ""


# ----------------------------------------------------------------------------- 2. assemble
def assemble(learner, source) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to run: the source's cells, with each solution cell taken from the
    learner (its first copy) preceded by the learner's own extra code cells."""
    problems: list[str] = []
    source_ids = {c.get("id") for c in source.cells}
    solutions: dict[str, object] = {}
    extras_before: dict[str, list] = {}
    pending: list = []
    for cell in learner.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if cell.get("cell_type") == "code" and meta.get("solution") and gid:
            if gid in solutions:
                problems.append(f"grade id {gid!r} appears more than once: the first copy is graded")
                continue
            solutions[gid] = cell
            extras_before[gid], pending = pending, []
        elif cell.get("cell_type") == "code" and not meta and cell.get("id") not in source_ids:
            pending.append(cell)
    out = nbformat.v4.new_notebook(metadata=source.metadata)
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if meta.get("solution") and gid:
            for extra in extras_before.get(gid, []):
                out.cells.append(nbformat.v4.new_code_cell(str(extra.get("source", "")),
                                                           metadata={"learner": True}))
            if gid in solutions:
                mine = nbformat.v4.new_code_cell(str(solutions[gid].get("source", "")))
                mine.metadata["nbgrader"] = dict(meta)
                mine.metadata["learner"] = True
                out.cells.append(mine)
            else:
                problems.append(f"the answer cell {gid!r} is missing: graded as unanswered")
                stub = nbformat.v4.new_code_cell(
                    "raise NotImplementedError('answer cell missing from the submission')")
                stub.metadata["nbgrader"] = dict(meta)
                out.cells.append(stub)
        else:
            out.cells.append(nbformat.from_dict(cell))
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    for gid in (g for g in _grade_ids(learner) if g.startswith("test_")):
        pass  # test cells always come from the source: deleted or edited ones are restored
    missing_tests = [e for e in exercises_of(source) if f"test_{e}" not in _grade_ids(learner)]
    if missing_tests:
        problems.append("test cells were deleted and have been restored: " + ", ".join(missing_tests))
    return out, problems


# ----------------------------------------------------------------------------- 3. execute
def execute(nb, chapter: str, work: Path, salt: int, limits: sandbox.Limits,
            policy: sandbox.SandboxPolicy | None) -> tuple[Path, list[str]]:
    """Run the assembled notebook and the harvest cell in the sandbox; returns the folder of
    observations and problems met (timeouts, a dead kernel)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    problems = []
    obs_dir = work / "observations"
    harvest = nbformat.v4.new_code_cell(
        "import autograder.harvest as _grader_harvest\n"
        f"_grader_harvest.harvest({chapter.split('_')[0]!r}, {salt}, {str(obs_dir)!r}, globals())")
    harvest.metadata["grader"] = "harvest"
    nb.cells.append(harvest)
    km = sandbox.kernel_manager(work, limits, policy)
    client = sandbox.LimitedClient(nb, km, limits, resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except DeadKernelError:
        problems.append("the kernel died (a crash, os._exit or running out of memory); "
                        "cells after that point were not run")
    except CellTimeoutError:
        problems.append("a cell ignored the interrupt after its time limit; the notebook was "
                        "stopped there and later cells were not run")
    except Exception as err:  # noqa: BLE001 - any client failure is recorded, not raised
        problems.append(f"running the notebook failed: {type(err).__name__}: {err}")
    finally:
        sandbox.shutdown(km)
    if client.timed_out:
        problems.append(f"{len(client.timed_out)} cell(s) ran longer than the time limit of "
                        f"{limits.cell_seconds} s and were stopped")
    for out in nb.cells[-1].get("outputs", []):
        if out.get("output_type") == "error":
            problems.append(f"the grader could not record your results ({out.get('ename')}: "
                            f"{out.get('evalue', '')[:200]}); exercises it could not record score zero")
            break
    nb.cells.pop()  # the harvest cell is not part of the learner's notebook
    return obs_dir, problems


# ----------------------------------------------------------------------------- 4. judge
def _static_failures(spec, source_text: str, obj_name: str) -> str:
    """Apply the spec's source rules to the learner's cell text (never to the kernel)."""
    rules = spec.source_rules()
    if not rules:
        return ""
    try:
        tree = ast.parse(source_text)
    except SyntaxError as err:
        return f"{spec.exercise}: the answer cell does not parse: {err}"
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            and n.name == obj_name]
    target = defs[0] if defs else tree
    found = [f"{v}" + (f" ({r.why})" if r.why else "") for r in rules for v in r.violations(target)]
    return f"{spec.exercise}: the code breaks this exercise's rules\n" + "\n".join(found) if found else ""


def _read_observations(obs_dir: Path) -> dict[str, list[Observation]]:
    found: dict[str, list[Observation]] = {}
    if not obs_dir.is_dir():
        return found
    for path in sorted(obs_dir.glob("*.obs")):
        if path.is_symlink() or path.stat().st_size > MAX_OBSERVATION_BYTES:
            continue
        name = path.name.split(".")[0]
        try:
            found.setdefault(name, []).append(Observation.loads(path.read_bytes()))
        except Exception:  # noqa: BLE001 - a damaged observation counts as missing
            continue
    return found


def judge_exercises(chapter: str, nb, obs_dir: Path, points: dict[str, float],
                    salt: int) -> tuple[dict[str, ExerciseResult], list[str]]:
    import importlib

    from .spec import observe_all  # noqa: F401  (the same cases the harvest ran)

    specs = importlib.import_module(f"autograder.specs.{chapter.split('_')[0]}").SPECS
    observed = _read_observations(obs_dir)
    flags: list[str] = []
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    results: dict[str, ExerciseResult] = {}
    for exercise, pts in points.items():
        res = ExerciseResult(exercise, pts)
        spec = specs.get(exercise)
        obs = [o for o in observed.get(exercise, []) if spec and o.spec == spec.name and o.salt == salt]
        expected = len(spec.cases) * len(spec.devices()) if spec else 0
        if spec is None:
            res.message = f"no spec for {exercise}"
        elif len(obs) < expected:
            res.message = (f"{exercise}: the grader could not observe your answer "
                           f"({len(obs)} of {expected} cases): is it defined, and did the "
                           "notebook run to the end?")
        else:
            res.message = _static_failures(spec, str(cells.get(exercise, {}).get("source", "")), exercise)
            if not res.message:
                for o in obs:
                    try:
                        judge(spec, o)
                    except CheckFailure as err:
                        res.message = str(err)
                        break
                    except Exception as err:  # noqa: BLE001 - a judge crash never passes
                        res.message = f"{exercise}: the grader could not judge this answer ({type(err).__name__})"
                        break
        res.score = pts if not res.message else 0.0
        res.in_kernel_passed = _in_kernel_passed(cells.get(f"test_{exercise}"))
        if res.in_kernel_passed and res.score == 0:
            first_line = res.message.strip().splitlines()[0][:160] if res.message.strip() else ""
            flags.append(f"{exercise}: the in-kernel test passed but the grader's verdict is fail "
                         f"(tampering with the kernel, or an environment difference): {first_line}")
        results[exercise] = res
    canary = observed.get(CANARY, [])
    first = next(iter(specs.values()))
    for o in canary:
        try:
            judge(first, Observation(first.name, o.case, o.device, o.outputs, o.error, o.salt))
            flags.append("the grader's canary (a known wrong answer) passed: the harvest was "
                         "tampered with; every exercise is set to zero")
            for r in results.values():
                r.score, r.message = 0.0, r.message or "harvest tampered with"
            break
        except Exception:  # noqa: BLE001 - the canary must fail
            continue
    return results, flags


def _in_kernel_passed(cell) -> bool | None:
    if cell is None:
        return None
    if not cell.get("outputs") and cell.get("execution_count") is None:
        return None
    return not any(o.get("output_type") == "error" for o in cell.get("outputs", []))


# ----------------------------------------------------------------------------- one submission
def grade_one(path: Path, chapter: str, student: str, out_dir: Path, *,
              limits: sandbox.Limits = sandbox.Limits(),
              policy: sandbox.SandboxPolicy | None = sandbox.SandboxPolicy(),
              salt: int | None = None, work_root: Path | None = None) -> Result:
    """Grade one submission file; never raises for anything the submission contains."""
    start = time.time()
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    result = Result(student, chapter, digest, salt=secrets.randbelow(10 ** 6) if salt is None else salt)
    source = source_notebook(chapter)
    points = exercises_of(source)
    result.exercises = {e: ExerciseResult(e, p) for e, p in points.items()}
    nb, status, problem = load(data, chapter, source)
    if nb is None:
        result.status, result.problems = status, [problem]
        for r in result.exercises.values():
            r.message = problem
    else:
        # A fresh, short-named folder (system temp by default): the kernel's Unix sockets
        # live in it, and a socket path may not exceed about 100 characters.
        work = Path(tempfile.mkdtemp(prefix="grade-" + re.sub(r"[^\w.-]", "_", student[:16]) + "-", dir=work_root))
        try:
            graded_nb, problems = assemble(nb, source)
            obs_dir, run_problems = execute(graded_nb, chapter, work, result.salt, limits, policy)
            result.problems = problems + run_problems
            result.exercises, result.flags = judge_exercises(chapter, graded_nb, obs_dir, points, result.salt)
            reasons = tamper.review([c.source for c in graded_nb.cells if c.metadata.get("learner")])
            if reasons:
                result.flags.append("learner code reaches outside its exercises (grading is unaffected; "
                                    "worth a look): " + "; ".join(reasons))
            executed = out_dir / "executed" / f"{student}.ipynb"
            executed.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(graded_nb, str(executed))
        except Exception as err:  # noqa: BLE001 - a grader fault is reported, never a pass
            result.status = "error"
            result.problems.append(f"the grader failed on this submission: {type(err).__name__}: {err}")
            for r in result.exercises.values():
                r.score = 0.0
        finally:
            shutil.rmtree(work, ignore_errors=True)
    result.seconds = round(time.time() - start, 2)
    write_result(result, out_dir)
    return result


def result_path(out_dir: Path, student: str) -> Path:
    return Path(out_dir) / f"{student}.json"


def write_result(result: Result, out_dir: Path) -> None:
    path = result_path(out_dir, result.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(result.to_json())
    os.replace(tmp, path)


def read_result(out_dir: Path, student: str) -> Result | None:
    path = result_path(out_dir, student)
    try:
        return Result.from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None


# ----------------------------------------------------------------------------- a batch
def _grade_task(args) -> Result:
    path, chapter, student, out_dir, limits, policy, salt = args
    try:
        return grade_one(Path(path), chapter, student, Path(out_dir), limits=limits,
                         policy=policy, salt=salt)
    except Exception as err:  # noqa: BLE001 - e.g. an unreadable file: still a result
        result = Result(student, chapter, "", status="error",
                        problems=[f"could not grade: {type(err).__name__}: {err}"])
        write_result(result, Path(out_dir))
        return result


def grade_batch(chapter: str, submissions: dict[str, Path], out_dir: Path, *, workers: int = 2,
                limits: sandbox.Limits = sandbox.Limits(),
                policy: sandbox.SandboxPolicy | None = sandbox.SandboxPolicy(),
                salt: int | None = None, show_progress: bool = True) -> dict[str, Result]:
    """Grade {student: notebook path} in parallel; submissions whose result already exists
    for the same file contents are not graded again."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from .plotting import progress

    out_dir = Path(out_dir)
    salt = secrets.randbelow(10 ** 6) if salt is None else salt
    done: dict[str, Result] = {}
    todo = []
    for student, path in sorted(submissions.items()):
        old = read_result(out_dir, student)
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else ""
        if old is not None and old.sha256 == digest and old.status != "error":
            done[student] = old
        else:
            todo.append((str(path), chapter, student, str(out_dir), limits, policy, salt))
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(_grade_task, t) for t in todo]
            bar = progress(as_completed(futures), desc=f"grading {chapter}", total=len(futures)) \
                if show_progress else as_completed(futures)
            for fut in bar:
                r = fut.result()
                done[r.student] = r
    return done

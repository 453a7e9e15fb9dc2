"""Grade a batch of submissions: each in its own worker process and sandboxed kernel, with
every verdict computed outside the kernel and every result written by this process only.

A batch, as named steps:
1. `load`      read each file; malformed JSON, a truncated file, a BOM, another chapter's
               notebook: reported and graded as what it is (zero), never a crash;
2. `assemble`  rebuild the notebook from the instructor's source: the learner's answer
               cells (first copy of a duplicated grade id) and extra code cells (up to the
               cell and size limits), and the source's own test, locked and prose cells
               (deleted or edited tests restored);
3. control     the instructor's own solution is graded first with the batch's salt; an
               exercise it does not pass (inputs the reference fails on) makes the batch
               draw another salt, and after three draws grading stops with a clear message:
               no class ever loses points to an unlucky draw;
4. workers     `worker.py` per submission, in parallel (sandbox, harvest, judge), under a
               wall-time limit; a worker that dies or hangs is that submission's error, and
               the batch goes on;
5. results     one JSON per submission, keyed by the file's sha256, written atomically; the
               batch's salt is kept in `batch.json`, so an interrupted batch resumes with
               the same inputs and grades nothing twice.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ..authoring.course import SOLUTIONS
from . import sandbox, tamper

SALT_DRAWS = 3


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
        return json.dumps(asdict(self), indent=1, sort_keys=True, ensure_ascii=False)

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
            if isinstance(c, dict) and c.get("metadata", {}).get("nbgrader", {}).get("grade_id")]


def exercises_of(source) -> dict[str, float]:
    """exercise -> points, in notebook order, from the test cells `test_<exercise>`."""
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and meta["grade_id"].startswith("test_"):
            out[meta["grade_id"][5:]] = float(meta["points"])
    return out


def load(data: bytes, chapter: str, source) -> tuple[nbformat.NotebookNode | None, str, str]:
    """(notebook, status, problem). The notebook is None when it cannot be graded."""
    try:
        text = data.decode("utf-8-sig")       # a byte-order mark is fine
    except UnicodeDecodeError:
        return None, "malformed", "the file is not text (not a notebook)"
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # noqa: BLE001 - nbformat raises several kinds
        return None, "malformed", f"the notebook cannot be read ({type(err).__name__}: " \
                                  f"{' '.join(str(err).split())[:200]}); was it truncated?"
    if not isinstance(nb.get("cells"), list) or not all(isinstance(c, dict) for c in nb.cells):
        return None, "malformed", "the notebook has no list of cells"
    mine = set(exercises_of(source))
    theirs = set(_grade_ids(nb))
    if mine and not (mine & theirs):
        other = _which_chapter(theirs)
        hint = f" it looks like {other}" if other else ""
        return None, "wrong-chapter", f"this notebook has none of {chapter}'s exercises;{hint}"
    return nb, "graded", ""


def _which_chapter(grade_ids: set[str]) -> str:
    from ..authoring.course import chapters
    for ch in chapters():
        if set(exercises_of(source_notebook(ch))) & grade_ids:
            return ch
    return ""


# ----------------------------------------------------------------------------- 2. assemble
def _text(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def assemble(learner, source, limits: sandbox.Limits = sandbox.Limits()) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to run: the source's cells, with each solution cell taken from the
    learner (its first copy) preceded by the learner's own extra code cells."""
    problems: list[str] = []
    source_ids = {c.get("id") for c in source.cells}
    solutions: dict[str, object] = {}
    extras_before: dict[str, list] = {}
    pending: list = []
    kept_cells, kept_bytes, dropped = 0, 0, 0
    for cell in learner.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        gid = meta.get("grade_id")
        is_answer = cell.get("cell_type") == "code" and meta.get("solution") and gid
        is_extra = cell.get("cell_type") == "code" and not meta and cell.get("id") not in source_ids
        if not (is_answer or is_extra) or (is_answer and gid in solutions):
            if is_answer:
                problems.append(f"grade id {gid!r} appears more than once: the first copy is graded")
            continue
        size = len(_text(cell).encode())
        if kept_cells >= limits.cells or kept_bytes + size > limits.source_bytes:
            dropped += 1
            if not is_answer:
                continue
        kept_cells, kept_bytes = kept_cells + 1, kept_bytes + size
        if is_answer:
            solutions[gid] = cell
            extras_before[gid], pending = pending, []
        else:
            pending.append(cell)
    if dropped:
        problems.append(f"{dropped} code cell(s) beyond the limits of {limits.cells} cells or "
                        f"{limits.source_bytes // 1000} kB of code were left out")
    out = nbformat.v4.new_notebook(metadata=source.metadata)
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if meta.get("solution") and gid:
            for extra in extras_before.get(gid, []):
                out.cells.append(nbformat.v4.new_code_cell(_text(extra), metadata={"learner": True}))
            if gid in solutions:
                mine = nbformat.v4.new_code_cell(_text(solutions[gid]))
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
    missing_tests = [e for e in exercises_of(source) if f"test_{e}" not in _grade_ids(learner)]
    if missing_tests:
        problems.append("test cells were deleted and have been restored: " + ", ".join(missing_tests))
    return out, problems


def solution_notebook(chapter: str) -> nbformat.NotebookNode:
    """The instructor's own solution, assembled like a submission: the batch's control."""
    source = source_notebook(chapter)
    return assemble(source, source)[0]


# ----------------------------------------------------------------------------- 4. one worker
class WorkerServer:
    """A warm grading worker (`worker.py --serve`) this thread sends its jobs to: Python,
    PyTorch and the grader are imported once, and each job is graded in a child forked
    fresh for it. One per thread; restarted when it dies."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self) -> None:
        self.log = tempfile.TemporaryFile()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.grader.worker", "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=env, start_new_session=True)

    def grade(self, job: dict, budget: float) -> dict:
        import select
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps({**job, "budget": budget}) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], budget + 60)
            line = self.proc.stdout.readline() if ready else ""
        except (OSError, ValueError):
            line = ""
        if not line:
            tail = self.tail()
            self.close()
            return {"fatal": f"the grading worker died{': ' + tail if tail else ''}"}
        try:
            return json.loads(line)
        except ValueError:
            self.close()
            return {"fatal": "the grading worker answered nonsense"}

    def tail(self) -> str:
        try:
            self.log.seek(0, 2)
            size = self.log.tell()
            self.log.seek(max(0, size - 2000))
            return " / ".join(self.log.read().decode(errors="replace").strip().splitlines()[-3:])[:500]
        except (OSError, AttributeError):
            return ""

    def close(self) -> None:
        import signal
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        self.proc = None


_local = threading.local()
_servers: list[WorkerServer] = []


def _server() -> WorkerServer:
    if getattr(_local, "server", None) is None:
        _local.server = WorkerServer()
        _servers.append(_local.server)
    return _local.server


@atexit.register
def close_servers() -> None:
    while _servers:
        _servers.pop().close()
    _local.__dict__.clear()


def run_worker(nb: nbformat.NotebookNode, chapter: str, points: dict[str, float], salt: int,
               limits: sandbox.Limits, executed: Path, *, data: Path | None = None) -> dict:
    """Grade an assembled notebook in a worker process; returns its verdicts, or
    {"fatal": reason} when it failed (died, hung, or could not set up the sandbox). The
    worker and everything it started are killed when it runs past its wall-time budget.
    A warm worker server does it unless COURSE_GRADER_SERVER=0 (then a fresh process)."""
    import signal

    with tempfile.TemporaryDirectory(prefix="grade-job-") as tmp:
        path = Path(tmp) / "submission.ipynb"
        nbformat.write(nb, str(path))
        os.chmod(tmp, 0o755)
        job = {"notebook": str(path), "chapter": chapter, "salt": salt, "points": points,
               "executed": str(executed), "limits": limits.to_dict(),
               "data": str(data) if data else None}
        budget = limits.total_seconds + limits.harvest_seconds * (len(points) + 1) + 120
        if os.environ.get("COURSE_GRADER_SERVER", "1") != "0":
            return _server().grade(job, budget)
        proc = subprocess.Popen([sys.executable, "-m", "autograder.grader.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(json.dumps(job), timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)      # the launcher dies with it (PDEATHSIG)
            proc.communicate()
            return {"fatal": f"grading took longer than {budget} s and was stopped"}
        lines = [ln for ln in out.splitlines() if ln.strip()]
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = err.strip().splitlines()[-3:]
            return {"fatal": f"the grading worker died (exit {proc.returncode}): {' / '.join(tail)[:500]}"}


# ----------------------------------------------------------------------------- one submission
def grade_submission(data: bytes, chapter: str, student: str, *, salt: int,
                     limits: sandbox.Limits = sandbox.Limits()) -> tuple[Result, bytes | None]:
    """Grade one submission's bytes: (its result, the executed notebook's bytes). Never raises
    for anything the submission contains; writes nothing outside its temporary folders, so it
    can run on any machine of a cluster (the caller keeps the files)."""
    start = time.time()
    result = Result(student, chapter, hashlib.sha256(data).hexdigest(), salt=salt)
    source = source_notebook(chapter)
    points = exercises_of(source)
    result.exercises = {e: ExerciseResult(e, p) for e, p in points.items()}
    nb, status, problem = load(data, chapter, source)
    executed_bytes = None
    if nb is None:
        result.status, result.problems = status, [problem]
        for r in result.exercises.values():
            r.message = problem
    else:
        graded_nb, problems = assemble(nb, source, limits)
        with tempfile.TemporaryDirectory(prefix="executed-") as tmp:
            executed = Path(tmp) / "executed.ipynb"
            verdicts = run_worker(graded_nb, chapter, points, salt, limits, executed)
            if executed.is_file():
                executed_bytes = executed.read_bytes()
        result.problems = problems
        if "fatal" in verdicts:
            result.status = "error"
            result.problems.append(verdicts["fatal"])
        else:
            result.problems += verdicts.get("problems", [])
            result.flags = list(verdicts.get("flags", []))
            for name, v in verdicts.get("exercises", {}).items():
                if name in result.exercises:
                    result.exercises[name] = ExerciseResult(name, points[name], float(v["score"]),
                                                            str(v["message"]), v.get("in_kernel_passed"))
            reasons = tamper.review([_text(c) for c in graded_nb.cells if c.metadata.get("learner")])
            if reasons:
                result.flags.append("learner code reaches outside its exercises (advice only: "
                                    "grading is unaffected; worth a look): " + "; ".join(reasons))
    result.seconds = round(time.time() - start, 2)
    return result, executed_bytes


def grade_one(path: Path, chapter: str, student: str, out_dir: Path, *, salt: int,
              limits: sandbox.Limits = sandbox.Limits()) -> Result:
    """Grade one submission file on this machine and keep its executed notebook."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        return Result(student, chapter, "", status="error", salt=salt,
                      problems=[f"the file could not be read: {err}"])
    result, executed = grade_submission(data, chapter, student, salt=salt, limits=limits)
    keep_executed(out_dir, student, executed)
    return result


def keep_executed(out_dir: Path, student: str, executed: bytes | None) -> None:
    if executed is not None:
        path = Path(out_dir) / "executed" / f"{student}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(executed)


def result_path(out_dir: Path, student: str) -> Path:
    return Path(out_dir) / f"{student}.json"


def write_result(result: Result, out_dir: Path) -> None:
    path = result_path(out_dir, result.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(result.to_json(), encoding="utf-8")
    os.replace(tmp, path)


def read_result(out_dir: Path, student: str) -> Result | None:
    path = result_path(out_dir, student)
    try:
        return Result.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


# ----------------------------------------------------------------------------- where tasks run
class Runner:
    """Where submissions are graded: threads on this machine (each starts its own worker
    process and sandbox), or a Dask cluster when given a scheduler address. Either way
    each task grades one submission and returns its result; only this process writes."""

    def __init__(self, workers: int = 2, scheduler: str | None = None):
        self.scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        if self.scheduler:
            from distributed import Client
            self.client = Client(self.scheduler, timeout="30s")
            self.pool = None
        else:
            self.client = None
            self.pool = ThreadPoolExecutor(max_workers=max(1, workers))

    def submit(self, fn, *args, **kwargs):
        if self.client is not None:
            # pure=False: the same file graded twice is two tasks; retries: a worker that dies
            # or disappears costs only a retry of its tasks (Dask reschedules lost ones itself).
            return self.client.submit(fn, *args, pure=False, retries=2, **kwargs)
        return self.pool.submit(fn, *args, **kwargs)

    def as_completed(self, futures):
        if self.client is not None:
            from distributed import as_completed as dask_completed
            return dask_completed(futures)
        return as_completed(futures)

    def close(self):
        if self.client is not None:
            self.client.close()
        else:
            self.pool.shutdown()
            close_servers()


def _safe_grade(data: bytes, chapter: str, student: str, salt: int, limits: sandbox.Limits):
    try:
        return grade_submission(data, chapter, student, salt=salt, limits=limits)
    except Exception as err:  # noqa: BLE001 - a grader fault is that submission's error
        return Result(student, chapter, hashlib.sha256(data).hexdigest(), status="error", salt=salt,
                      problems=[f"the grader failed on this submission: {type(err).__name__}: {err}"]), None


# ----------------------------------------------------------------------------- 3. control
class ControlFailed(RuntimeError):
    """The instructor's solution does not pass with any salt tried: nothing is graded."""


CONTROL = "_control"


def control(chapter: str, out_dir: Path, limits: sandbox.Limits, salt: int | None = None,
            log=print, runner: Runner | None = None) -> int:
    """A salt on which the instructor's own solution gets full marks (the batch's control),
    recorded in `batch.json`; a resumed batch keeps its salt."""
    record = Path(out_dir) / "batch.json"
    if salt is None and record.is_file():
        try:
            kept = json.loads(record.read_text())
            if kept.get("control") == "passed":
                return int(kept["salt"])
        except (OSError, ValueError, KeyError):
            pass
    points = exercises_of(source_notebook(chapter))
    solution = nbformat.writes(source_notebook(chapter)).encode()
    tried: list[str] = []
    for draw in range(SALT_DRAWS):
        this = secrets.randbelow(10 ** 6) if salt is None else salt
        if runner is not None:
            result, executed = runner.submit(_safe_grade, solution, chapter, CONTROL, this, limits).result()
        else:
            result, executed = _safe_grade(solution, chapter, CONTROL, this, limits)
        keep_executed(out_dir, CONTROL, executed)
        if result.status != "graded":
            raise ControlFailed(f"the control run (the instructor's solution) could not be graded: "
                                f"{'; '.join(result.problems)}")
        failing = {e: x.message for e, x in result.exercises.items() if x.score != points[e]}
        if not failing:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps({"salt": this, "control": "passed", "drawn": draw + 1,
                                          "seconds": result.seconds}))
            return this
        first = next(iter(failing.items()))
        tried.append(f"salt {this}: {', '.join(failing)} ({first[1].splitlines()[0][:200]})")
        log(f"control: the instructor's solution fails {', '.join(failing)} with salt {this}; "
            "drawing other inputs")
        if salt is not None:
            break
    raise ControlFailed("the instructor's own solution does not get full marks on the inputs "
                        "drawn for this batch, so nobody was graded (a check that the reference "
                        "fails is the check's fault, not the learners'): " + "; ".join(tried))


# ----------------------------------------------------------------------------- 5. a batch
def grade_batch(chapter: str, submissions: dict[str, Path], out_dir: Path, *, workers: int = 2,
                limits: sandbox.Limits = sandbox.Limits(), salt: int | None = None,
                show_progress: bool = True, scheduler: str | None = None) -> dict[str, Result]:
    """Grade {student: notebook path} in parallel (threads here, or a Dask cluster at
    `scheduler`); submissions whose result already exists for the same file contents (and
    salt) are not graded again."""
    from ..learner.plotting import progress

    out_dir = Path(out_dir)
    runner = Runner(workers, scheduler)
    try:
        salt = control(chapter, out_dir, limits, salt, log=print if show_progress else (lambda *a: None),
                       runner=runner)
        done: dict[str, Result] = {}
        futures = []
        for student, path in sorted(submissions.items()):
            old = read_result(out_dir, student)
            try:
                data = Path(path).read_bytes()
            except OSError as err:
                r = Result(student, chapter, "", status="error", salt=salt,
                           problems=[f"the file could not be read: {err}"])
                write_result(r, out_dir)
                done[student] = r
                continue
            if old is not None and old.sha256 == hashlib.sha256(data).hexdigest() \
                    and old.status != "error" and old.salt == salt:
                done[student] = old
            else:
                futures.append(runner.submit(_safe_grade, data, chapter, student, salt, limits))
        finished = runner.as_completed(futures)
        if show_progress and futures:
            finished = progress(finished, desc=f"grading {chapter}", total=len(futures))
        for fut in finished:
            try:
                r, executed = fut.result()
            except Exception as err:  # noqa: BLE001 - e.g. every retry's worker died
                continue_with = f"{type(err).__name__}: {err}"
                print(f"a grading task failed: {continue_with}")
                continue
            keep_executed(out_dir, r.student, executed)
            write_result(r, out_dir)
            done[r.student] = r
        for student in submissions:                 # tasks lost for good are that learner's error
            if student not in done:
                r = Result(student, chapter, "", status="error", salt=salt,
                           problems=["grading this submission failed on every try (its worker died)"])
                write_result(r, out_dir)
                done[student] = r
        return done
    finally:
        runner.close()

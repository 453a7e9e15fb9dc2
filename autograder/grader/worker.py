"""Grade one notebook in a process of its own: `python -m autograder.grader.worker`
reads a job (JSON) on stdin and prints the verdicts (JSON) on stdout.

Both routes use it: the course's pipeline (grading.py) and nbgrader's own autograde
(nbgrader_execute.py). Steps, each a function below:

1. `private_workspace`  before anything else, this process gets a mount namespace of its
                        own and a tmpfs bounded in bytes and files for everything the
                        kernel can write (its work folder, /tmp, sockets, outbox); it
                        vanishes with the process, and the disk is never touched;
2. `write_jobs`         the plan of every exercise: an id per (case, device) and the inputs
                        drawn from the case's seed plus the salt, kept here for the judge and
                        written as plain values for the kernel (never a seed, never a salt);
3. `run`                the notebook's cells in the sandboxed kernel (sandbox.py) under
                        per-cell and per-submission time limits and an output cap; a kernel
                        that dies or ignores the interrupt is replaced and the notebook
                        replayed without the cell at fault. Then one harvest cell per
                        exercise, in an order where an exercise's stand-ins arrive only after
                        the exercises they stand in for were recorded; after each, its
                        observation files are taken out of the kernel's reach;
4. `judge_all`          exact accounting (one observation per planned id, the canary's
                        observations present and failing, nothing else), then each
                        observation against the oracle on the inputs kept in step 2, and the
                        source rules on the learner's cell text;
5. the verdicts go into the test cells' outputs (so nbgrader scores what the grader
   decided), and the result is printed.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import tempfile
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
OUTBOX_BYTES, OUTBOX_FILES = 512 * 1024 ** 2, 4096
MS_REC, MS_PRIVATE = 0x4000, 0x40000


# ----------------------------------------------------------------------------- 1. workspace
def private_workspace(tmpfs_bytes: int, inodes: int) -> tuple[Path, bool]:
    """A fresh tmpfs only this process (and its sandboxed kernel) can see. Returns the
    folder and whether the host user is root. Must run before any thread starts."""
    host_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="grade-"))
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS if host_root else CLONE_NEWNS | CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "cannot create the grading namespace (unshare)")
    if not host_root:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot make the grading namespace private")
    options = f"size={tmpfs_bytes},nr_inodes={inodes},mode=0755".encode()
    if libc.mount(b"tmpfs", str(base).encode(), b"tmpfs", 0, options) != 0:
        raise OSError(ctypes.get_errno(), "cannot mount the grading tmpfs")
    # The outbox is a mount of its own: a learner who fills (or deletes) their work folder
    # cannot keep the grader from recording their answers, and cannot remove the folder.
    outbox = base / "outbox"
    outbox.mkdir()
    options = f"size={OUTBOX_BYTES},nr_inodes={OUTBOX_FILES},mode=0755".encode()
    if libc.mount(b"tmpfs", str(outbox).encode(), b"tmpfs", 0, options) != 0:
        raise OSError(ctypes.get_errno(), "cannot mount the outbox")
    return base, host_root


# ----------------------------------------------------------------------------- the job
def grade_job(job: dict, started: float) -> dict:
    """Steps 1-5 for one job, in this process (which must be single-threaded: it unshares)."""
    import time
    from .sandbox import Limits    # light: no torch, no threads yet
    limits = Limits.from_dict(job.get("limits", {}))
    try:
        work, host_root = private_workspace(limits.tmpfs_bytes, limits.inodes)
    except OSError as err:
        return {"fatal": f"the grading workspace could not be set up: {err}"}
    from .grade_notebook import grade_notebook
    imported = time.monotonic()
    try:
        result = grade_notebook(job, work, host_root, limits)
        result.setdefault("timings", {})["worker imports"] = round(imported - started, 3)
    except Exception as err:  # noqa: BLE001 - reported as this submission's error
        import traceback
        result = {"fatal": f"the grader failed: {type(err).__name__}: {err}",
                  "traceback": traceback.format_exc()[-4000:]}
    return result


def main() -> int:
    import time
    started = time.monotonic()
    # The verdict goes to the original stdout; everything else (the kernel's own chatter
    # included, which it inherits) goes to stderr.
    verdict = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    result = grade_job(json.loads(sys.stdin.read()), started)
    verdict.write(json.dumps(result))
    verdict.flush()
    return 0 if "fatal" not in result else 2


# ----------------------------------------------------------------------------- a warm server
def serve() -> int:
    """`python -m autograder.grader.worker --serve`: import everything once, then grade one
    job per line of stdin, each in a child forked for it (a fresh process with its own
    namespaces, tmpfs and sandboxed kernel: nothing carries over from one learner to the
    next), answering one JSON line per job on stdout. Saves the seconds of starting Python
    and importing PyTorch and the grader for every submission."""
    import importlib
    import signal
    import time

    verdict = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    import torch  # noqa: F401 - the point of a warm server
    from . import grade_notebook  # noqa: F401
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        budget = float(job.pop("budget", 3600))
        try:   # the chapter's specs stay imported for the next job of the batch
            importlib.import_module(f"{__package__}.specs.{job['chapter'].split('_')[0]}")
        except Exception:  # noqa: BLE001 - the child reports it
            pass
        if len(os.listdir("/proc/self/task")) > 1:   # fork is safe only single-threaded
            verdict.write(json.dumps({"fatal": "the warm grading server has threads; restart it"}) + "\n")
            verdict.flush()
            return 3
        started = time.monotonic()
        answer = tempfile.NamedTemporaryFile(prefix="grade-verdict-", delete=False)
        answer.close()
        pid = os.fork()
        if pid == 0:
            os.setsid()
            try:
                result = grade_job(job, started)
            except BaseException as err:  # noqa: BLE001
                result = {"fatal": f"the grader failed: {type(err).__name__}: {err}"}
            Path(answer.name).write_text(json.dumps(result))
            os._exit(0)
        deadline = time.monotonic() + budget
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                Path(answer.name).write_text(json.dumps(
                    {"fatal": f"grading took longer than {budget:.0f} s and was stopped"}))
                break
            time.sleep(0.05)
        text = Path(answer.name).read_text().strip()
        os.unlink(answer.name)
        verdict.write((text or json.dumps({"fatal": "the grading worker died"})) + "\n")
        verdict.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["--serve"] else main())

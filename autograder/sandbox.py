"""Run a learner's notebook in a kernel that cannot reach what it must not.

The kernel runs under bubblewrap (Debian's `bwrap`): chosen because it needs no daemon
and no setuid helper when run as root or with user namespaces, starts in milliseconds, and
builds the learner's whole view of the filesystem from an explicit list. What the kernel sees:

- the system and the course environment, read-only (Python, .venv, the autograder package,
  data/ for the chapters that read Fashion-MNIST);
- an empty repository otherwise: no solutions/, no tests/, no .git history, no grading/
  (gradebook, other learners' submissions, results);
- an empty private /tmp (also its HOME), and one writable throwaway folder holding its own copy of
  the submission (whatever it writes or deletes there is thrown away);
- no network (its own network namespace; the kernel talks to the grader over Unix sockets
  in the throwaway folder, Jupyter's "ipc" transport);
- resource limits: data segment (memory), file size, number of processes.
Per-cell time and output size are limited by the client (`LimitedClient`).

It does not prevent: using CPU time up to the per-cell limit; reading world-readable files
outside the repository (the system's own); anything an in-process hook can do to the
kernel itself, which is why verdicts are computed outside it (see grading.py).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

from .course import REPO

GiB = 1024 ** 3


@dataclass(frozen=True)
class Limits:
    cell_seconds: int = 120            # per cell, wall clock
    memory_bytes: int = 3 * GiB        # RLIMIT_DATA: heap + anonymous mmaps (torch, numpy)
    output_bytes: int = 1_000_000      # per cell; the rest is dropped with a note
    file_bytes: int = 200 * 1024 ** 2  # largest file the kernel may write
    processes: int = 256               # RLIMIT_NPROC: stops fork bombs


@dataclass
class SandboxPolicy:
    """What the kernel may see, besides the read-only system."""

    repo: Path = REPO
    readable: tuple[str, ...] = ("autograder", ".venv", "data", "pyproject.toml")
    hidden: list[Path] = field(default_factory=list)   # extra folders to blank out

    def bwrap_args(self, work: Path) -> list[str]:
        # Mounts apply in order: blank out first, then bind back what the kernel may read,
        # so a course cloned inside a hidden folder (e.g. under /tmp) still has its .venv.
        args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in self.hidden:
            if Path(path).exists():
                args += ["--tmpfs", str(path)]
        args += ["--tmpfs", str(self.repo)]
        for name in self.readable:
            path = self.repo / name
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(work), str(work), "--chdir", str(work),
                 "--unshare-net", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
                 # Own session: the kernel's interrupt (SIGINT to its process group) then
                 # reaches the kernel only, never bwrap (which would die of it).
                 "--new-session",
                 "--setenv", "HOME", "/tmp", "--setenv", "IPYTHONDIR", "/tmp/.ipython",
                 "--setenv", "MPLCONFIGDIR", "/tmp/.matplotlib"]
        return args


def sandbox_available() -> bool:
    return shutil.which("bwrap") is not None and shutil.which("prlimit") is not None


def kernel_argv(work: Path, limits: Limits, policy: SandboxPolicy | None, python: str) -> list[str]:
    launch = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    rlimits = ["prlimit", f"--data={limits.memory_bytes}", f"--fsize={limits.file_bytes}",
               f"--nproc={limits.processes}", "--"]
    if policy is None:       # explicitly unsandboxed (tests of the pipeline itself)
        return rlimits + launch
    return policy.bwrap_args(work) + rlimits + launch


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command is the sandbox's. Asynchronous, as nbclient
    expects: with a blocking client nbclient's per-cell timeout never fires."""

    def __init__(self, argv: list[str], **kwargs):
        super().__init__(**kwargs)
        self._argv = argv

    @property
    def kernel_spec(self):
        # "message": the client asks the kernel to interrupt itself; a signal from outside
        # would hit bwrap, whose death takes the kernel with it.
        return KernelSpec(argv=self._argv, display_name="sandboxed course kernel", language="python",
                          interrupt_mode="message")


def kernel_manager(work: Path, limits: Limits, policy: SandboxPolicy | None,
                   env: dict[str, str] | None = None) -> SandboxedKernelManager:
    sockets = str(work / ".kernel")
    if len(sockets) > 90:   # Unix socket paths are limited to ~107 bytes, with a "-N" suffix
        raise ValueError(f"the kernel's work folder path is too long for its sockets: {work}")
    km = SandboxedKernelManager(kernel_argv(work, limits, policy, sys.executable),
                                transport="ipc", ip=sockets)
    km.connection_file = str(work / ".kernel.json")
    base = {k: v for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "COURSE_QUICK", "COURSE_DEVICES", "CUDA_VISIBLE_DEVICES")}
    # Keep the learner's kernel from finding the grader's files through the environment.
    base.update({"NBGRADER_EXECUTION": "autograde", "PYTHONDONTWRITEBYTECODE": "1",
                 # One math thread per kernel: the batch is parallel over submissions, and
                 # threads fighting for the same cores make small tensor ops 100x slower.
                 "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    km.extra_env = {**base, **(env or {})}
    return km


class LimitedClient(NotebookClient):
    """nbclient with a per-cell output budget: a cell's outputs beyond `output_bytes` are
    dropped and replaced by one note, so megabytes of printing cannot swamp the grader."""

    def __init__(self, nb, km, limits: Limits, **kw):
        super().__init__(nb, km=km, timeout=limits.cell_seconds, allow_errors=True,
                         interrupt_on_timeout=True, record_timing=False, **kw)
        self.output_bytes = limits.output_bytes
        self._spent: dict[int, int] = {}
        self.timed_out: list[int] = []         # indices of the cells stopped by the time limit

    async def _async_handle_timeout(self, timeout, cell=None):
        """First time a cell runs over: interrupt it (the notebook goes on with the next
        cell). A cell that ignores the interrupt (catches KeyboardInterrupt) ends the run."""
        index = next((i for i, c in enumerate(self.nb.cells) if c is cell), -1)
        if index in self.timed_out:
            raise CellTimeoutError.error_from_timeout_and_cell(
                "Cell ignored the interrupt after its time limit", timeout, cell)
        self.timed_out.append(index)
        if cell is not None:
            cell.setdefault("outputs", []).append(_note(
                f"[stopped: this cell ran longer than the time limit of {timeout} s]"))
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        spent = self._spent.get(cell_index, 0)
        self._spent[cell_index] = spent + size
        if spent + size > self.output_bytes:
            if spent <= self.output_bytes:
                outs.append(_note(f"[output truncated: this cell printed more than "
                                  f"{self.output_bytes // 1000} kB]"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def shutdown(km: SandboxedKernelManager) -> None:
    """Kill the kernel (and with it the sandbox) if it still runs."""
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - a kernel that is already gone is fine
        pass


def _note(text: str):
    from nbformat.v4 import new_output
    return new_output("stream", name="stderr", text=text + "\n")

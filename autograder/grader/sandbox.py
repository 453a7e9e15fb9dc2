"""The sandbox a learner's kernel runs in: no privilege, an allowlisted filesystem, no
oracle in reach, bounded resources. Fails closed: if it cannot be set up with these
properties, grading refuses (`self_test`), it never runs weaker.

Built with bubblewrap (Debian's `bwrap`: no daemon, no setuid helper, and the kernel's
whole view of the filesystem is the explicit list in `SandboxPolicy.mounts`):

- identity: its own user namespace, all capabilities dropped (bounding set included), no
  further user namespaces. Run as root, the kernel is the host's unprivileged uid 65534
  (`launch.py` maps it and drops to it inside the sandbox), so process limits apply and no
  file permission of root's is its; run as a normal user, it is that user in a namespace
  of its own;
- its own PID, IPC, UTS and network namespaces: it sees only its own processes (it cannot
  see, signal or trace the grader or another kernel), has no network (it talks to the
  grader over Unix sockets in its work folder), and every process it starts dies with it;
- filesystem, read-only unless said: the system's /usr (and /etc's loader files), the
  Python installation and the course's virtual environment, the learner side of the
  course's package (`autograder/__init__.py`, `autograder/learner/`), the data folder, and
  its jobs (the inputs the grader drew); writable: its work folder and outbox, /tmp and
  /dev/shm, all in size- and inode-bounded tmpfs. Nothing else of the host: no specs, no
  solutions, no results, no other learner, no home folders;
- a clean environment: only the variables listed in `SandboxPolicy.environment`, with
  `NBGRADER_EXECUTION=autograde` as nbgrader sets it;
- resource limits inside: data segment (memory) per process, file size, process count,
  open files, no core dumps. Wall time per cell and per submission, and output size, are
  the worker's (worker.py).

It does not prevent: using the CPU (and a GPU, when one is bound) up to the time limits;
reading the read-only system and Python files it is given; anything inside the kernel
itself, which is why the kernel only ever holds plain inputs and returns plain values, and
every verdict is computed outside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..authoring.course import REPO

GiB, MiB = 1024 ** 3, 1024 ** 2
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    cell_seconds: int = 120            # per learner cell, wall clock
    total_seconds: int = 900           # all learner cells of one submission together
    harvest_seconds: int = 300         # per exercise, recording its results
    memory_bytes: int = 3 * GiB        # RLIMIT_DATA per process: heap + anonymous mmaps
    tmpfs_bytes: int = 512 * MiB       # the work folder and /tmp together
    shm_bytes: int = 256 * MiB         # /dev/shm (DataLoader workers share tensors there)
    inodes: int = 20_000               # files the kernel may create in its tmpfs
    file_bytes: int = 200 * MiB        # RLIMIT_FSIZE: largest file
    processes: int = 64                # RLIMIT_NPROC: fork bombs stop here
    open_files: int = 1024             # RLIMIT_NOFILE
    output_bytes: int = 1_000_000      # per cell; the rest is dropped with a note
    cells: int = 300                   # code cells of a submission, extra cells included
    source_bytes: int = 2_000_000      # all learner code of a submission
    message_chars: int = 4_000         # a verdict message as the learner reads it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "Limits":
        return cls(**{k: int(v) for k, v in raw.items() if k in cls.__dataclass_fields__})


def _python_prefixes() -> list[Path]:
    """The interpreter's installation and the virtual environment, wherever they are."""
    found = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(os.path.realpath(sys.executable)).parent.parent}
    return sorted(p for p in found if p != Path("/usr"))


@dataclass
class SandboxPolicy:
    """What the kernel may see: an allowlist, read in one place."""

    host_root: bool = field(default_factory=lambda: os.geteuid() == 0)   # the grader's own uid
    repo: Path = REPO
    data: Path | None = None                   # the data folder (default: repo/data)
    extra_readable: list[Path] = field(default_factory=list)
    threads: int = 1                           # math threads per kernel
    passthrough: tuple[str, ...] = ("COURSE_QUICK", "COURSE_DEVICES", "CUDA_VISIBLE_DEVICES", "LANG")

    def readable(self) -> list[Path]:
        """Host paths bound read-only, at the same place."""
        data = self.data if self.data is not None else self.repo / "data"
        paths = [Path("/usr"), *_python_prefixes(),
                 self.repo / "autograder" / "__init__.py", self.repo / "autograder" / "learner",
                 data, *self.extra_readable]
        paths += [Path(p) for p in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                                    "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
                                    "/etc/fonts")]
        return [p for p in paths if p.exists()]

    def environment(self, work: Path) -> dict[str, str]:
        venv_bin = str(Path(sys.prefix) / "bin")
        env = {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
               "PYTHONHASHSEED": "0", "MPLCONFIGDIR": "/tmp/.matplotlib",
               "IPYTHONDIR": "/tmp/.ipython", "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter",
               "NBGRADER_EXECUTION": "autograde",
               # One math thread per kernel: the batch is parallel over submissions.
               "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        if self.data is not None:
            env["COURSE_DATA_ROOT"] = str(self.data)
        env.update({k: os.environ[k] for k in self.passthrough if k in os.environ})
        return env

    def devices(self) -> list[str]:
        """GPU device nodes, bound when present (untested on this course's CI: no GPU)."""
        return sorted(str(p) for p in Path("/dev").glob("nvidia*") if p.exists())

    def bwrap_args(self, work: Path, limits: Limits) -> list[str]:
        """bubblewrap's arguments: the kernel's whole world, nothing inherited."""
        args = ["bwrap", "--die-with-parent", "--new-session", "--clearenv",
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
                "--unshare-cgroup-try", "--hostname", "sandbox"]
        if not self.host_root:   # root's launcher made the user namespace already (launch.py)
            args += ["--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY),
                     "--cap-drop", "ALL"]
        # The kernel's /tmp comes first: a course (or the work folder) under /tmp is then
        # bound inside it, on mount points made with explicit permissions (bubblewrap would
        # otherwise copy a parent's mode, e.g. root's 0700 home).
        args += ["--perms", "1777", "--dir", "/tmp", "--bind", str(work / "tmp"), "/tmp"]
        binds = [(p, "--ro-bind") for p in self.readable()] + [
            (work / "run", "--bind"), (work / "outbox", "--bind"), (work / "jobs", "--ro-bind")]
        made = {Path("/"), Path("/tmp")}
        for path, kind in binds:
            for parent in reversed(path.parents):
                if parent not in made and not any(parent == b or b in parent.parents for b, _ in binds):
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            args += [kind, str(path), str(path)]
        for name in ("bin", "lib", "lib64", "sbin"):
            if Path(f"/{name}").is_symlink():
                args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for dev in self.devices():
            args += ["--dev-bind", dev, dev]
        if self.devices():
            args += ["--ro-bind", "/sys", "/sys"]
        args += ["--perms", "1777", "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm",
                 "--chdir", str(work / "run")]
        for key, value in self.environment(work).items():
            args += ["--setenv", key, value]
        return args


def rlimit_args(limits: Limits) -> list[str]:
    return ["prlimit", f"--data={limits.memory_bytes}", f"--fsize={limits.file_bytes}",
            f"--nproc={limits.processes}", f"--nofile={limits.open_files}", "--core=0", "--"]


def kernel_argv(work: Path, limits: Limits, policy: SandboxPolicy) -> list[str]:
    """The command a kernel manager starts: the launcher, bwrap, the limits, the kernel."""
    inner = rlimit_args(limits) + [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if policy.host_root:
        inner = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 "--bounding-set=-all", "--inh-caps=-all", "--"] + inner
    launcher = [sys.executable, "-m", "autograder.grader.launch", "--root" if policy.host_root else "--user"]
    return launcher + ["--"] + policy.bwrap_args(work, limits) + ["--"] + inner


def missing_tools() -> list[str]:
    needed = ["bwrap", "prlimit", "setpriv"]
    return [t for t in needed if shutil.which(t) is None]


def prepare_work(work: Path, host_root: bool | None = None) -> None:
    """The kernel's folders inside the worker's tmpfs: run/ (its working folder and
    sockets), tmp/ (its /tmp), outbox/ (its observations; the worker mounts it apart),
    jobs/ (read-only to it)."""
    for name in ("run", "tmp", "jobs", "outbox"):
        (work / name).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 if host_root is None else host_root:   # the kernel is uid 65534: give it what it writes
        for name in ("run", "tmp", "outbox"):
            os.chown(work / name, NOBODY, NOBODY)
        os.chmod(work / "tmp", 0o1777)


PROBE = r"""
import os, json, socket, subprocess
out = {"uid": os.getuid(), "euid": os.geteuid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
       "caps": [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapBnd", "CapPrm"))],
       "env": sorted(os.environ)}
forbidden = %(forbidden)r
out["visible"] = [p for p in forbidden if os.path.exists(p)]
try:
    subprocess.run(["unshare", "--user", "true"], check=True, capture_output=True)
    out["userns"] = True
except Exception:
    out["userns"] = False
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1); out["network"] = True
except OSError:
    out["network"] = False
print("%(marker)s" + json.dumps(out))
"""
MARKER = "__course_sandbox_probe__ "
# What a shell or ipykernel sets in its own process (not inherited from the grader).
KERNEL_SETS = {"PWD", "OLDPWD", "SHLVL", "_", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR",
               "GIT_PAGER", "MPLBACKEND", "PAGER", "TERM"}


def probe_code(policy: SandboxPolicy) -> str:
    """What a fresh sandboxed kernel runs first: it reports who it is and what it can see."""
    from ..learner.settings import grading_root
    forbidden = [str(policy.repo / "solutions"), str(policy.repo / "autograder" / "grader"),
                 str(policy.repo / "tests"), str(policy.repo / ".git"), str(grading_root()),
                 str(Path(__file__).resolve())]
    return PROBE % {"forbidden": forbidden, "marker": MARKER}


def probe_problems(report: dict, policy: SandboxPolicy, work: Path) -> list[str]:
    """What is wrong with a sandbox, from its probe's report ([] when nothing is)."""
    problems = []
    if report.get("uid") == 0 or report.get("euid") == 0:
        problems.append("the kernel would run as uid 0")
    if any(int(c, 16) for c in report.get("caps", ["1"])):
        problems.append(f"the kernel would keep capabilities ({report.get('caps')})")
    if len(report.get("pids", [])) > 4 or not report.get("pids"):
        problems.append(f"the kernel would see other processes ({len(report.get('pids', []))} pids)")
    if report.get("visible"):
        problems.append(f"the kernel would see {', '.join(report['visible'])}")
    if report.get("userns") is not False:
        problems.append("the kernel could create user namespaces")
    if report.get("network") is not False:
        problems.append("the kernel would have network access")
    allowed = set(policy.environment(work)) | KERNEL_SETS
    extra = [k for k in report.get("env", []) if k not in allowed and not k.startswith(("JPY_", "PYDEVD_"))]
    if extra:
        problems.append(f"the kernel would inherit variables: {', '.join(extra)}")
    return problems


def self_test(work: Path, limits: Limits, policy: SandboxPolicy) -> list[str]:
    """Start the sandbox once (without a kernel) and check its properties; returns what is
    wrong ([] if nothing). `work` must be prepared (prepare_work). Every grading kernel
    also runs the probe first (grade_notebook.py) and refuses to grade if it fails."""
    missing = missing_tools()
    if missing:
        return [f"missing programs: {', '.join(missing)} (apt-get install bubblewrap util-linux)"]
    argv = kernel_argv(work, limits, policy)
    cut = argv.index("ipykernel_launcher") - 2      # [..., python, -m, ipykernel_launcher, ...]
    cmd = argv[:cut + 1] + ["-c", probe_code(policy)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [f"the sandbox did not start: {err}"]
    if proc.returncode != 0:
        return [f"the sandbox did not start (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"]
    import json
    lines = [ln[len(MARKER):] for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    try:
        report = json.loads(lines[-1])
    except (ValueError, IndexError):
        return [f"the sandbox probe printed nothing usable: {proc.stdout[-300:]} {proc.stderr[-300:]}"]
    return probe_problems(report, policy, work)

"""`make lab` and `make instructor`: JupyterLab on the course, with the course kernel.

Learners (`make lab`) work in `workspace/` (their own copies, kept across course updates,
see workspace.py) and see the assignment tools a learner needs: Validate, and the
assignment list when the course has an exchange. Formgrader, the course list and "create
assignment" are instructors' tools and are switched off there.

Instructors (`make instructor`) get the course folder with formgrader (which autogrades
through the course's sandbox, see grader/nbgrader_execute.py) and the class reports.

Either way the output is short: what it is doing, then one line with the URL to open.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .course import REPO

LEARNER_OFF_LAB = ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list",
                   "@jupyter/nbgrader:menu")
# Off for everyone: the "news" pop-up would ask about fetching from the internet.
QUIET_LAB = ("@jupyterlab/apputils-extension:announcements",)
LEARNER_OFF_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")


def learner_config(folder: Path) -> Path:
    """A Jupyter config folder that switches the instructors' tools off (it takes the place
    of the user's own ~/.jupyter for this server only)."""
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {name: True for name in LEARNER_OFF_LAB + QUIET_LAB}}, indent=1))
    (folder / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {name: False for name in LEARNER_OFF_SERVER}}}, indent=1))
    return folder


def command(port: int, root: Path, open_path: str, token: str, extra: list[str] = ()) -> list[str]:
    """The jupyter lab command line: serve `root`, open `open_path` inside it."""
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
            f"--LabApp.default_url=/lab/tree/{open_path}",
            *([] if any("log_level" in e for e in extra) else
              ["--ServerApp.log_level=WARN", "--LabApp.log_level=WARN", "--Application.log_level=WARN"]),
            "--MappingKernelManager.default_kernel_name=pytorch-course"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    return args + list(extra)


def wait_ready(proc: subprocess.Popen, port: int, token: str, seconds: int = 180) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def start(port: int, *, instructor: bool = False, extra: list[str] = (), env: dict | None = None,
          workspace: Path | None = None, root: Path | None = None, quiet: bool = False):
    """Start the server; returns (process, url). Raises RuntimeError with the reason."""
    from . import workspace as ws

    env = dict(env or os.environ)
    token = secrets.token_hex(16)
    (REPO / "grading" / "exchange").mkdir(parents=True, exist_ok=True)
    if instructor:
        root, open_path = root or REPO, "notebooks" if (root or REPO) == REPO else ""
    else:
        root = workspace or ws.WORKSPACE
        ws.sync(root, log=(lambda *a: None) if quiet else print)
        open_path = next((p.name for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")), "")
        env["JUPYTER_CONFIG_DIR"] = str(learner_config(Path(tempfile.mkdtemp(prefix="course-lab-config-"))))
    cmd = command(port, root, open_path, token, extra)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)   # nbgrader's extensions read nbgrader_config.py here
    if not wait_ready(proc, port, token):
        proc.terminate()
        raise RuntimeError(f"JupyterLab did not start on port {port} (is it in use? try LAB_PORT={port + 1})")
    return proc, f"http://127.0.0.1:{port}/lab?token={token}"


def serve(proc: subprocess.Popen, url: str, what: str) -> int:
    """Print the one line to open, then wait for the server until it stops or Ctrl-C."""
    print(f"\nOpen {url}   (Ctrl-C stops {what})\n", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.authoring.lab", description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--instructor", action="store_true", help="the course folder, with formgrader")
    parser.add_argument("extra", nargs="*", help="more options for jupyter lab")
    args = parser.parse_args(argv)
    who = "instructor view, with formgrader" if args.instructor else "your workspace: workspace/"
    print(f"lab: starting JupyterLab ({who}); the first start takes up to a minute ...", flush=True)
    try:
        proc, url = start(args.port, instructor=args.instructor, extra=args.extra)
    except RuntimeError as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1
    return serve(proc, url, "JupyterLab")


if __name__ == "__main__":
    sys.exit(main())

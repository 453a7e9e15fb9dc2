"""`make hub`: a class on JupyterHub, on this machine.

    make hub [ROSTER=class.csv] [HUB_PORT=8000]

The instructor (`instructor`, or COURSE_HUB_INSTRUCTORS) and every learner of the roster
(the CSV an LMS exports; login names from their names) become hub users; the hub prints
the URL, the names and the password. The whole loop then runs in the browser and the
course's commands: the instructor releases a chapter to the exchange
(`python -m autograder release CH --exchange-only`), learners fetch it in their
Assignments tab, answer, validate and submit; the instructor collects, grades through the
sandboxed pipeline and reports (`python -m autograder run CH --exchange`, or formgrader's
buttons), releases feedback (`nbgrader release_feedback CH`), and learners fetch it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .course import REPO
from .lab import serve

PROXY_DIR = REPO / "env" / "hub"
CONFIG = REPO / "env" / "jupyterhub_config.py"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proxy() -> Path:
    """configurable-http-proxy from npm (env/hub/package-lock.json), installed on first use."""
    exe = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    if not exe.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("JupyterHub's proxy needs Node.js and npm (e.g. sudo apt-get install nodejs npm)")
        print("hub: installing JupyterHub's proxy with npm (a few seconds) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PROXY_DIR, check=True)
    return exe


def users_from_roster(path: Path | None) -> list[str]:
    from ..grader.collect import student_id
    from ..grader.roster import read_roster

    if path is None:
        return ["learner1", "learner2"]
    return sorted({student_id(p.name or p.lms_id) for p in read_roster(path)})


def start(*, port: int, state: Path, learners: list[str], instructors: list[str] = ("instructor",),
          password: str | None = None, grading: Path | None = None, env: dict | None = None,
          quiet: bool = False):
    """Start JupyterHub; returns (process, url, password). Raises RuntimeError with the reason."""
    state.mkdir(parents=True, exist_ok=True)
    password = password or secrets.token_urlsafe(9)
    grading = Path(grading or os.environ.get("COURSE_GRADING") or REPO / "grading")
    (grading / "exchange").mkdir(parents=True, exist_ok=True)
    env = dict(env or os.environ)
    env.update({"COURSE_REPO": str(REPO), "COURSE_HUB_STATE": str(state), "COURSE_HUB_PYTHON": sys.executable,
                "COURSE_GRADING": str(grading), "COURSE_HUB_INSTRUCTORS": json.dumps(list(instructors)),
                "COURSE_HUB_LEARNERS": json.dumps(list(learners)), "COURSE_HUB_PORT": str(port),
                "COURSE_HUB_INTERNAL_PORT": str(_port()), "COURSE_HUB_PROXY_PORT": str(_port()),
                "COURSE_HUB_PROXY": str(proxy()), "COURSE_HUB_PASSWORD": password,
                "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"})
    log = open(state / "hub.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG), "--log-level=WARN"],
                            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterHub stopped at start; see {state / 'hub.log'}")
        try:
            with urllib.request.urlopen(f"{url}/hub/api", timeout=2):
                return proc, url, password
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"JupyterHub did not answer on {url}; see {state / 'hub.log'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.authoring.hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--roster", help="the class list exported from the LMS (CSV)")
    parser.add_argument("--state", default=str(REPO / "hub-state"), help="the hub's own files")
    args = parser.parse_args(argv)
    learners = users_from_roster(Path(args.roster) if args.roster else None)
    instructors = [u for u in os.environ.get("COURSE_HUB_INSTRUCTORS", "instructor").split(",") if u]
    print(f"hub: starting JupyterHub for {len(instructors)} instructor(s) and {len(learners)} learner(s) ...",
          flush=True)
    try:
        proc, url, password = start(port=args.port, state=Path(args.state), learners=learners,
                                    instructors=instructors)
    except RuntimeError as err:
        print(f"hub: {err}", file=sys.stderr)
        return 1
    print(f"  instructors: {', '.join(instructors)}\n  learners: {', '.join(learners)}\n  password: {password}")
    return serve(proc, url, "the hub")


if __name__ == "__main__":
    sys.exit(main())

"""`make lab`: JupyterLab on the course, with the course kernel and nbgrader's learner
extensions (assignment list, validate) using this repository's nbgrader_config.py.

Opens on notebooks/ (the learner release). Runs as root too (a course VM), where
JupyterLab needs --allow-root.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .course import REPO


def command(port: int, root: Path = REPO, open_path: str = "notebooks",
            extra: list[str] = ()) -> list[str]:
    """The jupyter lab command line: serve `root`, open `open_path` inside it."""
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.default_url=/lab/tree/{open_path}",
            "--MappingKernelManager.default_kernel_name=pytorch-course"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    return args + list(extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.lab", description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("extra", nargs="*", help="more options for jupyter lab")
    args = parser.parse_args(argv)
    (REPO / "grading" / "exchange").mkdir(parents=True, exist_ok=True)
    cmd = command(args.port, extra=args.extra)
    print(f"Starting JupyterLab on the course: open the http://127.0.0.1:{args.port}/lab?token=... "
          "URL it prints below (Ctrl-C stops it).", flush=True)
    os.chdir(REPO)  # nbgrader's extensions read nbgrader_config.py from here
    os.execv(cmd[0], cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())

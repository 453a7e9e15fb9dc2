"""Grading on a Dask cluster: a real `dask scheduler` and two `dask worker` processes on
this machine. Each task grades one submission in its own sandbox on a worker; results are
written by the grader's side only; a worker killed in the middle of the batch costs only a
retry of its tasks; the batch resumes as on one machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.course import RELEASE, SOLUTIONS
from autograder.grader import sandbox
from autograder.grader.grading import grade_batch
from mutation import Submission, build_notebook, load_variants

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("cluster"),
              pytest.mark.skipif(bool(sandbox.missing_tools()), reason="bubblewrap not installed")]
CH = "ch01_numpy_net"
BIN = Path(sys.executable).parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _class(root: Path, n: int) -> dict[str, Path]:
    release = nbformat.read(str(RELEASE / CH / f"{CH}.ipynb"), as_version=4)
    source = nbformat.read(str(SOLUTIONS / CH / f"{CH}.ipynb"), as_version=4)
    mutants, _ = load_variants(CH)
    files = {}
    for i in range(n):
        wrong = {"sse_loss": mutants["sse_loss"][0]} if i % 2 else {}
        nb = build_notebook(release, source, Submission("s", wrong, "mutant" if wrong else "solution"))
        path = root / f"learner{i}" / f"{CH}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
        files[f"learner{i}"] = path
    return files


@pytest.fixture()
def cluster(tmp_path):
    port = _port()
    env = {**os.environ, "COURSE_QUICK": "1", "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=log, stderr=subprocess.STDOUT)]
    address = f"tcp://127.0.0.1:{port}"
    time.sleep(2)
    workers = [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                                 "--no-dashboard", "--local-directory", str(tmp_path / f"w{k}")],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
               for k in range(2)]
    from distributed import Client
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    yield {"address": address, "workers": workers}
    for p in workers + procs:
        p.terminate()
    for p in workers + procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    log.close()


def test_a_batch_on_the_cluster_survives_a_lost_worker(cluster, tmp_path):
    files = _class(tmp_path / "in", 6)
    out = tmp_path / "results"

    def kill_one_worker_soon():
        time.sleep(12)               # after the control, while submissions are being graded
        os.killpg(cluster["workers"][0].pid, signal.SIGKILL)

    import threading
    threading.Thread(target=kill_one_worker_soon, daemon=True).start()
    results = grade_batch(CH, files, out, scheduler=cluster["address"], show_progress=False)
    assert cluster["workers"][0].poll() is not None, "the worker was not killed during the batch"
    for i in range(6):
        r = results[f"learner{i}"]
        assert r.status == "graded", r
        assert r.exercises["sse_loss"].score == (0 if i % 2 else 1), r
        assert r.score == (7 if i % 2 else 8)
        assert (out / f"learner{i}.json").is_file() and (out / "executed" / f"learner{i}.ipynb").is_file()
    again = grade_batch(CH, files, out, scheduler=cluster["address"], show_progress=False)
    assert {s: r.seconds for s, r in again.items()} == {s: r.seconds for s, r in results.items()}

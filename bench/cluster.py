"""Throughput of grading on a Dask cluster: a real `dask scheduler` and 1, then 2, `dask
worker` processes on this machine (one thread each), grading the same synthetic class.

Usage:  python bench/cluster.py [--learners 30] [--chapters ch01_numpy_net ch05_nn ch10_fashion_mnist]

The class is spread over the chapters (learner i hands in chapter i mod C; the chapters by
default span the course's cheapest and dearest to grade), each chapter one batch with its
control run. Prints submissions per minute for each cluster size, and the cost model the
README quotes: workers needed to grade 10,000 learners x 10 chapters in one hour at the
measured rate.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("COURSE_QUICK", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from grading import make_class  # noqa: E402

from autograder.grader.grading import grade_batch  # noqa: E402

BIN = Path(sys.executable).parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(files: dict[str, dict[str, Path]], workers: int, root: Path) -> float:
    port = _port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = open(root / f"dask-{workers}.log", "w")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=log, stderr=subprocess.STDOUT)]
    time.sleep(2)
    procs += [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard",
                                "--local-directory", str(root / f"w{workers}-{k}")],
                               env=env, stdout=log, stderr=subprocess.STDOUT) for k in range(workers)]
    from distributed import Client
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(workers, timeout=120)
    try:
        start = time.perf_counter()
        for chapter, subs in files.items():
            grade_batch(chapter, subs, root / f"results-{workers}" / chapter,
                        scheduler=address, show_progress=False)
        return time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        log.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--chapters", nargs="+", default=["ch01_numpy_net", "ch05_nn", "ch10_fashion_mnist"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        root = Path(tmp)
        files = make_class(root, args.chapters, args.learners, False)
        n = sum(len(subs) for subs in files.values())
        print(f"class: {n} submissions over {', '.join(args.chapters)}; {os.cpu_count()} cores")
        rates = {}
        for workers in (1, 2):
            seconds = run(files, workers, root)
            rates[workers] = n / seconds * 60
            print(f"  {workers} worker(s): {seconds:.1f} s, {rates[workers]:.1f} submissions/min "
                  f"(control run included)", flush=True)
    cores = os.cpu_count() or 1
    per_core = rates[2] / min(2, cores)   # a loaded machine: every core busy grading
    total = 10_000 * 10
    print(f"\ncost model: 10,000 learners x 10 chapters = {total} submissions; at {per_core:.1f} "
          f"submissions per core-minute (2 workers on {cores} cores) a 1-hour turnaround needs "
          f"{total / (per_core * 60):.0f} cores, e.g. {total / (per_core * 60 * 16):.0f} machines of 16 cores; "
          f"{total / per_core / 60:.0f} core-hours per run of the whole course")
    print(f"speed-up from 1 to 2 workers on this {cores}-core machine: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the instructor's grading pipeline on a synthetic class.

One class of learners across several chapters (correct, differently-written correct,
wrong and broken submissions) is graded three ways, one after the other, and the wall time
of each is printed:

  pipeline   `autograder.grader.grading.grade_batch`: a worker process and a sandboxed
             kernel per submission, verdicts out of the kernel, the batch's control run
             included, parallel over --workers;
  nbgrader   serial `nbgrader autograde` of the same submissions (one command per chapter,
             as an instructor would run it by hand), which the course's configuration routes
             through the same sandboxed worker;
  floor      the bare cost: executing the same notebooks with nbclient alone (no sandbox, no
             grading), with the same number of workers.

Usage:  python bench/grading.py [--learners 45] [--chapters CH ...] [--workers 2] [--every-chapter]
Run with COURSE_QUICK=1 (the default here), as the graded notebooks train in quick mode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("COURSE_QUICK", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the mutation data (tests/mutants) builds the class

import nbformat  # noqa: E402

from autograder.authoring.course import RELEASE, SOLUTIONS, Course, chapters  # noqa: E402
from autograder.authoring.notebooks import KERNELSPEC  # noqa: E402
from autograder.grader.grading import grade_batch  # noqa: E402
from mutation import Submission, build_notebook, load_variants  # noqa: E402

KINDS = ("correct", "alternative", "wrong", "wrong", "broken-json", "crashes")


def _learner_notebook(chapter: str, kind: str, k: int) -> bytes:
    """One learner's file: what a class hands in, in the proportions of KINDS."""
    release = nbformat.read(str(RELEASE / chapter / f"{chapter}.ipynb"), as_version=4)
    source = nbformat.read(str(SOLUTIONS / chapter / f"{chapter}.ipynb"), as_version=4)
    mutants, alternatives = load_variants(chapter)

    def pick(variants: dict) -> dict:
        return {ex: vs[k % len(vs)] for ex, vs in variants.items() if vs}

    if kind == "alternative":
        nb = build_notebook(release, source, Submission("s", pick(alternatives), "alternative"))
    elif kind == "wrong":
        nb = build_notebook(release, source, Submission("s", pick(mutants), "mutant"))
    elif kind == "crashes":
        nb = build_notebook(release, source, Submission("s", {}, "release"))
    else:
        nb = build_notebook(release, source, Submission("s", {}, "solution"))
    data = nbformat.writes(nb).encode()
    return data[: len(data) // 3] if kind == "broken-json" else data


def make_class(root: Path, chapter_names: list[str], learners: int,
               every_chapter: bool) -> dict[str, dict[str, Path]]:
    """{chapter: {student: path}}. By default learner i hands in chapter i mod C (a class
    spread over the chapters); with `every_chapter`, every learner hands in every chapter."""
    files: dict[str, dict[str, Path]] = {ch: {} for ch in chapter_names}
    for i in range(learners):
        student = f"learner{i:03d}"
        mine = chapter_names if every_chapter else [chapter_names[i % len(chapter_names)]]
        for ch in mine:
            kind = KINDS[(i // (1 if every_chapter else len(chapter_names))) % len(KINDS)]
            path = root / "class" / ch / student / f"{ch}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_learner_notebook(ch, kind, i))
            files[ch][student] = path
    return files


def run_pipeline(files, root: Path, workers: int) -> float:
    start = time.perf_counter()
    for ch, subs in files.items():
        results = grade_batch(ch, subs, root / "results" / ch, workers=workers, show_progress=False)
        full = sum(bool(r.exercises) and r.score == sum(e.points for e in r.exercises.values())
                   for r in results.values())
        print(f"  pipeline {ch}: {len(results)} graded, {full} with full marks", flush=True)
    return time.perf_counter() - start


def run_nbgrader(files, root: Path) -> float:
    course = Course.scratch(root / "nbgrader", list(files))
    for ch in files:
        course.generate(ch)
        for student, path in files[ch].items():
            course.submit(student, ch, path)
    start = time.perf_counter()
    for ch in files:
        # nbgrader exits non-zero when a submission cannot be read; the rest are graded.
        cmd = [sys.executable, "-m", "nbgrader", "autograde", ch, "--force", "--create", *course._args()]
        proc = subprocess.run(cmd, cwd=course.root, env=course._env(), capture_output=True, text=True)
        graded = len(list((course.root / "autograded").glob(f"*/{ch}/{ch}.ipynb")))
        print(f"  nbgrader {ch}: exit {proc.returncode}, {graded} autograded", flush=True)
    return time.perf_counter() - start


def _execute(path: str) -> bool:
    from nbclient import NotebookClient

    # The kernels inherit this worker's stderr: keep their start-up warnings out of the report.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - a broken file costs nothing to execute
        return False
    client = NotebookClient(nb, kernel_name=KERNELSPEC["name"], timeout=300, allow_errors=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    client.execute()
    return True


def run_floor(files, workers: int) -> float:
    paths = [str(p) for subs in files.values() for p in subs.values()]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        ran = sum(pool.map(_execute, paths))
    print(f"  floor: {ran} notebooks executed")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=45)
    parser.add_argument("--chapters", nargs="*", help="default: the first three chapters")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--every-chapter", action="store_true",
                        help="every learner hands in every chapter (default: one chapter each)")
    args = parser.parse_args(argv)
    names = args.chapters or chapters()[:3]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        files = make_class(root, names, args.learners, args.every_chapter)
        n = sum(len(s) for s in files.values())
        print(f"class: {args.learners} learners across {len(names)} chapters ({', '.join(names)}): {n} "
              f"submissions; kinds {', '.join(KINDS)}; {args.workers} workers on {os.cpu_count()} cores")
        times = {}
        for name, run in (("pipeline", lambda: run_pipeline(files, root, args.workers)),
                          ("nbgrader", lambda: run_nbgrader(files, root)),
                          ("floor", lambda: run_floor(files, args.workers))):
            times[name] = run()
            print(f"  {name}: {times[name]:.1f} s", flush=True)
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f}")
    for name, seconds in times.items():
        print(f"{name:9s} {seconds:8.1f} s   {seconds / n:6.2f} s per submission")
    print(f"pipeline / floor = {times['pipeline'] / times['floor']:.2f}   "
          f"nbgrader / pipeline = {times['nbgrader'] / times['pipeline']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

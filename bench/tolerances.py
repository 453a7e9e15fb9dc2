"""How much of its tolerance the instructor's solution uses, per spec and output, over many
salts and both thread counts: the measured error distribution every tolerance rests on.

Usage:  python bench/tolerances.py [--salts 30] [--chapters ch01_numpy_net ...]

Prints, for each output, the worst error ratio max|a - e| / (atol + rtol |e|) seen (0 = exact,
1 = at the limit) and the tolerance with its stated reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("COURSE_QUICK", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import matplotlib  # noqa: E402
import nbformat  # noqa: E402

from autograder.authoring.course import SOLUTIONS, chapters  # noqa: E402
from autograder.grader.check import get_spec  # noqa: E402
from autograder.grader.sweep import sweep, thread_counts  # noqa: E402
from mutation import hidden_checks, learner_namespace  # noqa: E402

matplotlib.use("Agg")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--salts", type=int, default=30)
    parser.add_argument("--chapters", nargs="*")
    args = parser.parse_args(argv)
    print(f"{'spec':42s} {'output':34s} {'worst':>8s}  tolerance (reason)")
    for ch in args.chapters or chapters():
        source = nbformat.read(str(SOLUTIONS / ch / f"{ch}.ipynb"), as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            for exercise, found in hidden_checks(source).items():
                for spec_name, obj_name in found:
                    spec = get_spec(spec_name)
                    obj = learner_namespace(source, Path(tmp) / exercise)[obj_name]
                    report = sweep(spec, obj, range(1000, 1000 + args.salts), thread_counts(), measure=True)
                    status = "" if not report.failed else f"   ({len(report.failed)} failing runs!)"
                    for output, worst in sorted(report.worst.items()):
                        tol = spec.tolerance(output)
                        print(f"{spec.name:42s} {output[:34]:34s} {worst:8.3g}  rtol={tol.rtol:g} "
                              f"atol={tol.atol:g} ({tol.why}){status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

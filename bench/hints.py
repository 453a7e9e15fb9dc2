"""The share of wrong answers whose failure message names the cause.

For every mutant in tests/mutants/: does its hidden check fail, does the failure carry a
Hint, and does the hint contain the cause the mutant declares? Counted per chapter and per
kind of mistake (value, rule, contract, device, dependency).

Usage:  python bench/hints.py [--chapters ch01_numpy_net ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("COURSE_QUICK", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import matplotlib  # noqa: E402
import nbformat  # noqa: E402

from autograder.authoring.course import SOLUTIONS, chapters  # noqa: E402
from autograder.grader.check import failures  # noqa: E402
from mutation import hidden_checks, learner_namespace, load_variants  # noqa: E402

matplotlib.use("Agg")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="*")
    args = parser.parse_args(argv)
    total, by_kind, named_by_kind = Counter(), Counter(), Counter()
    for ch in args.chapters or chapters():
        source = nbformat.read(str(SOLUTIONS / ch / f"{ch}.ipynb"), as_version=4)
        mutants, _ = load_variants(ch)
        calls = hidden_checks(source)
        with tempfile.TemporaryDirectory() as tmp:
            for exercise, variants in mutants.items():
                for k, v in enumerate(variants):
                    ns = learner_namespace(source, Path(tmp) / f"{exercise}{k}", {exercise: v.code})
                    messages = [str(f) for spec, obj in calls[exercise] for f in failures(spec, ns[obj])]
                    hints = [m.split("Hint:", 1)[1] for m in messages if "Hint:" in m]
                    named = bool(v.message) and any(v.message in h for h in hints)
                    total[(ch, "mutants")] += 1
                    total[(ch, "caught")] += bool(messages)
                    total[(ch, "with a hint")] += bool(hints)
                    total[(ch, "hint names the cause")] += named
                    by_kind[v.kind] += 1
                    named_by_kind[v.kind] += named
        row = {k: total[(ch, k)] for k in ("mutants", "caught", "with a hint", "hint names the cause")}
        print(f"{ch:26s} " + "  ".join(f"{k}: {n}" for k, n in row.items()), flush=True)
    mutants_n = sum(v for (c, k), v in total.items() if k == "mutants")
    named_n = sum(v for (c, k), v in total.items() if k == "hint names the cause")
    print(f"\nall chapters: {named_n} of {mutants_n} hints name the cause "
          f"({100 * named_n / max(mutants_n, 1):.1f} %)")
    for kind, n in sorted(by_kind.items()):
        print(f"  {kind:11s} {named_by_kind[kind]} of {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

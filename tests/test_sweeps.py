"""Every spec, proven on the inputs the grader may draw: for many salts (`Spec.sweep_salts`)
and each math thread count the grader may use (1, and every core), the instructor's
solution passes, the first mutant of the exercise fails, and each alternative correct
answer passes (on a tenth of the salts). A check is only as good as the inputs it was
proven on: the grading pipeline draws a fresh salt per batch.
"""

from __future__ import annotations

import os

import matplotlib
import nbformat
import pytest

from autograder.authoring.course import SOLUTIONS, chapters
from autograder.grader.check import get_spec
from autograder.grader.sweep import sweep, thread_counts
from mutation import hidden_checks, learner_namespace, load_variants

matplotlib.use("Agg")
FIRST_SALT = 1_000     # the grader's salts are drawn from [0, 10**6); 0 is the in-lab check
# `make test` sizes each sweep to keep the suite under 30 minutes; a deeper run (e.g. before a
# term, or after changing a spec) multiplies every spec's salts: COURSE_SWEEP_SCALE=10 make test.
SCALE = max(1, int(os.environ.get("COURSE_SWEEP_SCALE", "1")))


def _cases():
    for ch in chapters():
        try:
            source = nbformat.read(str(SOLUTIONS / ch / f"{ch}.ipynb"), as_version=4)
            calls = hidden_checks(source)
        except Exception as err:  # noqa: BLE001 - one broken chapter must not hide the others
            yield pytest.param(ch, "", "", f"{type(err).__name__}: {err}", id=f"{ch}-broken")
            continue
        for exercise, found in calls.items():
            for spec_name, obj_name in found:
                yield pytest.param(ch, exercise, spec_name, obj_name, id=f"{ch}-{exercise}",
                                   marks=pytest.mark.xdist_group(f"sweep-{ch}"))


@pytest.mark.parametrize("chapter,exercise,spec_name,obj_name", list(_cases()))
def test_sweep(tmp_path, monkeypatch, chapter, exercise, spec_name, obj_name):
    assert spec_name, f"{chapter} cannot be loaded: {obj_name}"
    monkeypatch.setenv("COURSE_QUICK", "1")
    spec = get_spec(spec_name)
    source = nbformat.read(str(SOLUTIONS / chapter / f"{chapter}.ipynb"), as_version=4)
    mutants, alternatives = load_variants(chapter)
    salts = range(FIRST_SALT, FIRST_SALT + spec.sweep_salts * SCALE)
    threads = thread_counts()

    reference = learner_namespace(source, tmp_path / "reference")[obj_name]
    report = sweep(spec, reference, salts, threads)
    assert not report.failed, (f"the reference fails {len(report.failed)} of {report.runs} runs; "
                               "first: salt {}, {} thread(s):\n{}".format(*report.failed[0]))

    wrong = mutants.get(exercise, [])
    assert wrong, f"{exercise} has no mutant to prove the spec can fail"
    mutant = learner_namespace(source, tmp_path / "mutant", {exercise: wrong[0].code})[obj_name]
    report = sweep(spec, mutant, salts, threads)
    passing = report.runs - len({(s, t) for s, t, _ in report.failed})
    assert passing == 0, f"mutant '{wrong[0].name}' passes {passing} of {report.runs} runs"

    few = range(FIRST_SALT, FIRST_SALT + max(3, spec.sweep_salts * SCALE // 10))
    for k, alt in enumerate(alternatives.get(exercise, [])):
        answer = learner_namespace(source, tmp_path / f"alt{k}", {exercise: alt.code})[obj_name]
        report = sweep(spec, answer, few, threads)
        assert not report.failed, (f"alternative '{alt.name}' fails {len(report.failed)} runs; "
                                   "first: salt {}, {} thread(s):\n{}".format(*report.failed[0]))

"""The checks on CUDA, for the day a GPU is lent (`make test-gpu`; skipped without one).

For every chapter's specs, on CUDA: the instructor's solution passes, every mutant fails,
every alternative passes; and the solution's outputs on CPU and on CUDA agree within each
output's tolerance (same salt, same inputs: `Rand` draws on the CPU, then moves them).
"""

from __future__ import annotations

import matplotlib
import nbformat
import pytest
import torch

from autograder.authoring.course import SOLUTIONS, chapters
from autograder.grader.check import failures, get_spec
from autograder.grader.compare import error_ratio
from autograder.grader.spec import Spec, make_inputs, plan
from autograder.learner import values
from autograder.learner.observe import observe
from mutation import hidden_checks, learner_namespace, load_variants

matplotlib.use("Agg")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]
SALT = 4242


def _cases():
    for ch in chapters():
        source = nbformat.read(str(SOLUTIONS / ch / f"{ch}.ipynb"), as_version=4)
        for exercise, found in hidden_checks(source).items():
            for spec_name, obj_name in found:
                yield pytest.param(ch, exercise, spec_name, obj_name, id=f"{ch}-{exercise}")


def _cuda_only(spec: Spec) -> Spec:
    """The spec's CUDA observations only (a numpy-only spec has none: it runs on the CPU)."""
    import dataclasses

    class OnCuda(Spec):
        def devices(self):
            return [] if self.numpy_only else ["cuda"]

    return OnCuda(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)})


@pytest.mark.parametrize("chapter,exercise,spec_name,obj_name", list(_cases()))
def test_on_cuda(tmp_path, monkeypatch, chapter, exercise, spec_name, obj_name):
    monkeypatch.setenv("COURSE_QUICK", "1")
    spec = get_spec(spec_name)
    if spec.numpy_only:
        pytest.skip("numpy only: no device")
    cuda = _cuda_only(spec)
    source = nbformat.read(str(SOLUTIONS / chapter / f"{chapter}.ipynb"), as_version=4)
    mutants, alternatives = load_variants(chapter)
    reference = learner_namespace(source, tmp_path / "ref")[obj_name]
    found = failures(cuda, reference, salt=SALT)
    assert not found, f"the solution fails on CUDA:\n{found[0]}"
    for k, m in enumerate(mutants.get(exercise, [])):
        obj = learner_namespace(source, tmp_path / f"m{k}", {exercise: m.code})[obj_name]
        assert failures(cuda, obj, salt=SALT), f"mutant '{m.name}' passes on CUDA"
    for k, a in enumerate(alternatives.get(exercise, [])):
        obj = learner_namespace(source, tmp_path / f"a{k}", {exercise: a.code})[obj_name]
        found = failures(cuda, obj, salt=SALT)
        assert not found, f"alternative '{a.name}' fails on CUDA:\n{found[0]}"
    # CPU and CUDA agree: the same inputs, the same outputs within each output's tolerance.
    call, stand_ins = spec.harness_call(), spec.isolation()
    outputs = {}
    for planned in plan(spec):
        if planned.device not in ("cpu", "cuda"):
            continue
        inputs = make_inputs(planned, SALT)
        obs = observe(call, reference, values.loads(values.dumps(inputs)), may_modify=spec.may_modify,
                      isolate=stand_ins)
        outputs[(planned.case.label, planned.device)] = spec.named_outputs(obs["result"])
    for (label, device), got in outputs.items():
        if device != "cuda" or (label, "cpu") not in outputs:
            continue
        cpu = outputs[(label, "cpu")]
        for name, value in got.items():
            moved = _to_cpu(value)
            ratio = error_ratio(moved, cpu[name], spec.tolerance(name))
            assert ratio <= 1.0, f"{name} differs between CPU and CUDA on case '{label}' (ratio {ratio:.3g})"


def _to_cpu(value):
    if type(value) is torch.Tensor:
        return value.cpu()
    if type(value) is tuple:
        return tuple(_to_cpu(v) for v in value)
    return value

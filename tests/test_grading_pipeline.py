"""The instructor's pipeline under faults and attacks, on real sandboxed kernels.

One batch of chapter-01 submissions is graded once (in parallel, sandboxed); each test
then checks one submission: bad input is reported and graded as what it is, the rest of
the batch is unaffected, and no attack gains a mark (most are also flagged).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from autograder.grader import sandbox
from autograder.grader.collect import collect_lms, student_id
from autograder.authoring.course import RELEASE, REPO, SOLUTIONS
from autograder.grader.grading import grade_batch, read_result
from mutation import Submission, build_notebook, load_variants

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("pipeline"),
              pytest.mark.skipif(not sandbox.sandbox_available(), reason="bubblewrap not installed")]
CH = "ch01_numpy_net"
POINTS = {"forward": 2.0, "sse_loss": 1.0, "backward": 3.0, "train": 2.0}
WRONG_LOSS = "def sse_loss(y_pred, y):\n    return float(np.mean((y_pred - y) ** 2))"


def _base():
    release = nbformat.read(str(RELEASE / CH / f"{CH}.ipynb"), as_version=4)
    source = nbformat.read(str(SOLUTIONS / CH / f"{CH}.ipynb"), as_version=4)
    return build_notebook(release, source, Submission("s", {}, "solution"))


def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _with(gid: str, code: str, before: str = ""):
    """The correct submission with one solution cell replaced (and code put before it)."""
    nb = _base()
    _cell(nb, gid).source = (before + "\n" if before else "") + code
    return nb


def _insert_after(nb, gid, code):
    idx = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(code))
    return nb


def _submissions(tmp: Path) -> dict[str, bytes]:
    good = nbformat.writes(_base()).encode()
    subs: dict[str, bytes] = {"correct": good, "correct-2": good}
    subs["malformed-json"] = b'{"cells": [ this is not json'
    subs["truncated"] = good[: len(good) // 2]
    subs["binary"] = bytes(range(256)) * 10
    other = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("x = 1")
    c.metadata["nbgrader"] = {"grade_id": "something_else", "solution": True, "grade": False,
                              "locked": False, "schema_version": 3}
    other.cells.append(c)
    subs["wrong-chapter"] = nbformat.writes(other).encode()

    nb = _base()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "backward"]
    subs["missing-answer-cell"] = nbformat.writes(nb).encode()
    nb = _base()
    dup = nbformat.from_dict(_cell(nb, "sse_loss"))
    dup.source = WRONG_LOSS
    nb.cells.append(dup)
    subs["duplicated-grade-id"] = nbformat.writes(nb).encode()
    nb = _base()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_forward"]
    subs["deleted-test-cell"] = nbformat.writes(nb).encode()
    nb = _with("sse_loss", WRONG_LOSS)
    _cell(nb, "test_sse_loss").source = "pass"
    subs["edited-test-cell"] = nbformat.writes(nb).encode()
    for c in nb.cells:
        c["id"] = "same-id"
    subs["duplicated-cell-ids"] = json.dumps(nbformat.from_dict(nb)).encode()

    subs["kernel-dies"] = nbformat.writes(_insert_after(_base(), "sse_loss", "import os\nos._exit(1)")).encode()
    subs["infinite-loop"] = nbformat.writes(_insert_after(_base(), "forward", "while True:\n    pass")).encode()
    subs["ignores-interrupt"] = nbformat.writes(_insert_after(_base(), "forward", (
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"))).encode()
    subs["memory-bomb"] = nbformat.writes(_insert_after(_base(), "forward", (
        "import torch\nhuge = torch.zeros(10**6, 10**6)\n"
        "def grow():\n    blocks = []\n    while True:\n        blocks.append(bytearray(10**8))\ngrow()"))).encode()
    subs["memory-hog"] = nbformat.writes(_insert_after(
        _base(), "forward", "blocks = []\nwhile True:\n    blocks.append(bytearray(10**8))")).encode()
    subs["megabytes-of-output"] = nbformat.writes(_insert_after(
        _base(), "forward", "for i in range(200000):\n    print('spam' * 10)")).encode()
    subs["harmless-stderr"] = nbformat.writes(_with("forward", _cell(_base(), "forward").source,
        "import warnings, sys\nwarnings.warn('a library warning')\nprint('noise', file=sys.stderr)")).encode()
    subs["writes-and-deletes-files"] = nbformat.writes(_insert_after(_base(), "forward", """
import os, shutil, pathlib
for target in ["/work/main/solutions", "/work/main/grading", "/work/main/notebooks", "../..", "/tmp"]:
    shutil.rmtree(target, ignore_errors=True)
pathlib.Path("written_by_learner.txt").write_text("x")
try:
    pathlib.Path("/work/main/autograder/evil.py").write_text("x")
except OSError as e:
    print("blocked:", e)
""".replace("/work/main", str(REPO)))).encode()

    # ----- attacks: a wrong sse_loss plus a trick that tries to turn it into a pass
    tricks = {
        "attack-custom-exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
        "attack-excepthook": "import sys\nsys.excepthook = lambda *a: None",
        "attack-input-transformer": (
            "def _neuter(lines):\n"
            "    text = ''.join(lines)\n"
            "    return ['pass\\n'] if '_check(' in text or 'assert' in text else lines\n"
            "get_ipython().input_transformers_post.append(_neuter)"),
        "attack-patch-autograder": (
            "import autograder, autograder.spec, autograder.compare\n"
            "autograder.check = autograder.spec.check = lambda *a, **k: None\n"
            "autograder.compare.compare = lambda *a, **k: None"),
        "attack-patch-numpy-torch": (
            "import numpy, torch\nnumpy.isclose = lambda *a, **k: True\nnumpy.allclose = lambda *a, **k: True\n"
            "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None"),
        "attack-os-exit-after-answer": "import atexit, os\natexit.register(lambda: os._exit(0))",
        "attack-read-solutions": (
            "import os, glob\nfound = glob.glob('/work/main/solutions/**/*.ipynb', recursive=True)"
            " + glob.glob(os.path.expanduser('~/**/solutions/**/*.ipynb'), recursive=True)\n"
            "print('NBGRADER_EXECUTION', os.environ.get('NBGRADER_EXECUTION'), found)\n"
            "assert not found, found").replace("/work/main", str(REPO)),
        "attack-gradebook": (
            "import sqlite3, os\np = '/work/main/grading/gradebook.db'\nprint(os.path.exists(p))\n"
            "try:\n    sqlite3.connect(p).execute('create table pwned(x)')\nexcept Exception as e:\n    print(e)"
        ).replace("/work/main", str(REPO)),
        "attack-network": (
            "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
            "    print('NETWORK OPEN')\nexcept OSError as e:\n    print('no network:', e)"),
        "attack-patch-harvest": (
            "import autograder.harvest as H, autograder.spec as S, importlib\n"
            "def fake(chapter, salt, out_dir, ns):\n"
            "    from pathlib import Path\n"
            "    specs = importlib.import_module('autograder.specs.' + chapter).SPECS\n"
            "    Path(out_dir).mkdir(parents=True, exist_ok=True)\n"
            "    for name, spec in list(specs.items()) + [(H.CANARY, next(iter(specs.values())))]:\n"
            "        for i, case in enumerate(spec.cases):\n"
            "            inputs = S._case_inputs(spec, case, 'cpu', salt)\n"
            "            out = spec.oracle(inputs)\n"
            "            obs = S.Observation(spec.name, case.label, 'cpu', out, None, salt)\n"
            "            (Path(out_dir) / f'{name}.{i:03d}.obs').write_bytes(obs.dumps())\n"
            "H.harvest = fake"),
    }
    for name, trick in tricks.items():
        subs[name] = nbformat.writes(_with("sse_loss", WRONG_LOSS, trick)).encode()
    subs["attack-always-equal"] = nbformat.writes(_with("sse_loss", (
        "class Yes(float):\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
        "def sse_loss(y_pred, y):\n    return Yes(0.0)"))).encode()
    subs["attack-tensor-subclass"] = nbformat.writes(_with("sse_loss", (
        "import torch\nclass Liar(torch.Tensor):\n    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return True\n"
        "def sse_loss(y_pred, y):\n    return torch.zeros(()).as_subclass(Liar)"))).encode()
    return subs


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    files = {}
    for student, data in _submissions(tmp).items():
        path = tmp / "in" / student / f"{CH}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        files[student] = path
    # What a learner's code tries to delete: this chapter's source and release, the core.
    watched = [*(REPO / "solutions" / CH).rglob("*.ipynb"), *(REPO / "notebooks" / CH).rglob("*.ipynb"),
               *(REPO / "autograder").glob("*.py")]
    repo_before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in watched}
    limits = sandbox.Limits(cell_seconds=45, memory_bytes=3 * 1024 ** 3, output_bytes=200_000)
    policy = sandbox.SandboxPolicy(hidden=[tmp])
    out = tmp / "results"
    start = time.time()
    results = grade_batch(CH, files, out, workers=2, limits=limits, policy=policy, salt=12345,
                          show_progress=False)
    seconds = time.time() - start
    return {"results": results, "files": files, "out": out, "limits": limits, "policy": policy,
            "repo_before": repo_before, "seconds": seconds, "tmp": tmp}


def _scores(batch, student):
    r = batch["results"][student]
    return {e: x.score for e, x in r.exercises.items()}


def test_correct_submissions_get_full_marks(batch):
    for student in ("correct", "correct-2"):
        assert _scores(batch, student) == POINTS, batch["results"][student]
        assert not batch["results"][student].flags


@pytest.mark.parametrize("student, status, words", [
    ("malformed-json", "malformed", "cannot be read"),
    ("truncated", "malformed", "truncated"),
    ("binary", "malformed", "not text"),
    ("wrong-chapter", "wrong-chapter", "none of ch01_numpy_net's exercises"),
])
def test_unreadable_submissions_are_reported_and_zero(batch, student, status, words):
    r = batch["results"][student]
    assert r.status == status and r.score == 0
    assert any(words in p for p in r.problems), r.problems


def test_missing_answer_cell_costs_only_that_exercise(batch):
    r = batch["results"]["missing-answer-cell"]
    assert _scores(batch, "missing-answer-cell") == {**POINTS, "backward": 0.0}
    assert any("'backward' is missing" in p for p in r.problems)


def test_duplicated_grade_id_grades_the_first_copy(batch):
    r = batch["results"]["duplicated-grade-id"]
    assert _scores(batch, "duplicated-grade-id") == POINTS
    assert any("more than once" in p for p in r.problems)


def test_deleted_test_cell_is_restored_and_graded(batch):
    r = batch["results"]["deleted-test-cell"]
    assert _scores(batch, "deleted-test-cell") == POINTS
    assert r.exercises["forward"].in_kernel_passed is True
    assert any("restored" in p for p in r.problems)


def test_edited_test_cell_does_not_help(batch):
    assert _scores(batch, "edited-test-cell") == {**POINTS, "sse_loss": 0.0}
    assert _scores(batch, "duplicated-cell-ids") == {**POINTS, "sse_loss": 0.0}


def test_dying_kernel_is_reported(batch):
    r = batch["results"]["kernel-dies"]
    assert r.score == 0 and any("kernel died" in p for p in r.problems)


def test_time_memory_and_output_limits_fail_one_cell_only(batch):
    for student in ("infinite-loop", "memory-bomb", "megabytes-of-output"):
        assert _scores(batch, student) == POINTS, (student, batch["results"][student])
    assert any("time limit" in p for p in batch["results"]["infinite-loop"].problems)


def test_memory_kept_by_the_learner_is_reported(batch):
    # Its global list may keep the kernel at the memory limit: then whatever the grader
    # cannot record scores zero, and the learner reads why; otherwise nothing is lost.
    r = batch["results"]["memory-hog"]
    assert _scores(batch, "memory-hog") == POINTS or any("MemoryError" in p for p in r.problems), r


def test_cell_that_ignores_the_interrupt_stops_only_its_own_notebook(batch):
    r = batch["results"]["ignores-interrupt"]
    assert r.score == 0 and any("ignored the interrupt" in p for p in r.problems), r


def test_harmless_stderr_keeps_full_marks(batch):
    assert _scores(batch, "harmless-stderr") == POINTS


def test_learner_code_cannot_touch_the_course(batch):
    assert _scores(batch, "writes-and-deletes-files") == POINTS
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in batch["repo_before"] if p.exists()}
    assert after == batch["repo_before"]
    assert not (REPO / "autograder" / "evil.py").exists()


ATTACKS = ["attack-custom-exc", "attack-excepthook", "attack-input-transformer",
           "attack-patch-autograder", "attack-patch-numpy-torch", "attack-os-exit-after-answer",
           "attack-read-solutions", "attack-gradebook", "attack-network", "attack-patch-harvest",
           "attack-always-equal", "attack-tensor-subclass"]
# The tricks that do fool the kernel (its own test cell then "passes") are flagged by the
# disagreement with the grader, or by the canary. The others fail inside the kernel too
# (a replaced sys.excepthook is never called by IPython; the visible asserts run before a
# patched autograder.check), and every one that reaches outside its exercise (imports
# sys/os/socket/autograder, calls get_ipython, patches a library) is flagged for review.
DISAGREEING = {"attack-custom-exc", "attack-input-transformer", "attack-patch-numpy-torch",
               "attack-patch-harvest"}
FLAGGED = set(ATTACKS) - {"attack-always-equal", "attack-tensor-subclass"}


@pytest.mark.parametrize("student", ATTACKS)
def test_attack_gains_nothing(batch, student):
    scores = _scores(batch, student)
    assert scores["sse_loss"] == 0, f"{student} got marks for a wrong answer: {batch['results'][student]}"
    flags = " | ".join(batch["results"][student].flags)
    if student in FLAGGED:
        assert flags, f"{student} was not flagged"
    if student in DISAGREEING:
        assert "in-kernel test passed" in flags or "canary" in flags, flags


def test_other_learners_results_are_unaffected(batch):
    assert _scores(batch, "correct") == _scores(batch, "correct-2") == POINTS


def test_interrupted_run_resumes_without_regrading(batch):
    out = batch["out"]
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    (out / "correct-2.json").unlink()           # as if the run had stopped before it
    again = grade_batch(CH, {k: batch["files"][k] for k in ("correct", "correct-2", "truncated")},
                        out, workers=1, limits=batch["limits"], policy=batch["policy"], salt=12345,
                        show_progress=False)
    assert _scores({"results": again}, "correct-2") == POINTS
    assert (out / "correct.json").stat().st_mtime_ns == kept["correct.json"]
    assert (out / "truncated.json").stat().st_mtime_ns == kept["truncated.json"]


def test_lms_collection_keeps_every_original(tmp_path):
    lms = tmp_path / "download"
    lms.mkdir()
    good = nbformat.writes(_base()).encode()
    (lms / f"Doe, Jane_1234_assignsubmission_file_{CH}.ipynb").write_bytes(good)
    (lms / "Roe Rick_55_late").mkdir()
    (lms / "Roe Rick_55_late" / "my notebook (1).ipynb").write_bytes(b"{broken")
    root = tmp_path / "grading"
    first = collect_lms(lms, CH, root)
    assert sorted(c.student for c in first) == ["doe-jane-1234", "roe-rick-55"]
    again = collect_lms(lms, CH, root)                      # same files: nothing new
    assert not any(c.new for c in again)
    (lms / f"Doe, Jane_1234_assignsubmission_file_{CH}.ipynb").write_bytes(good + b"\n")
    third = collect_lms(lms, CH, root)
    originals = sorted((root / "originals" / "doe-jane-1234").iterdir())
    assert len(originals) == 2 and originals[0].read_bytes() == good
    assert (root / "submitted" / "doe-jane-1234" / CH / f"{CH}.ipynb").read_bytes() == good + b"\n"
    assert any(c.new for c in third)
    assert student_id("Smith, Anne_777_assignsubmission_file_ch01_numpy_net.ipynb", CH) == "smith-anne-777"


def test_kernel_sockets_fit_the_unix_path_limit(tmp_path):
    # Regression: a work folder inside a deep results folder gave sockets longer than the
    # ~107-byte Unix limit and every exercise scored zero. Work folders are now short temp
    # folders; a too-long one is refused with a message that names it.
    deep = tmp_path / ("x" * 60) / ("y" * 40)
    with pytest.raises(ValueError, match="too long"):
        sandbox.kernel_manager(deep, sandbox.Limits(), None)
    assert sandbox.kernel_manager(Path("/tmp/grade-a-b"), sandbox.Limits(), None).ip == "/tmp/grade-a-b/.kernel"


@pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap")
def test_sandbox_keeps_the_environment_when_the_course_sits_in_a_hidden_folder(tmp_path):
    # Regression: hiding the temp folder after binding the course's .venv blanked the .venv
    # of a course cloned under /tmp, and every kernel died at start.
    import subprocess
    import sys
    policy = sandbox.SandboxPolicy(hidden=[REPO.parent, tmp_path])
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run(policy.bwrap_args(work) + [sys.executable, "-c", "import autograder, os; "
                         "print(os.path.isdir(os.path.join(autograder.__path__[0], '..', 'solutions')))"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"      # the course is visible, its solutions are not

"""The grading pipeline under faults and attacks, on real sandboxed kernels.

One batch of chapter-01 submissions is graded once (in parallel, sandboxed, as whoever
runs the tests: root in CI); each test then checks one submission. Bad input is reported
and graded as what it is, the rest of the batch is unaffected, and no attack gains a
mark, reads or writes anything outside its work folder, or touches another learner.
The attacks are a wrong `sse_loss` plus one trick each, by the classes of the README's
security section: escape, forgery, leaks, exhaustion.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.course import RELEASE, REPO, SOLUTIONS
from autograder.grader import sandbox
from autograder.grader.grading import grade_batch, read_result, run_worker, solution_notebook
from mutation import Submission, build_notebook

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("pipeline"),
              pytest.mark.skipif(bool(sandbox.missing_tools()), reason="bubblewrap not installed")]
CH = "ch01_numpy_net"
POINTS = {"forward": 2.0, "sse_loss": 1.0, "backward": 3.0, "train": 2.0}
WRONG_LOSS = "def sse_loss(y_pred, y):\n    return float(np.mean((y_pred - y) ** 2))"
SECRET = "grader-secret-7c1f9a"           # in the grader's environment and in a host file
LINGER = "987654"                         # a detached process's marker: it must not survive


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


def _insert_after(nb, gid, code, times: int = 1):
    idx = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
    for _ in range(times):
        nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(code))
    return nb


def _w(nb) -> bytes:
    return nbformat.writes(nb).encode()


def _submissions(tmp: Path, secret_file: Path, results: Path) -> dict[str, bytes]:
    good = _w(_base())
    subs: dict[str, bytes] = {"correct": good, "correct-2": good, "with-bom": b"\xef\xbb\xbf" + good}
    # ----- faults: graded as what they are
    subs["malformed-json"] = b'{"cells": [ this is not json'
    subs["truncated"] = good[: len(good) // 2]
    subs["binary"] = bytes(range(256)) * 10
    other = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("x = 1")
    c.metadata["nbgrader"] = {"grade_id": "something_else", "solution": True, "grade": False,
                              "locked": False, "schema_version": 3}
    other.cells.append(c)
    subs["wrong-chapter"] = _w(other)
    nb = _base()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "backward"]
    subs["missing-answer-cell"] = _w(nb)
    nb = _base()
    dup = nbformat.from_dict(_cell(nb, "sse_loss"))
    dup.source = WRONG_LOSS
    nb.cells.append(dup)
    subs["duplicated-grade-id"] = _w(nb)
    nb = _base()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_forward"]
    subs["deleted-test-cell"] = _w(nb)
    nb = _with("sse_loss", WRONG_LOSS)
    _cell(nb, "test_sse_loss").source = "pass"
    subs["edited-test-cell"] = _w(nb)
    for c in nb.cells:
        c["id"] = "same-id"
    subs["duplicated-cell-ids"] = json.dumps(nbformat.from_dict(nb)).encode()
    subs["meta-tensor-result"] = _w(_with("forward", (
        "def forward(x, w1, w2):\n    import torch\n"
        "    t = torch.empty(x.shape[0], w2.shape[1], device='meta')\n    return t, t, t")))

    # ----- a kernel that misbehaves: limits hold, the notebook is replayed without the cell
    subs["kernel-dies"] = _w(_insert_after(_base(), "sse_loss", "import os\nos._exit(1)"))
    subs["infinite-loop"] = _w(_insert_after(_base(), "forward", "while True:\n    pass"))
    subs["ignores-interrupt"] = _w(_insert_after(_base(), "forward", (
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")))
    subs["memory-bomb"] = _w(_insert_after(_base(), "forward", (
        "import torch\nhuge = torch.zeros(10**6, 10**6)")))
    subs["megabytes-of-output"] = _w(_insert_after(_base(), "forward", "for i in range(200000):\n    print('spam' * 10)"))
    subs["harmless-stderr"] = _w(_with("forward", _cell(_base(), "forward").source,
                                       "import warnings, sys\nwarnings.warn('a library warning')\n"
                                       "print('noise', file=sys.stderr)"))
    subs["fills-tmp"] = _w(_insert_after(_base(), "forward", (
        "block = b'x' * 2**20\ntry:\n    with open('/tmp/fill', 'wb') as f:\n"
        "        for _ in range(100_000):\n            f.write(block)\nexcept OSError as e:\n    print('stopped:', e)")))
    subs["many-small-files"] = _w(_insert_after(_base(), "forward", (
        "import os\nn = 0\ntry:\n    while n < 10**7:\n        open(f'f{n}', 'w').close(); n += 1\n"
        "except OSError as e:\n    print('stopped after', n, 'files:', e)")))
    subs["fork-bomb"] = _w(_insert_after(_base(), "forward", (
        "import subprocess\nkids = []\ntry:\n    for _ in range(10_000):\n"
        f"        kids.append(subprocess.Popen(['sleep', '{LINGER}']))\n"
        "except OSError as e:\n    print('stopped after', len(kids), 'processes:', e)")))
    subs["many-slow-cells"] = _w(_insert_after(_base(), "forward", "import time\ntime.sleep(7)", times=12))
    subs["too-many-cells"] = _w(_insert_after(_base(), "forward", "x_extra = 1", times=400))
    subs["writes-and-deletes-files"] = _w(_insert_after(_base(), "forward", f"""
import os, shutil, pathlib
for target in [{str(REPO / 'solutions')!r}, {str(REPO / 'grading')!r}, {str(results)!r}, "../..", "/tmp"]:
    shutil.rmtree(target, ignore_errors=True)
pathlib.Path("written_by_learner.txt").write_text("x")
for target in [{str(REPO / 'autograder' / 'evil.py')!r}, {str(tmp / 'evil.txt')!r}]:
    try:
        pathlib.Path(target).write_text("x")
    except OSError as e:
        print("blocked:", e)
"""))

    # ----- attacks: a wrong sse_loss plus one trick that tries to turn it into a pass
    tricks = {
        # escape
        "attack-proc-escape": (
            "import os, pathlib\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n"
            f"        for t in ['/proc/' + pid + '/root' + {str(tmp / 'escaped.txt')!r}]:\n"
            "            try:\n                pathlib.Path(t).write_text('x')\n"
            "            except OSError:\n                pass"),
        "attack-kill-everything": (
            "import os, signal\nfor pid in [os.getppid(), 1, -1]:\n    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass"),
        "attack-detached-process": (
            "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 2; for f in $(find / -name \"*.json\" "
            f"-path \"*results*\" 2>/dev/null); do echo {{}} > $f; done; sleep {LINGER}'], "
            "start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL)"),
        # forgery
        "attack-custom-exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
        "attack-excepthook": "import sys\nsys.excepthook = lambda *a: None",
        "attack-input-transformer": (
            "def _neuter(lines):\n"
            "    text = ''.join(lines)\n"
            "    return ['pass\\n'] if 'check(' in text or 'assert' in text else lines\n"
            "get_ipython().input_transformers_post.append(_neuter)"),
        "attack-patch-autograder": (
            "import autograder, autograder.learner.api as api\n"
            "autograder.check = api.check = lambda *a, **k: None"),
        "attack-patch-numpy-torch": (
            "import numpy, torch\nnumpy.isclose = lambda *a, **k: True\nnumpy.allclose = lambda *a, **k: True\n"
            "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None"),
        "attack-os-exit-after-answer": "import atexit, os\natexit.register(lambda: os._exit(0))",
        "attack-reach-oracle": (
            "import importlib, gc\nfound = []\nfor name in ['autograder.grader.specs.ch01', "
            "'autograder.grader.check', 'autograder.grader.isolation.ch01']:\n    try:\n"
            "        found.append(importlib.import_module(name))\n    except ImportError:\n        pass\n"
            "found += [o for o in gc.get_objects() if callable(o) and 'reference' in getattr(o, '__name__', '')]\n"
            "assert not found, found"),
        "attack-pre-run-hook": (
            "def _swap(info):\n    import sys\n    try:\n        from autograder.grader.specs import ch01\n"
            "        sys.modules['__main__'].sse_loss = lambda yp, y: ch01.reference_loss(yp, y)\n"
            "    except ImportError:\n        pass\n"
            "get_ipython().events.register('pre_run_cell', _swap)"),
        "attack-outbox-thread": (
            "import threading, os, time, glob\n"
            "def _forge():\n    while True:\n        for d in [os.path.join(os.getcwd(), '..', 'outbox')]:\n"
            "            for k in range(3):\n                try:\n"
            "                    open(os.path.join(d, f'sse_loss.cpu.{k}.obs'), 'wb').write(b'forged')\n"
            "                    open(os.path.join(d, f'sse_loss.cuda.{k}.obs'), 'wb').write(b'forged')\n"
            "                except OSError:\n                    pass\n        time.sleep(0.01)\n"
            "threading.Thread(target=_forge, daemon=True).start()"),
        "attack-fake-kernel-module": (
            "import sys, types\nfake = types.ModuleType('autograder.learner.kernel')\n"
            "fake.register = lambda *a, **k: None\nfake.harvest = lambda *a, **k: 0\n"
            "import autograder.learner\n"
            "sys.modules['autograder.learner.kernel'] = autograder.learner.kernel = fake"),
        "attack-read-secrets": (
            "import os, glob\nseen = []\n"
            f"for p in [{str(secret_file)!r}, '/etc/shadow', '/root/.bash_history', {str(REPO / 'solutions')!r}, "
            f"{str(REPO.parent / 'shared')!r}, {str(REPO / 'grading')!r}, {str(REPO / 'autograder' / 'grader')!r}]:\n"
            "    try:\n        seen.append(open(p).read()[:200])\n    except OSError:\n"
            "        seen += os.listdir(p) if os.path.isdir(p) else []\n"
            "raise RuntimeError('LEAK ' + repr(seen) + ' ENV ' + repr(dict(os.environ)) + 'x' * 100000)"),
        "attack-network": (
            "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
            "    print('NETWORK OPEN')\nexcept OSError as e:\n    print('no network:', e)"),
    }
    for name, trick in tricks.items():
        subs[name] = _w(_with("sse_loss", WRONG_LOSS, trick))
    subs["attack-always-equal"] = _w(_with("sse_loss", (
        "class Yes(float):\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
        "def sse_loss(y_pred, y):\n    return Yes(0.0)")))
    subs["attack-tensor-subclass"] = _w(_with("sse_loss", (
        "import torch\nclass Liar(torch.Tensor):\n    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return True\n"
        "def sse_loss(y_pred, y):\n    return torch.zeros(()).as_subclass(Liar)")))
    subs["attack-stand-in-theft"] = _w(_with_theft())
    return subs


def _with_theft():
    """A wrong backward; its train, run while train is recorded (the stand-ins are then in
    reach), forges backward's observations from its job file and the stand-in backward."""
    nb = _with("backward", "def backward(x, y, h, h_relu, y_pred, w2):\n"
                           "    return np.zeros((x.shape[1], w2.shape[0])), h_relu.T @ (y_pred - y)")
    _cell(nb, "train").source = _cell(nb, "train").source.replace(
        "    losses = []", (
            "    import glob, os\n    from autograder.learner import values, kernel\n"
            "    for job in glob.glob(os.path.join(os.getcwd(), '..', 'jobs', 'backward.job')):\n"
            "        outbox = os.path.join(os.getcwd(), '..', 'outbox')\n"
            "        for item in values.load(job)['items']:\n"
            "            i = item['inputs']\n"
            "            kernel._write(__import__('pathlib').Path(outbox), item['id'], {'result': backward("
            "i['x'], i['y'], i['h'], i['h_relu'], i['y_pred'], i['w2']), 'error': None, 'changed': {}, 'numerics': {}})\n"
            "    losses = []"), 1)
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    secret_file = tmp / "secret.txt"
    secret_file.write_text(SECRET)
    out = tmp / "results"
    files = {}
    for student, data in _submissions(tmp, secret_file, out).items():
        path = tmp / "in" / student / f"{CH}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        files[student] = path
    watched = [REPO / "autograder" / "__init__.py", *(REPO / "autograder" / "learner").glob("*.py"),
               *(REPO / "autograder" / "grader").glob("*.py"), REPO / "nbgrader_config.py"]
    repo_before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in watched}
    grading_existed = (REPO / "grading").exists()
    limits = sandbox.Limits(cell_seconds=10, total_seconds=45, output_bytes=200_000,
                            tmpfs_bytes=256 * 1024 ** 2, inodes=5_000, processes=48, cells=300)
    os.environ["COURSE_TEST_SECRET"] = SECRET
    start = time.time()
    try:
        results = grade_batch(CH, files, out, workers=2, limits=limits, show_progress=False)
    finally:
        os.environ.pop("COURSE_TEST_SECRET", None)
    seconds = time.time() - start
    kept = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.glob("*.json")}
    time.sleep(3)     # the detached process's moment to act, had it survived
    return {"results": results, "files": files, "out": out, "limits": limits, "tmp": tmp,
            "grading_existed": grading_existed,
            "repo_before": repo_before, "seconds": seconds, "kept": kept}


def _scores(batch, student):
    r = batch["results"][student]
    return {e: x.score for e, x in r.exercises.items()}


# ----------------------------------------------------------------------------- faults
def test_correct_submissions_get_full_marks(batch):
    for student in ("correct", "correct-2", "with-bom"):
        r = batch["results"][student]
        assert _scores(batch, student) == POINTS, r
        assert not r.flags and not r.problems, r


def test_the_batch_has_a_passing_control(batch):
    record = json.loads((batch["out"] / "batch.json").read_text())
    assert record["control"] == "passed" and all(r.salt == record["salt"] for r in batch["results"].values())


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


def test_a_meta_tensor_costs_only_its_exercise(batch):
    r = batch["results"]["meta-tensor-result"]
    assert _scores(batch, "meta-tensor-result") == {**POINTS, "forward": 0.0}, r
    assert "meta" in r.exercises["forward"].message or "numpy" in r.exercises["forward"].message


@pytest.mark.parametrize("student, words", [
    ("kernel-dies", "stopped the kernel"),
    ("ignores-interrupt", "ignored the interrupt"),
    ("infinite-loop", "time limit"),
    ("memory-bomb", ""),
    ("megabytes-of-output", ""),
    ("fills-tmp", ""),
    ("many-small-files", ""),
    ("fork-bomb", ""),
    ("too-many-cells", "left out"),
])
def test_limits_cost_only_the_cell_at_fault(batch, student, words):
    r = batch["results"][student]
    assert _scores(batch, student) == POINTS, r
    assert not words or any(words in p for p in r.problems), r.problems


def test_the_time_budget_bounds_a_notebook_of_slow_cells(batch):
    r = batch["results"]["many-slow-cells"]
    assert _scores(batch, "many-slow-cells") == POINTS, r
    assert any("time budget" in p for p in r.problems), r.problems
    assert r.seconds < batch["limits"].total_seconds + 60


def test_writable_space_is_bounded(batch):
    executed = batch["out"] / "executed"
    for student, words in (("fills-tmp", ("No space left", "File too large")),
                           ("many-small-files", ("No space left",)), ("fork-bomb", ("stopped after",))):
        text = (executed / f"{student}.ipynb").read_text()
        assert any(w in text for w in words), student


def test_harmless_stderr_keeps_full_marks(batch):
    assert _scores(batch, "harmless-stderr") == POINTS


def test_learner_code_cannot_touch_the_course(batch):
    assert _scores(batch, "writes-and-deletes-files") == POINTS
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in batch["repo_before"] if p.exists()}
    assert after == batch["repo_before"]
    assert not (REPO / "autograder" / "evil.py").exists() and not (batch["tmp"] / "evil.txt").exists()
    assert (REPO / "solutions" / CH / f"{CH}.ipynb").is_file() and (REPO / "grading").exists() == \
        batch["grading_existed"]


# ----------------------------------------------------------------------------- attacks
ATTACKS = ["attack-proc-escape", "attack-kill-everything", "attack-detached-process",
           "attack-custom-exc", "attack-excepthook", "attack-input-transformer",
           "attack-patch-autograder", "attack-patch-numpy-torch", "attack-os-exit-after-answer",
           "attack-reach-oracle", "attack-pre-run-hook", "attack-outbox-thread",
           "attack-fake-kernel-module", "attack-read-secrets", "attack-network",
           "attack-always-equal", "attack-tensor-subclass"]


@pytest.mark.parametrize("student", ATTACKS)
def test_attack_gains_nothing_and_is_flagged(batch, student):
    r = batch["results"][student]
    scores = _scores(batch, student)
    assert scores["sse_loss"] == 0, f"{student} got marks for a wrong answer: {r}"
    if student not in ("attack-fake-kernel-module", "attack-outbox-thread"):
        assert scores == {**POINTS, "sse_loss": 0.0}, f"{student} lost other exercises: {r}"
    if student not in ("attack-always-equal", "attack-tensor-subclass"):
        assert r.flags, f"{student} was not flagged: {r}"


def test_forged_observations_are_counted_as_tampering(batch):
    for student in ("attack-outbox-thread", "attack-fake-kernel-module"):
        flags = " | ".join(batch["results"][student].flags)
        assert "did not plan" in flags or "canary" in flags or "second observation" in flags \
            or "tampered" in flags, (student, flags)


def test_stand_ins_arrive_too_late_to_forge_an_earlier_exercise(batch):
    r = batch["results"]["attack-stand-in-theft"]
    assert r.exercises["backward"].score == 0, r
    assert any("backward" in f for f in r.flags), r.flags


def test_nothing_escapes_the_sandbox(batch):
    assert not (batch["tmp"] / "escaped.txt").exists()
    lingering = subprocess.run(["pgrep", "-f", LINGER], capture_output=True, text=True).stdout.split()
    assert not lingering, f"processes of a finished kernel survive: {lingering}"
    now = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in batch["out"].glob("*.json")}
    assert now == batch["kept"], "a result changed after the grader wrote it"


def test_no_secret_reaches_a_learner(batch):
    r = batch["results"]["attack-read-secrets"]
    text = json.dumps([e.message for e in r.exercises.values()] + r.problems)
    assert SECRET not in text and "COURSE_TEST_SECRET" not in text
    executed = (batch["out"] / "executed" / "attack-read-secrets.ipynb").read_text()
    assert SECRET not in executed and "COURSE_TEST_SECRET" not in executed
    assert all(len(e.message) <= batch["limits"].message_chars + 50 for e in r.exercises.values())


def test_other_learners_results_are_unaffected(batch):
    assert _scores(batch, "correct") == _scores(batch, "correct-2") == POINTS


def test_interrupted_run_resumes_without_regrading(batch):
    out = batch["out"]
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    (out / "correct-2.json").unlink()           # as if the run had stopped before it
    again = grade_batch(CH, {k: batch["files"][k] for k in ("correct", "correct-2", "truncated")},
                        out, workers=1, limits=batch["limits"], show_progress=False)
    assert _scores({"results": again}, "correct-2") == POINTS
    assert (out / "correct.json").stat().st_mtime_ns == kept["correct.json"]
    assert (out / "truncated.json").stat().st_mtime_ns == kept["truncated.json"]
    assert read_result(out, "correct-2").salt == again["correct"].salt


# ----------------------------------------------------------------------------- fail closed
def test_sandbox_self_test_passes_here():
    import tempfile
    work = Path(tempfile.mkdtemp(prefix="st-"))
    sandbox.prepare_work(work)
    assert sandbox.self_test(work, sandbox.Limits(), sandbox.SandboxPolicy()) == []


def test_a_sandbox_that_cannot_start_refuses_to_grade(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))        # no bwrap, no prlimit: nothing may run
    verdicts = run_worker(solution_notebook(CH), CH, POINTS, 1, sandbox.Limits(), tmp_path / "x.ipynb")
    assert "fatal" in verdicts and ("missing programs" in verdicts["fatal"] or "sandbox" in verdicts["fatal"])

"""Mutation proof of every chapter under real `nbgrader autograde`.

For a chapter, `tests/mutants/<chapter>.py` holds data only:

    MUTANTS = {"<exercise>": [Variant(name, code, message), ...], ...}
    ALTERNATIVES = {"<exercise>": [Variant(name, code), ...], ...}

`code` replaces the exercise's solution cell (grade id `<exercise>`); the exercise's
points are those of its test cell (grade id `test_<exercise>`). Exercises are
independent, so one submitted notebook carries the k-th mutant of every exercise at once:
a chapter whose exercises have at most K mutants needs K submissions, not one per mutant.
`message` is a piece of text the failing test cell's error must contain (the hint a
learner would read).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from textwrap import dedent

import nbformat

from autograder.authoring.course import Course, cell_error

MUTANTS_DIR = Path(__file__).parent / "mutants"


# What kind of mistake a mutant is (issue-level bookkeeping, reported by bench/hints.py):
KINDS = {
    "value": "a wrong formula or value",
    "rule": "breaks a rule the exercise text states (a forbidden construct or call)",
    "contract": "breaks a stated contract no output shows (inputs changed, mode, identity, .grad, graph)",
    "device": "a device mistake (shown without a GPU: meta device, default-device probe)",
    "dependency": "right on its own, wrong through another exercise it calls",
}


@dataclass(frozen=True)
class Variant:
    name: str
    code: str
    message: str = ""      # mutants: a piece of the hint that names the cause
    kind: str = "value"    # mutants: one of KINDS; alternatives: the freedom they use


@dataclass(frozen=True)
class Submission:
    student: str
    cells: dict[str, Variant]          # exercise -> variant in this notebook
    kind: str                          # "solution", "release", "mutant", "alternative"


def load_variants(chapter: str) -> tuple[dict, dict]:
    path = MUTANTS_DIR / f"{chapter}.py"
    if not path.exists():
        return {}, {}
    spec = importlib.util.spec_from_file_location(f"mutants_{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS, module.ALTERNATIVES


def exercises(nb: nbformat.NotebookNode) -> dict[str, float]:
    """exercise -> points, from the test cells `test_<exercise>`."""
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and meta["grade_id"].startswith("test_"):
            out[meta["grade_id"][5:]] = float(meta["points"])
    return out


def _rounds(variants: dict[str, list[Variant]], kind: str) -> list[Submission]:
    depth = max((len(v) for v in variants.values()), default=0)
    return [Submission(f"{kind}-{k}", {ex: vs[k] for ex, vs in variants.items() if k < len(vs)}, kind)
            for k in range(depth)]


def _mixed(mutants: dict[str, list[Variant]]) -> list[Submission]:
    """Two notebooks where every other exercise is wrong (its first mutant) and the rest
    are the solution, then the other way round: each correct exercise must keep its
    points next to wrong ones (the mutant rounds change every exercise at once)."""
    order = [ex for ex, vs in mutants.items() if vs]
    if len(order) < 2:
        return []
    return [Submission(f"mixed-{k}", {ex: mutants[ex][0] for i, ex in enumerate(order) if i % 2 == k},
                       "mixed") for k in (0, 1)]


def plan(chapter: str) -> list[Submission]:
    mutants, alternatives = load_variants(chapter)
    return ([Submission("solution", {}, "solution"), Submission("release", {}, "release")]
            + _rounds(mutants, "mutant") + _rounds(alternatives, "alternative") + _mixed(mutants))


def build_notebook(release: nbformat.NotebookNode, source: nbformat.NotebookNode,
                   sub: Submission) -> nbformat.NotebookNode:
    """The release notebook with each solution cell answered as `sub` says: the source's
    solution, a variant, or (for the untouched release) left as released."""
    nb = nbformat.from_dict(release)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution") or sub.kind == "release":
            continue
        gid = meta["grade_id"]
        cell.source = dedent(sub.cells[gid].code).strip() if gid in sub.cells else solutions[gid]
    return nb


@dataclass
class GradedChapter:
    chapter: str
    course: Course
    submissions: list[Submission]
    points: dict[str, float]

    def score(self, student: str, exercise: str) -> float:
        return self.course.grades(self.chapter, student)[f"test_{exercise}"].score

    def error(self, student: str, exercise: str) -> str:
        return cell_error(self.course.autograded(self.chapter, student), f"test_{exercise}")


def grade_chapter(chapter: str, workdir: Path) -> GradedChapter:
    """Release the chapter in a scratch course, submit every planned notebook, autograde."""
    course = Course.scratch(workdir, [chapter])
    release_path = course.generate(chapter)
    release = nbformat.read(str(release_path), as_version=4)
    source = nbformat.read(str(course.root / "source" / chapter / f"{chapter}.ipynb"), as_version=4)
    subs = plan(chapter)
    for sub in subs:
        course.submit(sub.student, chapter, build_notebook(release, source, sub))
    course.autograde(chapter)
    return GradedChapter(chapter, course, subs, exercises(source))


def safe_variant_ids(chapter: str) -> list[tuple[str, str, str]]:
    """variant_ids, or one ("broken", "", error) entry, so that one chapter's broken
    mutants file fails its own tests instead of stopping collection of all chapters."""
    try:
        return variant_ids(chapter)
    except Exception as err:  # noqa: BLE001
        return [("broken", "", f"{type(err).__name__}: {err}")]


@lru_cache(maxsize=None)
def variant_ids(chapter: str) -> list[tuple[str, str, str]]:
    """(kind, exercise, variant name) of every mutant and alternative, for parametrising."""
    mutants, alternatives = load_variants(chapter)
    return ([("mutant", ex, v.name) for ex, vs in mutants.items() for v in vs]
            + [("alternative", ex, v.name) for ex, vs in alternatives.items() for v in vs])


# ----------------------------------------------------------------------------- in-process
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
CHECK_CALL = re.compile(r"""check\(\s*["']([\w.]+)["']\s*,\s*(\w+)""")


def hidden_checks(source: nbformat.NotebookNode) -> dict[str, list[tuple[str, str]]]:
    """exercise -> [(spec name, learner object name)] called in its hidden tests."""
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and meta["grade_id"].startswith("test_"):
            hidden = "".join(HIDDEN.findall(cell.source))
            out[meta["grade_id"][5:]] = CHECK_CALL.findall(hidden)
    return out


def learner_namespace(source: nbformat.NotebookNode, workdir: Path,
                      replace: dict[str, str] | None = None) -> dict:
    """Run the notebook's locked set-up code and its solution cells (with `replace`
    giving other code for some exercises) in a fresh namespace, from real files so that
    the static checks can read the source."""
    ns: dict = {"__name__": "__learner__"}
    for index, cell in enumerate(source.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        if not (meta.get("solution") or meta.get("locked")):
            continue
        code = cell.source
        if meta.get("solution") and replace and meta["grade_id"] in replace:
            code = dedent(replace[meta["grade_id"]]).strip()
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"cell_{index:03d}.py"
        path.write_text(code + "\n")
        exec(compile(code, str(path), "exec"), ns)  # noqa: S102 - the course's own test data
    return ns

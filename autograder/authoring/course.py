"""The course's chapters and nbgrader course folders, driven through nbgrader's own
commands (generate_assignment, autograde) and its gradebook API.

`Course(root)` is any nbgrader course folder: the repository itself (see
`nbgrader_config.py`) or a scratch copy that the test-suite and the grading pipeline make,
so that instructor data, submissions and the gradebook never mix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from . import notebooks

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"


def chapters(source: Path = SOLUTIONS) -> list[str]:
    """Every chapter: a folder `<name>/` holding `<name>.ipynb`."""
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file())


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its log."""


@dataclass(frozen=True)
class Grade:
    grade_id: str
    score: float
    max_score: float


def _run_nbgrader(args: list[str], cwd: Path, env: dict | None = None) -> str:
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise NbgraderError(f"{' '.join(args[:2])} failed (exit {proc.returncode}):\n{log[-4000:]}")
    return log


class Course:
    """An nbgrader course folder with the default layout (source/, release/, submitted/,
    autograded/, feedback/, gradebook.db), run with nbgrader's own commands."""

    def __init__(self, root: Path, cell_timeout: int = 300):
        self.root = Path(root).resolve()
        self.cell_timeout = cell_timeout
        self.release_dir = self.root / "release"
        self.db = self.root / "gradebook.db"

    @classmethod
    def scratch(cls, root: Path, chapter_names: list[str], source: Path = SOLUTIONS) -> "Course":
        """A fresh course in `root` whose source holds copies of the given chapters."""
        course = cls(root)
        for name in chapter_names:
            shutil.copytree(source / name, course.root / "source" / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        return course

    # -- nbgrader commands
    def _args(self) -> list[str]:
        # The layout in full: an nbgrader configuration around (the course's own, found on
        # the Jupyter config path in an instructor's JupyterHub server) must not redirect it.
        return [f"--CourseDirectory.root={self.root}",
                "--CourseDirectory.source_directory=source", "--CourseDirectory.release_directory=release",
                "--CourseDirectory.submitted_directory=submitted",
                "--CourseDirectory.autograded_directory=autograded",
                "--CourseDirectory.feedback_directory=feedback",
                f"--CourseDirectory.db_url=sqlite:///{self.db}",
                f"--ExecutePreprocessor.timeout={self.cell_timeout}"]

    def _env(self) -> dict:
        env = dict(os.environ)
        env.setdefault("COURSE_QUICK", "1")
        # nbgrader runs `alembic` and the kernel from PATH: put this environment's first.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def generate(self, chapter: str) -> Path:
        """nbgrader generate_assignment, then tidy the release notebook."""
        _run_nbgrader(["generate_assignment", chapter, "--force", "--create", *self._args()],
                      self.root, self._env())
        path = self.release_dir / chapter / f"{chapter}.ipynb"
        notebooks.write(notebooks.normalize(notebooks.read(path)), path)
        return path

    def submit(self, student: str, chapter: str, nb: nbformat.NotebookNode | Path) -> Path:
        """Place a submission where `nbgrader autograde` looks for it."""
        folder = self.root / "submitted" / student / chapter
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{chapter}.ipynb"
        if isinstance(nb, Path):
            shutil.copyfile(nb, target)
        else:
            target.write_text(nbformat.writes(nb), encoding="utf-8")
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        (folder / "timestamp.txt").write_text(stamp)
        return target

    def autograde(self, chapter: str, student: str | None = None) -> str:
        args = ["autograde", chapter, "--force", "--create", *self._args()]
        if student:
            args.append(f"--student={student}")
        return _run_nbgrader(args, self.root, self._env())

    # -- results
    def grades(self, chapter: str, student: str) -> dict[str, Grade]:
        """Score of every graded cell of one autograded submission, from the gradebook."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.db}") as gb:
            nb = gb.find_submission_notebook(chapter, chapter, student)
            return {g.name: Grade(g.name, float(g.score or 0.0), float(g.max_score))
                    for g in nb.grades}

    def autograded(self, chapter: str, student: str) -> nbformat.NotebookNode:
        path = self.root / "autograded" / student / chapter / f"{chapter}.ipynb"
        return nbformat.read(str(path), as_version=4)


def cell_error(nb: nbformat.NotebookNode, grade_id: str) -> str:
    """The error a graded cell raised in an autograded notebook ('' if none)."""
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"{out.get('ename')}: {out.get('evalue')}"
    return ""


def release(chapter_names: list[str] | None = None, *, target: Path = RELEASE) -> list[Path]:
    """`nbgrader generate_assignment` for each chapter, tidied, into `target/<chapter>/`.

    nbgrader runs in a scratch course, so releasing never touches an instructor's
    gradebook and several releases can run at once; the released folder then replaces
    `target/<chapter>/`.
    """
    import tempfile

    names = chapter_names or chapters()
    made = []
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        course = Course.scratch(Path(tmp), names)
        for name in names:
            course.generate(name)
            dest = Path(target) / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(course.release_dir / name, dest)
            made.append(dest / f"{name}.ipynb")
    return made


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m autograder.course",
                                     description="Generate learner releases into notebooks/.")
    parser.add_argument("command", choices=["release", "chapters"])
    parser.add_argument("chapters", nargs="*", help="default: every chapter in solutions/")
    args = parser.parse_args(argv)
    if args.command == "chapters":
        print("\n".join(chapters()))
        return 0
    try:
        for path in release(args.chapters or None):
            print(f"released {path}")
    except NbgraderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

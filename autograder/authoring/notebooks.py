"""Chapters as text, and tidy notebooks.

Each chapter's source is a text file, `chapters/<chapter>.py`, in jupytext's percent
format: a diff of a chapter reads like prose. nbgrader's cell metadata rides on the cell
markers, as jupytext writes it:

    # %% [markdown]                                   prose
    # %% nbgrader={"grade": false, "grade_id": "forward", "locked": false,
    #              "schema_version": 3, "solution": true}    (one line) an answer cell
    # %% nbgrader={"grade": true, "grade_id": "test_forward", "locked": true,
    #              "points": 2, "schema_version": 3, "solution": false}   its test cell

`build` turns the text into the nbgrader source notebook in `solutions/` (normalised:
no outputs, fixed metadata, cell ids from grade ids), which `make release` hands to
`nbgrader generate_assignment`; `make test` checks that both are in sync with the text.

    python -m autograder.authoring.notebooks build               every chapter
    python -m autograder.authoring.notebooks text NOTEBOOK > chapters/<chapter>.py
    python -m autograder.authoring.notebooks check solutions/*/*.ipynb notebooks/*/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

REPO = Path(__file__).resolve().parents[2]
CHAPTERS = REPO / "chapters"
SOLUTIONS = REPO / "solutions"
KERNELSPEC = {"name": "pytorch-course", "display_name": "Python (PyTorch course)",
              "language": "python"}
KEPT_CELL_METADATA = ("nbgrader", "tags")
# jupytext: no notebook header in the text, only nbgrader's (and tags') cell metadata.
TEXT_OPTIONS = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "nbgrader,tags,-all"}


class NotebookFormatError(ValueError):
    """A chapter source or notebook breaks the course's conventions."""


# ----------------------------------------------------------------------------- text
def from_text(text: str) -> NotebookNode:
    """A chapter's notebook from its percent-format text."""
    import jupytext

    nb = jupytext.reads(text, fmt="py:percent")
    return normalize(nbformat.from_dict(nb))


def to_text(nb: NotebookNode) -> str:
    """A notebook as percent-format text (the inverse of `from_text`)."""
    import jupytext

    nb = nbformat.from_dict(nb)
    nb.metadata = NotebookNode({"jupytext": dict(TEXT_OPTIONS)})
    return jupytext.writes(nb, fmt="py:percent")


def chapter_text(chapter: str) -> Path:
    return CHAPTERS / f"{chapter}.py"


def build(chapter: str, *, target: Path = SOLUTIONS) -> Path:
    """chapters/<chapter>.py -> <target>/<chapter>/<chapter>.ipynb."""
    nb = from_text(chapter_text(chapter).read_text(encoding="utf-8"))
    check_grade_ids(nb, chapter)
    path = target / chapter / f"{chapter}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    write(nb, path)
    return path


def check_grade_ids(nb: NotebookNode, where: str) -> None:
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise NotebookFormatError(f"{where}: duplicated grade ids: {', '.join(dupes)}")


def text_chapters() -> list[str]:
    return sorted(p.stem for p in CHAPTERS.glob("*.py"))


# ----------------------------------------------------------------------------- tidy notebooks
def normalize(nb: NotebookNode) -> NotebookNode:
    """No outputs, fixed notebook metadata, only nbgrader/tags cell metadata, and cell ids
    taken from grade ids (or the cell's position), so the same content gives the same bytes."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = NotebookNode({"kernelspec": dict(KERNELSPEC),
                                "language_info": {"name": "python"}})
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        keep = {k: cell.metadata[k] for k in KEPT_CELL_METADATA if k in cell.metadata}
        cell.metadata = NotebookNode(keep)
        grade_id = keep.get("nbgrader", {}).get("grade_id")
        cell_id = grade_id if grade_id and grade_id not in seen else f"cell-{index:03d}"
        seen.add(cell_id)
        cell["id"] = cell_id
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if "attachments" in cell and not cell["attachments"]:
            cell.pop("attachments")
    return nb


def dumps(nb: NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def write(nb: NotebookNode, path: str | Path) -> None:
    nbformat.validate(nb)
    Path(path).write_text(dumps(nb), encoding="utf-8")


def read(path: str | Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)


def problems(path: str | Path) -> list[str]:
    """What keeps a committed notebook from being tidy: outputs, execution counts,
    metadata that `normalize` would change, duplicated grade ids."""
    text = Path(path).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            found.append(f"cell {cell.get('id')}: has outputs or an execution count")
    try:
        check_grade_ids(nb, str(path))
    except NotebookFormatError as err:
        found.append(str(err))
    if dumps(normalize(nbformat.reads(text, as_version=4))) != text:
        found.append("not normalised (run: python -m autograder.authoring.notebooks normalize PATH)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.authoring.notebooks",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="chapters/<chapter>.py -> solutions/<chapter>/<chapter>.ipynb")
    b.add_argument("chapters", nargs="*", help="default: every chapter in chapters/")
    t = sub.add_parser("text", help="notebook -> percent text on stdout")
    t.add_argument("notebook")
    n = sub.add_parser("normalize", help="rewrite notebooks tidily, in place")
    n.add_argument("notebooks", nargs="+")
    c = sub.add_parser("check", help="fail if a notebook has outputs or untidy metadata")
    c.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            for chapter in args.chapters or text_chapters():
                print(f"built {build(chapter).relative_to(REPO)}")
        elif args.cmd == "text":
            sys.stdout.write(to_text(read(args.notebook)))
        elif args.cmd == "normalize":
            for p in args.notebooks:
                write(normalize(read(p)), p)
        elif args.cmd == "check":
            bad = {p: problems(p) for p in args.notebooks}
            for p, found in bad.items():
                for f in found:
                    print(f"{p}: {f}")
            return 1 if any(bad.values()) else 0
    except (NotebookFormatError, nbformat.ValidationError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

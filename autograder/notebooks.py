"""Writing chapter notebooks without hand-editing JSON, and keeping them tidy.

Authors edit a chapter as plain text in "percent" format and build the notebook from it;
the built `.ipynb` in `solutions/` stays the single source of truth, and `edit` turns it
back into text for the next change:

    python -m autograder.notebooks edit  solutions/ch01_numpy_net/ch01_numpy_net.ipynb > /tmp/ch01.py
    python -m autograder.notebooks build /tmp/ch01.py solutions/ch01_numpy_net/ch01_numpy_net.ipynb
    python -m autograder.notebooks check solutions/*/*.ipynb notebooks/*/*.ipynb

Cell markers (one line each, the cell's text follows):

    # %% [markdown]                      prose; each line starts with "# "
    # %% [markdown] locked               prose learners cannot edit (exercise statements)
    # %%                                 ordinary code (demos learners may change)
    # %% locked                          read-only code (imports, data set-up)
    # %% solution id=forward             solution cell: ### BEGIN/END SOLUTION inside
    # %% tests id=test_forward points=3  graded tests: ### BEGIN/END HIDDEN TESTS inside

`normalize` gives every notebook the same metadata, cell ids and no outputs, so that diffs
show only what an author changed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

KERNELSPEC = {"name": "pytorch-course", "display_name": "Python (PyTorch course)",
              "language": "python"}
SCHEMA_VERSION = 3
MARKER = re.compile(r"^# %%(?P<rest>.*)$")
KEPT_CELL_METADATA = ("nbgrader", "tags")


class NotebookFormatError(ValueError):
    """A chapter source or notebook breaks the course's conventions."""


# ----------------------------------------------------------------------------- percent text
def _parse_marker(rest: str, lineno: int) -> dict:
    words = rest.split()
    cell = {"type": "code", "solution": False, "tests": False, "locked": False,
            "id": None, "points": None}
    for w in words:
        if w == "[markdown]":
            cell["type"] = "markdown"
        elif w in ("solution", "tests", "locked"):
            cell[w] = True
        elif w.startswith("id="):
            cell["id"] = w[3:]
        elif w.startswith("points="):
            cell["points"] = float(w[7:])
        else:
            raise NotebookFormatError(f"line {lineno}: unknown cell option {w!r}")
    if cell["solution"] and cell["tests"]:
        raise NotebookFormatError(f"line {lineno}: a cell is either solution or tests")
    if (cell["solution"] or cell["tests"]) and not cell["id"]:
        raise NotebookFormatError(f"line {lineno}: solution and tests cells need id=...")
    if cell["tests"] and not cell["points"]:
        raise NotebookFormatError(f"line {lineno}: a tests cell needs points=...")
    return cell


def _nbgrader_meta(cell: dict, auto_id: str) -> dict | None:
    if not (cell["solution"] or cell["tests"] or cell["locked"]):
        return None
    meta = {"grade": cell["tests"], "solution": cell["solution"],
            "locked": cell["tests"] or cell["locked"],
            "grade_id": cell["id"] or auto_id, "schema_version": SCHEMA_VERSION}
    if cell["tests"]:
        p = cell["points"]
        meta["points"] = int(p) if float(p).is_integer() else p
    return meta


def from_percent(text: str) -> NotebookNode:
    """Build a notebook from percent-format text (see the module docstring)."""
    cells, current, body = [], None, []

    def flush():
        if current is not None:
            cells.append((current, body))

    for lineno, line in enumerate(text.splitlines(), 1):
        m = MARKER.match(line)
        if m:
            flush()
            current, body = _parse_marker(m["rest"], lineno), []
        elif current is None:
            if line.strip():
                raise NotebookFormatError(f"line {lineno}: text before the first '# %%' marker")
        else:
            body.append(line)
    flush()

    nb = nbformat.v4.new_notebook()
    locked_count = 0
    for cell, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if cell["type"] == "markdown":
            src = "\n".join(re.sub(r"^# ?", "", ln) if ln.startswith("#") else ln for ln in lines)
            node = nbformat.v4.new_markdown_cell(src)
        else:
            node = nbformat.v4.new_code_cell("\n".join(lines))
        if cell["locked"] and not cell["id"]:
            locked_count += 1
        meta = _nbgrader_meta(cell, f"locked_{locked_count:02d}")
        if meta:
            node.metadata["nbgrader"] = meta
        nb.cells.append(node)
    return normalize(nb)


def to_percent(nb: NotebookNode) -> str:
    """The inverse of `from_percent`: a notebook as editable text."""
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        words = []
        if cell.cell_type == "markdown":
            words.append("[markdown]")
        if meta.get("solution"):
            words += ["solution", f"id={meta['grade_id']}"]
        elif meta.get("grade"):
            words += ["tests", f"id={meta['grade_id']}", f"points={meta.get('points', 0)}"]
        elif meta.get("locked"):
            words.append("locked")
        out.append(("# %% " + " ".join(words)).rstrip())
        if cell.cell_type == "markdown":
            out += [("# " + ln).rstrip() for ln in cell.source.splitlines()]
        else:
            out += cell.source.splitlines()
        out.append("")
    return "\n".join(out)


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
        cell.pop("attachments", None) if not cell.get("attachments") else None
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
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        found.append(f"duplicated grade ids: {', '.join(dupes)}")
    if dumps(normalize(nbformat.reads(text, as_version=4))) != text:
        found.append("not normalised (run: python -m autograder.notebooks normalize PATH)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.notebooks",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="percent text -> notebook")
    b.add_argument("source")
    b.add_argument("notebook")
    e = sub.add_parser("edit", help="notebook -> percent text on stdout")
    e.add_argument("notebook")
    n = sub.add_parser("normalize", help="rewrite notebooks tidily, in place")
    n.add_argument("notebooks", nargs="+")
    c = sub.add_parser("check", help="fail if a notebook has outputs or untidy metadata")
    c.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            write(from_percent(Path(args.source).read_text(encoding="utf-8")), args.notebook)
        elif args.cmd == "edit":
            sys.stdout.write(to_percent(read(args.notebook)))
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

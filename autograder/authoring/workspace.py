"""The learner's workspace: their own copies of the chapters, in `workspace/` (git-ignored),
so the course's tracked files are never their work and a course update never costs them
an answer.

`sync()` runs at every `make lab`:
- a chapter new to the workspace is copied from the release (`notebooks/`);
- a chapter whose release changed: if the learner never changed their copy, it is replaced
  by the new release; if they did, the new release is written with their answer cells
  (and the extra cells they added) carried over, and their previous file is kept beside
  it as `<chapter>.before-update-<time>.ipynb`. Nothing is ever deleted or overwritten
  without a copy.
`make release` never touches this folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .course import RELEASE, REPO, chapters

WORKSPACE = REPO / "workspace"
STATE = ".course.json"     # per chapter: the sha256 of the release the copy came from


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_state(root: Path) -> dict:
    try:
        return json.loads((root / STATE).read_text())
    except (OSError, ValueError):
        return {}


def merge(learner: nbformat.NotebookNode, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The new release with the learner's answer cells (by grade id) and their extra code
    cells (kept before the answer they preceded) carried over."""
    answers, extras, pending = {}, {}, []
    release_ids = {c.get("id") for c in release.cells}
    for cell in learner.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if cell.get("cell_type") == "code" and meta.get("solution") and gid and gid not in answers:
            answers[gid], extras[gid], pending = cell, pending, []
        elif cell.get("cell_type") == "code" and not meta and cell.get("id") not in release_ids:
            pending.append(cell)
    out = nbformat.from_dict(release)
    cells = []
    for cell in out.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cells.extend(nbformat.from_dict(c) for c in extras[gid])
            mine = nbformat.from_dict(cell)
            mine.source = answers[gid].get("source", "")
            cells.append(mine)
        else:
            cells.append(cell)
    cells.extend(nbformat.from_dict(c) for c in pending)   # extra cells after the last answer
    out.cells = cells
    return out


def sync(root: Path = WORKSPACE, release: Path = RELEASE, log=print) -> list[str]:
    """Bring the workspace up to date with the release; returns what it did, one line each."""
    root.mkdir(parents=True, exist_ok=True)
    state = _read_state(root)
    done = []
    for chapter in chapters(release):
        src = release / chapter / f"{chapter}.ipynb"
        dst = root / chapter / f"{chapter}.ipynb"
        new = _sha(src)
        old = state.get(chapter)
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            done.append(f"{chapter}: added")
        elif old == new:
            continue
        elif old is not None and _sha(dst) == old:
            shutil.copyfile(src, dst)                       # untouched copy: just update it
            done.append(f"{chapter}: updated")
        else:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            backup = dst.with_name(f"{chapter}.before-update-{stamp}.ipynb")
            shutil.copyfile(dst, backup)
            try:
                mine = nbformat.read(str(dst), as_version=4)
                merged = merge(mine, nbformat.read(str(src), as_version=4))
                nbformat.write(merged, str(dst))
                done.append(f"{chapter}: updated, your answers carried over (your previous file: {backup.name})")
            except Exception as err:  # noqa: BLE001 - an unreadable copy stays as it was
                backup.unlink(missing_ok=True)
                done.append(f"{chapter}: a new version exists but your copy could not be read "
                            f"({type(err).__name__}); it was left as it is")
                continue
        state[chapter] = new
    (root / STATE).write_text(json.dumps(state, indent=1, sort_keys=True))
    for line in done:
        log(f"workspace: {line}")
    return done

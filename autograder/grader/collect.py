"""Collect submissions into the grading folder without ever losing or overwriting one.

Sources: a folder or a .zip as downloaded from a learning-management system (one folder or
one file per learner, with the usual messy names), or nbgrader's exchange (through
`nbgrader collect`). Every original is kept byte for byte under
`grading/originals/<student>/<UTC time>_<sha256[:12]>_<original name>`; a re-submission
lands beside the older one. The newest original of each learner is what gets graded:
`grading/submitted/<student>/<chapter>/<chapter>.ipynb`, the place nbgrader expects.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from ..learner.settings import grading_root

GRADING = grading_root()
# Words LMS exports add to file names, removed before a name becomes a student id.
LMS_NOISE = re.compile(r"(assignsubmission_file_?|submission|_?onlinetext_?|late|attempt[-_ ]?\d*)",
                       re.I)


def student_id(raw: str, chapter: str = "") -> str:
    """A stable, file-system-safe id from an LMS name: 'Doe, Jane_1234_assignsubmission_file_'
    -> 'doe-jane-1234'."""
    name = raw.rsplit(".", 1)[0] if raw.lower().endswith(".ipynb") else raw
    if chapter:
        name = re.sub(re.escape(chapter), " ", name, flags=re.I)
    name = LMS_NOISE.sub(" ", name)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "unnamed"


@dataclass(frozen=True)
class Collected:
    student: str
    original: Path       # the kept byte-for-byte copy
    submitted: Path      # what will be graded (the learner's newest)
    new: bool            # False when the identical file was collected before


def _keep(student: str, name: str, data: bytes, chapter: str, root: Path,
          when: datetime | None = None) -> Collected:
    digest = hashlib.sha256(data).hexdigest()[:12]
    folder = root / "originals" / student
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if f"_{digest}_" in old.name:     # the same bytes were collected before
            return Collected(student, old, _submitted_path(root, student, chapter), False)
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S.%fZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-80:]
    original = folder / f"{stamp}_{digest}_{safe}"
    n = 1
    while original.exists():              # never overwrite, even within one microsecond
        original = folder / f"{stamp}-{n}_{digest}_{safe}"
        n += 1
    original.write_bytes(data)
    original.chmod(0o444)
    newest = sorted(folder.iterdir())[-1]
    submitted = _submitted_path(root, student, chapter)
    submitted.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(newest, submitted)
    submitted.chmod(0o644)
    (submitted.parent / "timestamp.txt").write_text(newest.name.split("_")[0])
    return Collected(student, original, submitted, True)


def _submitted_path(root: Path, student: str, chapter: str) -> Path:
    return root / "submitted" / student / chapter / f"{chapter}.ipynb"


def _entries(source: Path) -> list[tuple[str, str, bytes]]:
    """(learner's raw name, file name, bytes) of every notebook in a folder or zip."""
    found = []
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                parts = PurePosixPath(info.filename).parts
                if info.is_dir() or not parts[-1].lower().endswith(".ipynb") or "__MACOSX" in parts:
                    continue
                owner = parts[-2] if len(parts) > 1 and not _is_wrapper(parts[:-1]) else parts[-1]
                found.append((owner, parts[-1], zf.read(info)))
    elif source.is_dir():
        for path in sorted(source.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            rel = path.relative_to(source).parts
            owner = rel[-2] if len(rel) > 1 else rel[-1]
            found.append((owner, path.name, path.read_bytes()))
    else:
        raise FileNotFoundError(f"{source}: not a folder or a zip file")
    return found


def _is_wrapper(folders: tuple[str, ...]) -> bool:
    # A zip whose only top folder wraps everything (e.g. "ch01 submissions/"): not a learner.
    return len(folders) == 1 and "submission" in folders[0].lower()


def collect_lms(source: Path, chapter: str, root: Path = GRADING) -> list[Collected]:
    """Collect every notebook of an LMS download (folder or zip) for one chapter."""
    return [_keep(student_id(owner, chapter), name, data, chapter, root)
            for owner, name, data in _entries(Path(source))]

"""Collect submissions into the grading folder without ever losing, merging or overwriting
one, and without taking anything it should not.

Sources: a folder or a .zip as downloaded from a learning-management system (Canvas's and
Moodle's "download all submissions" layouts are read for the learner's name, LMS id and
lateness; any other layout gives one learner per folder or file), zips inside it (nested
up to three deep), or nbgrader's exchange (through `nbgrader collect`).

What is taken: regular `.ipynb` files. What is skipped, and listed with the reason:
symbolic links and files resolving outside the download, OS junk (`__MACOSX/`, `._*`,
`.DS_Store`, checkpoints), other files, zip members whose uncompressed size is over the
cap (checked before reading a byte), more members than the cap.

Identity: each distinct learner as the LMS names them keeps one id for good
(`grading/identities.json`): Unicode names stay as they are, and two different LMS names
that would give the same id (`Doe, Jane_1001` and `DOE JANE_1001`) are kept apart and
reported. Every original is kept byte for byte under
`grading/originals/<id>/<UTC time>_<sha256[:12]>_<original name>` with its submission time;
a re-submission lands beside the older one. The newest is what gets graded:
`grading/submitted/<id>/<chapter>/<chapter>.ipynb`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from ..learner.settings import grading_root

GRADING = grading_root()
MAX_MEMBER_BYTES = 50 * 1024 ** 2       # one notebook, uncompressed
MAX_TOTAL_BYTES = 2 * 1024 ** 3         # everything read from one download
MAX_MEMBERS = 20_000
MAX_ZIP_DEPTH = 3
JUNK = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)|(^|/)\._", re.I)
# Words LMS exports add to names, removed before a name becomes an id.
LMS_NOISE = re.compile(r"(assignsubmission_file_?|assignsubmission_onlinetext_?|submission|"
                       r"_?onlinetext_?|attempt[-_ ]?\d*)", re.I)
CANVAS = re.compile(r"^(?P<name>[^_/]+?)_(?P<late>LATE_|late_)?(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")


@dataclass
class Entry:
    """One notebook found in a download."""

    owner: str                     # the learner as the LMS names them (raw)
    name: str                      # the file's own name
    data: bytes
    origin: str                    # where it was found, for messages
    lms_id: str = ""
    display: str = ""              # the learner's name, for people
    late: bool = False
    submitted_at: str = ""         # ISO time from the LMS, when it says


@dataclass
class Skipped:
    origin: str
    reason: str


@dataclass
class Scan:
    entries: list[Entry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    read_bytes: int = 0


# ----------------------------------------------------------------------------- identity
def student_id(raw: str, chapter: str = "") -> str:
    """A stable, file-system-safe id from an LMS name, keeping any script:
    'Doe, Jane_1234_assignsubmission_file_' -> 'doe-jane-1234', '张伟' -> '张伟'."""
    name = raw[:-6] if raw.lower().endswith(".ipynb") else raw
    if chapter:
        name = re.sub(re.escape(chapter), " ", name, flags=re.I)
    name = LMS_NOISE.sub(" ", unicodedata.normalize("NFKC", name))
    name = re.sub(r"(?i)(?:^|(?<=[\s_\-]))late(?=$|[\s_\-])", " ", name)
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.casefold())
    slug = re.sub(r"-+", "-", slug).strip("-")[:80]
    return slug or "unnamed"


class Identities:
    """LMS name -> id, kept for good in grading/identities.json."""

    def __init__(self, root: Path):
        self.path = Path(root) / "identities.json"
        try:
            self.known: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.known = {}
        self.notes: list[str] = []

    def id_for(self, entry: Entry, chapter: str) -> str:
        key = entry.lms_id and f"lms:{entry.lms_id}" or f"name:{unicodedata.normalize('NFC', entry.owner)}"
        if key in self.known:
            return self.known[key]["id"]
        base = student_id(entry.display or entry.owner, chapter)
        if entry.lms_id and entry.lms_id not in base:
            base = f"{base}-{entry.lms_id}"
        taken = {v["id"]: k for k, v in self.known.items()}
        sid, n = base, 2
        while sid in taken:
            sid, n = f"{base}-{n}", n + 1
        if sid != base:
            self.notes.append(f"{entry.owner!r} and {taken[base].split(':', 1)[1]!r} would share the id "
                              f"{base!r}: kept apart as {sid!r}")
        self.known[key] = {"id": sid, "name": entry.display or entry.owner, "lms_id": entry.lms_id}
        return sid

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.known, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def by_id(self) -> dict[str, dict]:
        return {v["id"]: v for v in self.known.values()}


# ----------------------------------------------------------------------------- reading a download
def _describe_lms(entry: Entry, path_parts: tuple[str, ...]) -> None:
    """Fill in the LMS's own name, id and lateness from Canvas's or Moodle's naming."""
    for part in (path_parts[-1], *reversed(path_parts[:-1])):
        m = CANVAS.match(part)
        if m and part == path_parts[-1]:
            entry.display, entry.lms_id = m["name"], m["uid"]
            entry.late = bool(m["late"])
            entry.owner = f"{m['name']}_{m['uid']}"
            return
        m = MOODLE.match(part)
        if m:
            entry.display, entry.lms_id = m["name"].strip(), m["uid"]
            entry.owner = f"{entry.display}_{m['uid']}"
            return
    if any("late" in p.lower().split("_") or p.lower().endswith("_late") for p in path_parts[:-1]):
        entry.late = True


def _owner(parts: tuple[str, ...]) -> str:
    """The learner is the outermost folder (a wrapper like "ch01 submissions/" aside), or
    the file itself when it lies at the top."""
    folders = list(parts[:-1])
    if len(folders) > 1 and "submission" in folders[0].lower():
        folders = folders[1:]
    return folders[0] if folders else parts[-1]


def _add(scan: Scan, parts: tuple[str, ...], data: bytes, origin: str, when: datetime | None) -> None:
    entry = Entry(_owner(parts), parts[-1], data, origin,
                  submitted_at=when.isoformat() if when else "")
    _describe_lms(entry, parts)
    scan.entries.append(entry)


def _scan_zip(scan: Scan, blob_or_path, origin: str, prefix: tuple[str, ...], depth: int,
              when_handed_in: datetime | None = None) -> None:
    """A zip's notebooks. Inside a zip that was itself handed in, the outer entry's time is
    the submission time (the inner files carry the learner's own clock)."""
    try:
        zf = zipfile.ZipFile(blob_or_path)
    except (zipfile.BadZipFile, OSError) as err:
        scan.skipped.append(Skipped(origin, f"not a readable zip ({type(err).__name__})"))
        return
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            scan.skipped.append(Skipped(origin, f"{len(infos)} members: more than {MAX_MEMBERS}"))
            return
        for info in infos:
            where = f"{origin}!{info.filename}"
            if info.is_dir():
                continue
            parts = prefix + PurePosixPath(info.filename).parts
            if JUNK.search("/".join(parts)):
                scan.skipped.append(Skipped(where, "operating-system junk"))
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                scan.skipped.append(Skipped(where, "a symbolic link"))
                continue
            lower = parts[-1].lower()
            if not (lower.endswith(".ipynb") or lower.endswith(".zip")):
                scan.skipped.append(Skipped(where, "not a notebook"))
                continue
            if info.file_size > MAX_MEMBER_BYTES or scan.read_bytes + info.file_size > MAX_TOTAL_BYTES:
                scan.skipped.append(Skipped(where, f"{info.file_size} bytes uncompressed: over the "
                                                   f"cap of {MAX_MEMBER_BYTES // 1024 ** 2} MB"))
                continue
            try:
                data = _read_capped(zf, info)
            except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as err:
                scan.skipped.append(Skipped(where, f"unreadable ({type(err).__name__}: {err})"))
                continue
            scan.read_bytes += len(data)
            when = when_handed_in or (datetime(*info.date_time, tzinfo=timezone.utc)
                                      if info.date_time[0] > 1980 else None)
            if lower.endswith(".zip"):
                if depth >= MAX_ZIP_DEPTH:
                    scan.skipped.append(Skipped(where, f"a zip nested more than {MAX_ZIP_DEPTH} deep"))
                else:
                    _scan_zip(scan, io.BytesIO(data), where, parts[:-1] + (parts[-1][:-4],), depth + 1, when)
                continue
            _add(scan, parts, data, where, when)


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read a member, stopping if it inflates beyond what its header declared."""
    out = io.BytesIO()
    with zf.open(info) as f:
        while chunk := f.read(1 << 20):
            out.write(chunk)
            if out.tell() > min(info.file_size, MAX_MEMBER_BYTES):
                raise ValueError("inflates beyond its declared size")
    return out.getvalue()


def scan(source: Path) -> Scan:
    """Every notebook of a download, and every file skipped with the reason."""
    source = Path(source)
    found = Scan()
    if source.is_symlink():
        found.skipped.append(Skipped(str(source), "a symbolic link"))
        return found
    if source.is_file():
        _scan_zip(found, source, source.name, (), 1)
        return found
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: not a folder or a zip file")
    top = source.resolve()
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        for d in list(dirs):
            if (here / d).is_symlink():
                found.skipped.append(Skipped(str((here / d).relative_to(source)), "a symbolic link"))
                dirs.remove(d)
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(source)
            parts = rel.parts
            if JUNK.search("/".join(parts)):
                found.skipped.append(Skipped(str(rel), "operating-system junk"))
                continue
            if path.is_symlink() or not path.resolve().is_relative_to(top) or not path.is_file():
                found.skipped.append(Skipped(str(rel), "a symbolic link or a file outside the download"))
                continue
            lower = name.lower()
            if lower.endswith(".zip"):
                _scan_zip(found, path, str(rel), parts[:-1] + (name[:-4],), 1,
                          datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
                continue
            if not lower.endswith(".ipynb"):
                found.skipped.append(Skipped(str(rel), "not a notebook"))
                continue
            size = path.stat().st_size
            if size > MAX_MEMBER_BYTES:
                found.skipped.append(Skipped(str(rel), f"{size} bytes: over the cap"))
                continue
            when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            _add(found, parts, path.read_bytes(), str(rel), when)
    return found


# ----------------------------------------------------------------------------- keeping
@dataclass(frozen=True)
class Collected:
    student: str
    original: Path       # the kept byte-for-byte copy
    submitted: Path      # what will be graded (the learner's newest)
    new: bool            # False when the identical file was collected before
    late: bool = False


def _keep(student: str, name: str, data: bytes, chapter: str, root: Path,
          when: datetime | None = None, meta: dict | None = None) -> Collected:
    digest = hashlib.sha256(data).hexdigest()[:12]
    folder = Path(root) / "originals" / student
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if f"_{digest}_" in old.name and not old.name.endswith(".json"):
            return Collected(student, old, _submitted_path(root, student, chapter), False,
                             bool((meta or {}).get("late")))
    stamp = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    safe = re.sub(r"[^\w.-]+", "_", name)[-80:]
    original = folder / f"{stamp}_{digest}_{safe}"
    n = 1
    while original.exists():              # never overwrite, even within one microsecond
        original = folder / f"{stamp}-{n}_{digest}_{safe}"
        n += 1
    original.write_bytes(data)
    original.chmod(0o444)
    sidecar = original.with_name(original.name + ".json")
    sidecar.write_text(json.dumps({"chapter": chapter, "collected": datetime.now(timezone.utc).isoformat(),
                                   **(meta or {})}, ensure_ascii=False, indent=1), encoding="utf-8")
    newest = sorted(p for p in folder.iterdir() if not p.name.endswith(".json"))[-1]
    submitted = _submitted_path(root, student, chapter)
    submitted.parent.mkdir(parents=True, exist_ok=True)
    if not (submitted.is_file() and submitted.read_bytes() == newest.read_bytes()):
        shutil.copyfile(newest, submitted)
        submitted.chmod(0o644)
        (submitted.parent / "timestamp.txt").write_text(_nbgrader_time(newest.name.split("_")[0]))
    return Collected(student, original, submitted, True, bool((meta or {}).get("late")))


def _nbgrader_time(stamp: str) -> str:
    """Our file stamp as nbgrader's timestamp.txt format."""
    try:
        t = datetime.strptime(stamp.split("-")[0], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def _submitted_path(root: Path, student: str, chapter: str) -> Path:
    return Path(root) / "submitted" / student / chapter / f"{chapter}.ipynb"


@dataclass
class Collection:
    collected: list[Collected]
    skipped: list[Skipped]
    notes: list[str]


def collect_lms(source: Path, chapter: str, root: Path = GRADING) -> Collection:
    """Collect every notebook of an LMS download (folder or zip) for one chapter."""
    found = scan(Path(source))
    ids = Identities(root)
    got = []
    for entry in found.entries:
        sid = ids.id_for(entry, chapter)
        when = datetime.fromisoformat(entry.submitted_at) if entry.submitted_at else None
        meta = {"lms_id": entry.lms_id, "name": entry.display or entry.owner, "late": entry.late,
                "submitted_at": entry.submitted_at, "found_at": entry.origin}
        got.append(_keep(sid, entry.name, entry.data, chapter, root, when, meta))
    ids.save()
    return Collection(got, found.skipped, ids.notes)


def originals_meta(root: Path, student: str) -> list[dict]:
    """What was kept of a learner's submissions, oldest first (file, time, LMS facts)."""
    folder = Path(root) / "originals" / student
    out = []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append({"file": p.name[:-5], **json.loads(p.read_text(encoding="utf-8"))})
        except (OSError, ValueError):
            continue
    return out


def as_dict(c: Collected) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(c).items()}

"""The class as the LMS knows it, and the rules for late work.

A roster is the CSV an LMS exports: Canvas's gradebook export ("Student", "ID", "SIS User
ID", ...), Moodle's participants or grading worksheet ("First name"/"Surname" or "Full
name", "ID number" / "Identifier" = "Participant 123", "Email address"), or any CSV with
a name column and an id column. Learners are matched to collected submissions by LMS id,
else by name; whoever is on one side only is reported.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path


@dataclass(frozen=True)
class Person:
    name: str
    lms_id: str = ""
    email: str = ""
    section: str = ""


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    if "," in text:                                  # "Doe, Jane" -> "jane doe"
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    return " ".join(sorted(re.findall(r"\w+", text)))


def read_roster(path: Path) -> list[Person]:
    """People from an LMS's CSV export (Canvas, Moodle or a plain name,id file)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    people = []
    for row in rows:
        low = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if low.get("student", "").lower() == "points possible" or "muted" in low.get("student", "").lower():
            continue                                 # Canvas's second header lines
        name = (low.get("student") or low.get("full name") or low.get("name")
                or " ".join(x for x in (low.get("first name"), low.get("surname") or low.get("last name")) if x))
        ident = low.get("id") or low.get("id number") or low.get("user id") or low.get("lms_id") or ""
        if not ident and low.get("identifier", "").lower().startswith("participant"):
            ident = low["identifier"].split()[-1]
        if name or ident:
            people.append(Person(name, ident, low.get("email address") or low.get("email", ""),
                                 low.get("section", "")))
    return people


def match(people: list[Person], learners: dict[str, dict]) -> tuple[dict[str, Person], list[Person], list[str]]:
    """({learner id: person}, people with no submission, learners not on the roster).
    `learners` is {id: {"name", "lms_id"}} as collection recorded them."""
    by_id = {p.lms_id: p for p in people if p.lms_id}
    by_name = {_key(p.name): p for p in people if p.name}
    matched: dict[str, Person] = {}
    for sid, info in learners.items():
        person = by_id.get(str(info.get("lms_id") or "")) or by_name.get(_key(str(info.get("name") or "")))
        if person is not None and person not in matched.values():
            matched[sid] = person
    missing = [p for p in people if p not in matched.values()]
    unmatched = sorted(sid for sid in learners if sid not in matched)
    return matched, missing, unmatched


# ----------------------------------------------------------------------------- late work
@dataclass(frozen=True)
class LatePolicy:
    """A due time, a penalty per started day late (a fraction of the score) and a cut-off
    after which late work scores zero. Kept in reports/<chapter>/policy.json."""

    due: str = ""                      # ISO time, e.g. 2026-12-01T23:59:00+00:00
    penalty_per_day: float = 0.0       # 0.1 = 10 % of the score per started day
    cutoff_days: float | None = None   # later than this: zero

    def due_time(self) -> datetime | None:
        if not self.due:
            return None
        t = datetime.fromisoformat(self.due)
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)

    def apply(self, score: float, submitted_at: str, lms_says_late: bool) -> tuple[float, str]:
        """(final score, a note for the learner and the instructor: '' when on time)."""
        due = self.due_time()
        late_by: timedelta | None = None
        if due and submitted_at:
            t = datetime.fromisoformat(submitted_at)
            t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
            late_by = t - due if t > due else None
        if late_by is None and not lms_says_late:
            return score, ""
        if late_by is None:                          # late by the LMS's word, time unknown
            days = 1
            what = "late (marked by the LMS; time unknown, counted as one day)"
        else:
            days = max(1, math.ceil(late_by.total_seconds() / 86400))
            hours = late_by.total_seconds() / 3600
            what = f"late by {hours:.1f} h ({days} started day{'s' if days > 1 else ''})"
        if self.cutoff_days is not None and late_by is not None and late_by > timedelta(days=self.cutoff_days):
            return 0.0, f"{what}: past the cut-off of {self.cutoff_days:g} days, scored zero"
        factor = max(0.0, 1.0 - self.penalty_per_day * days)
        if factor == 1.0:
            return score, f"{what}: no penalty"
        return round(score * factor, 4), f"{what}: {100 * (1 - factor):.0f} % penalty"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> "LatePolicy":
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return cls()

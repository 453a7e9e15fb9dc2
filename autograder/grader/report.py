"""What the grader hands out: grades (a full CSV, and one file each LMS imports as it is),
nbgrader's gradebook (with the learners' names, for formgrader), one feedback page per
learner, and a class report. Everything is built from the result files and what
collection recorded, so no page can show hidden-test source or a reference solution.

Late work: the due time and policy (`LatePolicy`) turn a raw score into the final one;
the CSVs show both, with the lateness, and the learner's page says why.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .collect import Identities, originals_meta
from .grading import Result, exercises_of, source_notebook
from .roster import LatePolicy, Person, match


@dataclass
class Row:
    """One learner of the class: who, what they handed in, what they scored."""

    student: str
    name: str = ""
    lms_id: str = ""
    result: Result | None = None
    submitted_at: str = ""
    late_note: str = ""
    final: float = 0.0
    person: Person | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def raw(self) -> float:
        return self.result.score if self.result else 0.0


def build_rows(results: dict[str, Result], chapter: str, root: Path, policy: LatePolicy,
               roster: list[Person] | None = None) -> tuple[list[Row], list[Person], list[str]]:
    """Rows for every learner (graded, and on the roster without a submission); the people
    with no submission; the learners not on the roster."""
    known = Identities(root).by_id()
    rows = []
    for student, r in sorted(results.items()):
        info = known.get(student, {})
        metas = [m for m in originals_meta(root, student) if m.get("chapter") == chapter]
        last = metas[-1] if metas else {}
        row = Row(student, info.get("name", student), str(info.get("lms_id") or last.get("lms_id") or ""), r,
                  str(last.get("submitted_at") or ""))
        row.final, row.late_note = policy.apply(r.score, row.submitted_at, bool(last.get("late")))
        rows.append(row)
    missing, unmatched = [], []
    if roster:
        learners = {row.student: {"name": row.name, "lms_id": row.lms_id} for row in rows}
        matched, missing, unmatched = match(roster, learners)
        for row in rows:
            row.person = matched.get(row.student)
            if row.person:
                row.name, row.lms_id = row.person.name or row.name, row.person.lms_id or row.lms_id
        for person in missing:
            rows.append(Row(f"(no submission) {person.name or person.lms_id}", person.name, person.lms_id,
                            None, "", "no submission", 0.0, person))
    return rows, missing, unmatched


def _max(chapter: str) -> float:
    return sum(exercises_of(source_notebook(chapter)).values())


def write_csv(rows: list[Row], chapter: str, path: Path) -> Path:
    """One row per learner: identity, submission time, lateness, one column per exercise
    (notebook order), raw total, final score, maximum, status and flags."""
    exercises = list(exercises_of(source_notebook(chapter)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "name", "lms_id", "submitted_at", "late", *exercises,
                    "raw", "final", "max", "status", "flags"])
        for row in rows:
            r = row.result
            scores = [f"{r.exercises[e].score:g}" if r and e in r.exercises else "0" for e in exercises]
            w.writerow([row.student, row.name, row.lms_id, row.submitted_at, row.late_note, *scores,
                        f"{row.raw:g}", f"{row.final:g}", f"{_max(chapter):g}",
                        r.status if r else "missing", " | ".join(r.flags) if r else ""])
    return path


def write_lms_exports(rows: list[Row], chapter: str, folder: Path) -> list[Path]:
    """Files the LMSs import as they are: Canvas's gradebook CSV (matched on ID) and
    Moodle's grading worksheet (matched on Identifier "Participant N")."""
    folder.mkdir(parents=True, exist_ok=True)
    canvas, moodle = folder / "canvas_import.csv", folder / "moodle_import.csv"
    total = _max(chapter)
    with open(canvas, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", chapter])
        w.writerow(["Points Possible", "", "", "", "", f"{total:g}"])
        for row in rows:
            if row.lms_id:
                w.writerow([row.name, row.lms_id, "", "", row.person.section if row.person else "",
                            f"{row.final:g}"])
    with open(moodle, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Identifier", "Full name", "Email address", "Grade", "Maximum Grade",
                    "Last modified (submission)", "Feedback comments"])
        for row in rows:
            if row.lms_id:
                comment = row.late_note or ("" if row.result else "no submission")
                w.writerow([f"Participant {row.lms_id}", row.name, row.person.email if row.person else "",
                            f"{row.final:g}", f"{total:g}", row.submitted_at, comment])
    return [canvas, moodle]


def to_gradebook(rows: list[Row], chapter: str, db_url: str) -> None:
    """Record the scores in nbgrader's gradebook, with names and LMS ids (formgrader shows
    them). The assignment and its grade cells must exist there (`register`)."""
    import warnings

    from nbgrader.api import Gradebook

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's own SQLAlchemy noise
    with Gradebook(db_url) as gb:
        for row in rows:
            if row.result is None:
                continue
            first, _, last = (row.name or row.student).partition(" ")
            if "," in (row.name or ""):
                last, _, first = row.name.partition(",")
            gb.update_or_create_student(row.student, first_name=first.strip() or None,
                                        last_name=last.strip() or None,
                                        email=(row.person.email if row.person else None) or None,
                                        lms_user_id=row.lms_id or None)
            try:
                gb.find_submission(chapter, row.student)
            except Exception:  # noqa: BLE001 - nbgrader raises MissingEntry
                gb.add_submission(chapter, row.student)
            for ex in row.result.exercises.values():
                grade = gb.find_grade(f"test_{ex.exercise}", chapter, chapter, row.student)
                grade.auto_score = ex.score
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()


# ----------------------------------------------------------------------------- learner pages
STYLE = """body{font-family:sans-serif;max-width:52rem;margin:2rem auto;color:#222}
.ok{color:#176d2c}.bad{color:#a4161a}.todo{color:#666}pre{background:#f6f6f6;padding:.8rem;white-space:pre-wrap}
.hint{background:#fff4d6;padding:.6rem .8rem;border-left:4px solid #e0a800;margin:.4rem 0}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}"""


def hint_first(message: str) -> tuple[str, str]:
    """(the hint, the rest of the message): a learner reads what to do before the numbers."""
    lines = message.splitlines()
    hints = [ln[len("Hint:"):].strip() for ln in lines if ln.startswith("Hint:")]
    rest = "\n".join(ln for ln in lines if not ln.startswith("Hint:"))
    return " ".join(hints), rest


def _state(ex) -> tuple[str, str]:
    if ex.score == ex.points:
        return "ok", "passed"
    if "not answered" in ex.message:
        return "todo", "not answered"
    return "bad", "not yet right"


def feedback_html(row: Row) -> str:
    r = row.result
    items, details = [], []
    order = list(exercises_of(source_notebook(r.chapter)))
    for ex in sorted(r.exercises.values(), key=lambda e: order.index(e.exercise) if e.exercise in order else 99):
        css, word = _state(ex)
        items.append(f"<tr><td>{html.escape(ex.exercise)}</td><td class={css}>{ex.score:g} / "
                     f"{ex.points:g}</td><td class={css}>{word}</td></tr>")
        if ex.message and css == "bad":
            hint, rest = hint_first(ex.message)
            details.append(f"<h3>{html.escape(ex.exercise)}</h3>"
                           + (f"<div class=hint>{html.escape(hint)}</div>" if hint else "")
                           + f"<pre>{html.escape(rest)}</pre>")
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in r.problems)
    total = sum(e.points for e in r.exercises.values())
    late = f"<p>{html.escape(row.late_note)}: your score is {row.final:g} of {r.score:g}.</p>" \
        if row.late_note and row.final != r.score else (f"<p>{html.escape(row.late_note)}</p>" if row.late_note else "")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Feedback {html.escape(r.chapter)}"
            f"</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(r.chapter)}: {row.final:g} / {total:g}</h1>{late}"
            f"<table><tr><th>exercise</th><th>score</th><th></th></tr>{''.join(items)}</table>"
            + ("<h2>What to fix</h2>" + "".join(details) if details else "")
            + (f"<h2>About your submission</h2><ul>{problems}</ul>" if problems else "")
            + "</body></html>")


def write_feedback(rows: list[Row], folder: Path, submitted: Path | None = None) -> list[Path]:
    """feedback/<learner>/<chapter>/<chapter>.html (nbgrader's own layout); for a submission
    that came through nbgrader's exchange, also timestamp.txt and submission_secret.txt,
    so that `nbgrader release_feedback` sends the page back to the learner."""
    import shutil

    paths = []
    for row in rows:
        if row.result is None:
            continue
        chapter = row.result.chapter
        path = folder / row.student / chapter / f"{chapter}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_html(row), encoding="utf-8")
        paths.append(path)
        came_from = submitted / row.student / chapter if submitted else None
        if came_from and (came_from / "submission_secret.txt").is_file():
            for name in ("timestamp.txt", "submission_secret.txt"):
                shutil.copyfile(came_from / name, path.parent / name)
    return paths


# ----------------------------------------------------------------------------- the class report
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def answers_of(nb) -> str:
    """The answer cells of a notebook, in order, as one text."""
    return "\n\n".join(str(c.get("source", "")) for c in nb.cells
                       if c.get("metadata", {}).get("nbgrader", {}).get("solution"))


def class_similarity(chapter: str, submitted: dict[str, Path], release: Path) -> list:
    from .similarity import SOLUTION, similar_pairs

    answers = {}
    for student, path in submitted.items():
        try:
            answers[student] = answers_of(nbformat.read(str(path), as_version=4))
        except Exception:  # noqa: BLE001 - an unreadable file has no answers to compare
            continue
    answers[SOLUTION] = answers_of(source_notebook(chapter))
    starter = answers_of(nbformat.read(str(release), as_version=4))
    return similar_pairs(answers, starter)


def class_report(rows: list[Row], chapter: str, path: Path, *, missing: list[Person] = (),
                 unmatched: list[str] = (), pairs: list = ()) -> Path:
    """Score distribution, pass rate per exercise (notebook order), the most common failure
    per exercise, late work, flags, learners missing or not on the roster, similar pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    exercises = list(exercises_of(source_notebook(chapter)))
    graded = [row for row in rows if row.result is not None]
    top = _max(chapter)
    totals = [row.final for row in graded]
    fig1, ax = plt.subplots(figsize=(6, 3))
    step = 1.0 if top <= 40 else top / 40           # one bar per possible whole score
    bins = [i * step - step / 2 for i in range(int(top / step) + 2)]
    ax.hist(totals, bins=bins, color="#4c72b0", edgecolor="white")
    ax.set_xlim(-step, top + step)
    ax.set_xlabel(f"final score (of {top:g})")
    ax.set_ylabel("learners")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_title(f"{chapter}: score distribution ({len(totals)} learners)")
    rates = [sum(r.result.exercises[e].score == r.result.exercises[e].points for r in graded
                 if e in r.result.exercises) / max(len(graded), 1) for e in exercises]
    fig2, ax2 = plt.subplots(figsize=(6, 3))
    ax2.bar(range(len(exercises)), [100 * x for x in rates], color="#55a868")
    ax2.set_xticks(range(len(exercises)), exercises, rotation=30, ha="right")
    ax2.set_ylabel("% passing")
    ax2.set_ylim(0, 100)
    ax2.set_title("pass rate per exercise (notebook order)")
    failures = []
    for e in exercises:
        firsts = Counter(r.result.exercises[e].message.splitlines()[0] for r in graded
                         if e in r.result.exercises and r.result.exercises[e].message)
        common, n = firsts.most_common(1)[0] if firsts else ("", 0)
        failures.append(f"<tr><td>{html.escape(e)}</td><td>{n}</td><td>{html.escape(common)}</td></tr>")
    statuses = Counter(r.result.status for r in graded)
    flagged = [(r.student, f) for r in graded for f in r.result.flags]
    late = [(r.student, r.late_note) for r in graded if r.late_note]

    def section(title: str, items: list[str]) -> str:
        return f"<h2>{title}</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else ""

    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{chapter} class report</title>"
            f"<style>{STYLE}</style></head><body><h1>{chapter}: class report</h1>"
            f"<p>{len(graded)} submissions: " + ", ".join(f"{n} {s}" for s, n in statuses.items())
            + (f"; {len(missing)} learner(s) on the roster handed nothing in" if missing else "") + "</p>"
            f"<img src='data:image/png;base64,{_png(fig1)}'><img src='data:image/png;base64,{_png(fig2)}'>"
            "<h2>Most common failure per exercise</h2><table><tr><th>exercise</th><th>learners</th>"
            f"<th>message</th></tr>{''.join(failures)}</table>"
            + section("Late work", [f"{html.escape(s)}: {html.escape(n)}" for s, n in late])
            + section("No submission (on the roster)", [html.escape(p.name or p.lms_id) for p in missing])
            + section("Not on the roster", [html.escape(s) for s in unmatched])
            + section("Flagged for review", [f"{html.escape(s)}: {html.escape(f)}" for s, f in flagged])
            + section("Similar answers (to look at, not a verdict)",
                      [f"{html.escape(p.a)} and {html.escape(p.b)}: {100 * p.similarity:.0f} % of their "
                       f"answer code in common ({p.tokens} tokens)" for p in pairs])
            + "</body></html>")
    plt.close(fig1)
    plt.close(fig2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def summary(rows: list[Row]) -> dict:
    graded = [r for r in rows if r.result is not None]
    return {"graded": len(graded), "missing": sum(r.result is None for r in rows),
            "late": sum(bool(r.late_note) for r in graded),
            "flagged": sum(bool(r.result.flags) for r in graded)}


def save_rows_json(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([{"student": r.student, "name": r.name, "lms_id": r.lms_id,
                                 "raw": r.raw, "final": r.final, "late": r.late_note,
                                 "submitted_at": r.submitted_at} for r in rows], indent=1, ensure_ascii=False))

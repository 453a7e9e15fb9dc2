"""What the grader hands out: grades as CSV, the nbgrader gradebook, one feedback page per
learner and a class report with plots. Everything is built from the result files, so no
page can show hidden-test source or a reference solution: they are never in a result."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter
from pathlib import Path

from .grading import Result


def _exercise_order(results: dict[str, Result]) -> list[str]:
    """Exercises in the order of the chapter's notebook."""
    from .grading import exercises_of, source_notebook

    if not results:
        return []
    return list(exercises_of(source_notebook(next(iter(results.values())).chapter)))


def write_csv(results: dict[str, Result], path: Path) -> Path:
    """One row per learner, one column per exercise, then total, status and flags."""
    exercises = _exercise_order(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *exercises, "total", "max", "status", "flags"])
        for student, r in sorted(results.items()):
            w.writerow([student, *[f"{r.exercises[e].score:g}" if e in r.exercises else "0" for e in exercises],
                        f"{r.score:g}", f"{sum(e.points for e in r.exercises.values()):g}",
                        r.status, " | ".join(r.flags)])
    return path


def to_gradebook(results: dict[str, Result], chapter: str, db_url: str) -> None:
    """Record the scores in nbgrader's gradebook (the assignment and its grade cells must
    exist there: `python -m autograder register` puts them in)."""
    import warnings

    from nbgrader.api import Gradebook

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's own SQLAlchemy noise
    with Gradebook(db_url) as gb:
        for student, r in results.items():
            gb.update_or_create_student(student)
            try:
                gb.find_submission(chapter, student)
            except Exception:  # noqa: BLE001 - nbgrader raises MissingEntry
                gb.add_submission(chapter, student)
            for ex in r.exercises.values():
                grade = gb.find_grade(f"test_{ex.exercise}", chapter, chapter, student)
                grade.auto_score = ex.score
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()


FEEDBACK_STYLE = """body{font-family:sans-serif;max-width:52rem;margin:2rem auto;color:#222}
.ok{color:#176d2c}.bad{color:#a4161a}pre{background:#f6f6f6;padding:.8rem;white-space:pre-wrap}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}"""


def feedback_html(r: Result) -> str:
    rows, details = [], []
    for ex in r.exercises.values():
        ok = ex.score == ex.points
        rows.append(f"<tr><td>{html.escape(ex.exercise)}</td><td class={'ok' if ok else 'bad'}>"
                    f"{ex.score:g} / {ex.points:g}</td></tr>")
        if not ok and ex.message:
            details.append(f"<h3>{html.escape(ex.exercise)}</h3><pre>{html.escape(ex.message)}</pre>")
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in r.problems)
    total = sum(e.points for e in r.exercises.values())
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Feedback {html.escape(r.chapter)}"
            f"</title><style>{FEEDBACK_STYLE}</style></head><body>"
            f"<h1>{html.escape(r.chapter)}: {r.score:g} / {total:g}</h1>"
            f"<table><tr><th>exercise</th><th>score</th></tr>{''.join(rows)}</table>"
            + (f"<h2>About your submission</h2><ul>{problems}</ul>" if problems else "")
            + ("<h2>What to fix</h2>" + "".join(details) if details else "")
            + "</body></html>")


def write_feedback(results: dict[str, Result], folder: Path) -> list[Path]:
    paths = []
    for student, r in results.items():
        path = folder / student / r.chapter / "feedback.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_html(r), encoding="utf-8")
        paths.append(path)
    return paths


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def class_report(results: dict[str, Result], chapter: str, path: Path) -> Path:
    """Score distribution, pass rate per exercise, the most common failure per exercise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exercises = _exercise_order(results)
    totals = [r.score for r in results.values()]
    fig1, ax = plt.subplots(figsize=(6, 3))
    ax.hist(totals, bins=min(20, max(5, len(set(totals)))), color="#4c72b0")
    ax.set_xlabel("score")
    ax.set_ylabel("learners")
    ax.set_title(f"{chapter}: score distribution ({len(totals)} learners)")
    rates = [sum(r.exercises[e].score == r.exercises[e].points for r in results.values()
                 if e in r.exercises) / max(len(results), 1) for e in exercises]
    fig2, ax2 = plt.subplots(figsize=(6, 3))
    ax2.bar(exercises, [100 * x for x in rates], color="#55a868")
    ax2.set_ylabel("% passing")
    ax2.set_ylim(0, 100)
    ax2.set_title("pass rate per exercise")
    rows = []
    for e in exercises:
        firsts = Counter(r.exercises[e].message.splitlines()[0] for r in results.values()
                         if e in r.exercises and r.exercises[e].message)
        common, n = firsts.most_common(1)[0] if firsts else ("", 0)
        rows.append(f"<tr><td>{html.escape(e)}</td><td>{n}</td><td>{html.escape(common)}</td></tr>")
    statuses = Counter(r.status for r in results.values())
    flagged = [(s, f) for s, r in sorted(results.items()) for f in r.flags]
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{chapter} class report</title>"
            f"<style>{FEEDBACK_STYLE}</style></head><body><h1>{chapter}: class report</h1>"
            f"<p>{len(results)} submissions: " + ", ".join(f"{n} {s}" for s, n in statuses.items()) + "</p>"
            f"<img src='data:image/png;base64,{_png(fig1)}'><img src='data:image/png;base64,{_png(fig2)}'>"
            "<h2>Most common failure per exercise</h2><table><tr><th>exercise</th><th>learners</th>"
            f"<th>message</th></tr>{''.join(rows)}</table>"
            + ("<h2>Flagged for review</h2><ul>" + "".join(
                f"<li>{html.escape(s)}: {html.escape(f)}</li>" for s, f in flagged) + "</ul>" if flagged else "")
            + "</body></html>")
    plt.close(fig1)
    plt.close(fig2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path

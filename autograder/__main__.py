"""The instructor's command line: `python -m autograder COMMAND` (or `course-autograder`).

  release [CH ...] [--exchange | --exchange-only]
                                  learner copies into notebooks/ (and nbgrader's exchange)
  collect CH --from PATH [--roster CSV]
                                  a folder or zip downloaded from an LMS (Canvas, Moodle, any)
  collect CH --exchange           nbgrader's exchange (nbgrader collect)
  grade CH [--workers N | --scheduler tcp://HOST:8786]
                                  autograde every collected submission of CH (sandboxed), here
                                  or on a Dask cluster
  report CH [--roster CSV] [--due TIME --penalty PCT --cutoff DAYS]
                                  grades (CSV, Canvas and Moodle imports), the gradebook,
                                  feedback pages, the class report
  run CH --from PATH              collect, grade and report in one go

Working folders live in grading/ (git-ignored; COURSE_GRADING=DIR moves them): originals/,
submitted/, results/, feedback/, reports/, identities.json, roster.csv, gradebook.db, exchange/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .authoring.course import REPO, Course, chapters, release
from .grader import collect as collect_mod
from .learner.settings import grading_root

GRADING = grading_root()


def _results_dir(chapter: str) -> Path:
    return GRADING / "results" / chapter


def _submissions(chapter: str) -> dict[str, Path]:
    root = GRADING / "submitted"
    if not root.is_dir():
        return {}
    return {p.parents[1].name: p for p in sorted(root.glob(f"*/{chapter}/{chapter}.ipynb"))}


def cmd_release(args) -> int:
    if not args.exchange_only:
        for path in release(args.chapters or None):
            print(f"released {_show(path)}")
    if args.exchange or args.exchange_only:
        (GRADING / "exchange").mkdir(parents=True, exist_ok=True)
        for ch in args.chapters or chapters():
            subprocess.run([sys.executable, "-m", "nbgrader", "release_assignment", ch, "--force"],
                           cwd=REPO, check=True, env=_env())
            print(f"released {ch} to the exchange ({GRADING / 'exchange'})")
    return 0


def _show(path: Path) -> str:
    """A path as the instructor reads it: relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _env() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def cmd_collect(args) -> int:
    if args.exchange:
        print(f"collect: nbgrader collect {args.chapter} (the exchange) ...", flush=True)
        subprocess.run([sys.executable, "-m", "nbgrader", "collect", args.chapter, "--update"],
                       cwd=REPO, check=True, env=_env())
        got = [collect_mod._keep(student, path.name, path.read_bytes(), args.chapter, GRADING,
                                 when=_nbgrader_time(path.parent / "timestamp.txt"),
                                 meta={"name": student, "source": "exchange"})
               for student, path in _submissions(args.chapter).items()]
        skipped, notes = [], []
    else:
        print(f"collect: reading {args.source} ...", flush=True)
        found = collect_mod.collect_lms(Path(args.source), args.chapter, GRADING)
        got, skipped, notes = found.collected, found.skipped, found.notes
    new = sum(c.new for c in got)
    late = sorted({c.student for c in got if c.late})
    print(f"collected {len(got)} notebooks ({new} new, {len(got) - new} already kept) "
          f"from {len({c.student for c in got})} learners"
          + (f"; late: {', '.join(late)}" if late else ""))
    for note in notes:
        print(f"  note: {note}")
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for s in skipped:
            print(f"  {s.origin}: {s.reason}")
    if getattr(args, "roster", None):
        from .grader.roster import match, read_roster
        GRADING.mkdir(parents=True, exist_ok=True)
        (GRADING / "roster.csv").write_bytes(Path(args.roster).read_bytes())   # report reuses it
        people = read_roster(GRADING / "roster.csv")
        learners = collect_mod.Identities(GRADING).by_id()
        mine = {c.student: learners.get(c.student, {}) for c in got}
        _, missing, unmatched = match(people, mine)
        print(f"roster: {len(people)} learners; {len(people) - len(missing)} handed in"
              + (f"; no submission: {', '.join(p.name or p.lms_id for p in missing)}" if missing else "")
              + (f"; not on the roster: {', '.join(unmatched)}" if unmatched else ""))
    return 0


def _nbgrader_time(path: Path):
    """The submission time nbgrader's exchange recorded (timestamp.txt), or None."""
    from datetime import timezone

    from dateutil import parser as dateparser
    try:
        t = dateparser.parse(path.read_text().strip())
    except (OSError, ValueError, OverflowError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def cmd_grade(args) -> int:
    from .grader import sandbox
    from .grader.grading import ControlFailed, grade_batch

    subs = _submissions(args.chapter)
    if not subs:
        print(f"no submissions of {args.chapter} in {GRADING / 'submitted'}", file=sys.stderr)
        return 1
    missing = [] if (args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")) else sandbox.missing_tools()
    if missing:
        print(f"error: grading needs {', '.join(missing)} for its sandbox "
              "(apt-get install bubblewrap util-linux); nothing was graded", file=sys.stderr)
        return 1
    limits = sandbox.Limits(cell_seconds=args.cell_timeout, memory_bytes=int(args.memory_gb * 1024 ** 3),
                            output_bytes=args.output_kb * 1000)
    os.environ.setdefault("COURSE_QUICK", "1")
    try:
        results = grade_batch(args.chapter, subs, _results_dir(args.chapter), workers=args.workers,
                              limits=limits, scheduler=args.scheduler)
    except ControlFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    flagged = sum(bool(r.flags) for r in results.values())
    errors = sum(r.status == "error" for r in results.values())
    print(f"graded {len(results)} submissions of {args.chapter}; {flagged} flagged for review"
          + (f"; {errors} could not be graded (see their results)" if errors else ""))
    return 0


def register(chapter: str) -> None:
    """Put the chapter's assignment and grade cells into the gradebook (nbgrader's own
    generate_assignment, in a scratch course pointed at grading/gradebook.db)."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Course.scratch(Path(tmp), [chapter])
        course.db = GRADING / "gradebook.db"
        GRADING.mkdir(parents=True, exist_ok=True)
        course.generate(chapter)


def cmd_report(args) -> int:
    from .grader import report
    from .grader.grading import read_result
    from .grader.roster import LatePolicy, read_roster

    out = _results_dir(args.chapter)
    results = {p.stem: r for p in sorted(out.glob("*.json")) if p.stem != "batch"
               and (r := read_result(out, p.stem))}
    if not results:
        print(f"no results for {args.chapter}: run `grade` first", file=sys.stderr)
        return 1
    reports = GRADING / "reports" / args.chapter
    policy_file = reports / "policy.json"
    policy = LatePolicy.load(policy_file)
    if args.due or args.penalty is not None or args.cutoff is not None:
        policy = LatePolicy(args.due or policy.due,
                            policy.penalty_per_day if args.penalty is None else args.penalty / 100,
                            policy.cutoff_days if args.cutoff is None else args.cutoff)
        policy.save(policy_file)
    roster_file = Path(args.roster) if args.roster else GRADING / "roster.csv"
    if args.roster:
        GRADING.mkdir(parents=True, exist_ok=True)
        (GRADING / "roster.csv").write_bytes(Path(args.roster).read_bytes())
    roster = read_roster(roster_file) if roster_file.is_file() else None
    print(f"report: {len(results)} results" + (f", roster of {len(roster)}" if roster else "")
          + (f", due {policy.due}" if policy.due else "") + " ...", flush=True)
    rows, missing, unmatched = report.build_rows(results, args.chapter, GRADING, policy, roster)
    csv_path = report.write_csv(rows, args.chapter, reports / "grades.csv")
    exports = report.write_lms_exports(rows, args.chapter, reports)
    register(args.chapter)
    report.to_gradebook(rows, args.chapter, f"sqlite:///{GRADING / 'gradebook.db'}")
    pages = report.write_feedback(rows, GRADING / "feedback", GRADING / "submitted")
    subs = {s: p for s, p in _submissions(args.chapter).items() if s in results}
    pairs = report.class_similarity(args.chapter, subs, REPO / "notebooks" / args.chapter / f"{args.chapter}.ipynb")
    page = report.class_report(rows, args.chapter, reports / "class_report.html", missing=missing,
                               unmatched=unmatched, pairs=pairs)
    facts = report.summary(rows)
    print(f"grades: {_show(csv_path)} (LMS imports: {', '.join(_show(e) for e in exports)})")
    print(f"class report: {_show(page)}; feedback pages: {len(pages)} in {_show(GRADING / 'feedback')}"
          f"/<learner>/{args.chapter}/{args.chapter}.html; gradebook updated")
    print(f"{facts['graded']} graded, {facts['late']} late, {facts['flagged']} flagged, "
          f"{len(pairs)} similar pair(s)"
          + (f"; no submission from {len(missing)} on the roster: "
             + ", ".join(p.name or p.lms_id for p in missing) if missing else "")
          + (f"; not on the roster: {', '.join(unmatched)}" if unmatched else ""))
    return 0


def cmd_run(args) -> int:
    return cmd_collect(args) or cmd_grade(args) or cmd_report(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release")
    p.add_argument("chapters", nargs="*")
    p.add_argument("--exchange", action="store_true", help="also publish to nbgrader's exchange")
    p.add_argument("--exchange-only", action="store_true",
                   help="publish the committed notebooks/ to the exchange without regenerating")
    p.set_defaults(func=cmd_release)

    def grading_options(p):
        p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
        p.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell")
        p.add_argument("--memory-gb", type=float, default=3.0, help="memory per kernel")
        p.add_argument("--output-kb", type=int, default=1000, help="output per cell")
        p.add_argument("--scheduler", help="grade on a Dask cluster: its scheduler's address "
                       "(tcp://host:8786; default $DASK_SCHEDULER_ADDRESS, else this machine)")

    for name, func in (("collect", cmd_collect), ("grade", cmd_grade), ("report", cmd_report),
                       ("run", cmd_run)):
        p = sub.add_parser(name)
        p.add_argument("chapter", choices=chapters())
        if name == "collect":
            p.add_argument("--roster", help="the class list exported from the LMS (CSV)")
        if name in ("collect", "run"):
            src = p.add_mutually_exclusive_group(required=True)
            src.add_argument("--from", dest="source", help="LMS download: folder or zip")
            src.add_argument("--exchange", action="store_true", help="nbgrader's exchange")
        if name in ("grade", "run"):
            grading_options(p)
        if name in ("report", "run"):
            p.add_argument("--roster", help="the class list exported from the LMS (CSV)")
            p.add_argument("--due", help="due time, ISO 8601 (e.g. 2026-12-01T23:59+01:00)")
            p.add_argument("--penalty", type=float, help="late penalty, percent of the score per started day")
            p.add_argument("--cutoff", type=float, help="days after the due time when late work scores zero")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The course's environment variables, read in one place.

COURSE_QUICK=1      anything that trains runs a short version (CI, autograding)
COURSE_DEVICES=...  comma-separated devices the checks run on (default: all available)
COURSE_GRADING=DIR  the instructor's grading folder (default: grading/ in the repository);
                    nbgrader_config.py reads it too
"""

from __future__ import annotations

import os
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}


def quick_mode() -> bool:
    """True when COURSE_QUICK asks for the short version of anything that trains."""
    return os.environ.get("COURSE_QUICK", "").strip().lower() in TRUE_WORDS


def pick(full, quick):
    """`quick` in quick mode, else `full`: e.g. `steps = pick(500, 50)`."""
    return quick if quick_mode() else full


def requested_devices() -> list[str] | None:
    """Devices named in COURSE_DEVICES, or None when the variable is unset or empty."""
    raw = os.environ.get("COURSE_DEVICES", "").strip()
    if not raw:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def grading_root() -> Path:
    """Where collected submissions, results, reports, the gradebook and the exchange live."""
    raw = os.environ.get("COURSE_GRADING", "").strip()
    return Path(raw).resolve() if raw else Path(__file__).resolve().parents[2] / "grading"

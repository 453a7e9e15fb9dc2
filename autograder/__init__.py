"""The course's autograder: exercise checks against independent oracles on every device,
notebook tooling, and the instructor's grading pipeline around nbgrader.

What a hidden test cell uses:

    from autograder import check
    check("ch01.forward", forward)
"""

from .compare import FLOAT32, FLOAT64, CheckFailure, Mistake, Tol, compare
from .devices import available_devices, default_device
from .inputs import Rand
from .settings import pick, quick_mode
from .spec import Case, Observation, Property, Spec, check, check_chapter, judge, observe

__all__ = [
    "FLOAT32", "FLOAT64", "CheckFailure", "Mistake", "Tol", "compare",
    "available_devices", "default_device", "Rand", "pick", "quick_mode",
    "Case", "Observation", "Property", "Spec", "check", "check_chapter", "judge", "observe",
]

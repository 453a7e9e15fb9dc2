"""The course's package. Notebooks use only its learner side:

    from autograder import check, check_chapter, pick, loss_curve, progress
    check("ch01.forward", forward)

Layout (the trust boundary of grading):
  autograder.learner    what notebooks and a grading kernel may import (no answers in it)
  autograder.grader     specs, oracles, the sandboxed grading pipeline (never in a kernel)
  autograder.authoring  chapters as text, nbgrader releases, `make lab`
"""

from __future__ import annotations

import importlib

# name -> learner-side module that defines it; imported on first use, so `import autograder`
# stays cheap and never pulls in anything outside autograder.learner.
_EXPORTS = {
    "check": "api", "check_chapter": "api", "needs": "api", "CheckFailure": "errors",
    "pick": "settings", "quick_mode": "settings",
    "available_devices": "devices", "default_device": "devices",
    "loss_curve": "plotting", "progress": "plotting",
    "CLASSES": "training", "seed_everything": "training", "fashion_mnist": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.learner.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__

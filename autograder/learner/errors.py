"""The one exception a learner sees from a check."""

from __future__ import annotations


class CheckFailure(AssertionError):
    """A failed check. IPython shows just the message: the traceback would only show
    the autograder's frames, which say nothing to a learner."""

    def _render_traceback_(self):
        return ["\x1b[31mCheckFailure\x1b[0m: " + str(self).replace("\n", "\n  ")]

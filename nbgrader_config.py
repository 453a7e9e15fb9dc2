"""nbgrader's configuration for this course.

chapters/<chapter>.py                the chapter as text (the single source of truth)
solutions/<chapter>/<chapter>.ipynb  source notebooks built from it (solutions, hidden tests)
notebooks/<chapter>/<chapter>.ipynb  learner release, made by `make release`
grading/                             nbgrader's working folders (git-ignored)
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))
# COURSE_GRADING moves every working folder elsewhere (autograder.learner.settings reads it too).
GRADING = os.path.abspath(os.environ.get("COURSE_GRADING") or os.path.join(HERE, "grading"))

c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = os.path.join(GRADING, "submitted")
c.CourseDirectory.autograded_directory = os.path.join(GRADING, "autograded")
c.CourseDirectory.feedback_directory = os.path.join(GRADING, "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(GRADING, "gradebook.db")
c.CourseDirectory.course_id = "pytorch-course"
c.Exchange.root = os.path.join(GRADING, "exchange")

# Only the chapter notebooks are released; editor droppings stay behind.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Autograde through the course's sandbox and out-of-process verdicts, never in a plain
# kernel (the same settings are installed environment-wide by `make setup`).
exec(open(os.path.join(HERE, "env", "nbgrader_safe.py")).read())  # noqa: S102

"""nbgrader's configuration for this course.

solutions/<chapter>/<chapter>.ipynb  source notebooks (solutions and hidden tests)
notebooks/<chapter>/<chapter>.ipynb  learner release, made by `make release`
grading/                             nbgrader's working folders (git-ignored)
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))
# COURSE_GRADING moves every working folder elsewhere (autograder.settings reads it too).
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

# A hidden test cell may train a small model in quick mode; a hung cell still ends.
c.ExecutePreprocessor.timeout = 300
c.ExecutePreprocessor.interrupt_on_timeout = True

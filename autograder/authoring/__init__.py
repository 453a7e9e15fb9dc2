"""Instructor tooling: chapters as text, nbgrader releases, the learner's JupyterLab."""

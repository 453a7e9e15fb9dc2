# Included by the course's nbgrader configurations (nbgrader_config.py in the repository,
# and <environment>/etc/jupyter/nbgrader_config.py written by env/setup.sh): nbgrader's
# autograde runs learner notebooks only through the course's sandbox, whoever starts it
# (command line or formgrader's Autograde button) and from whichever folder.
c = get_config()  # noqa: F821
c.Autograde.autograde_preprocessors = [
    "autograder.grader.nbgrader_execute.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

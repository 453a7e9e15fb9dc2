"""The learner side of the course's package: everything a notebook imports, and the only
part of `autograder` a grading kernel can reach.

The grading sandbox binds `autograder/__init__.py` and this folder, nothing else of the
course: no specs, no oracles, no reference solutions, no grader. So nothing here may
compute an exercise's answer. What is here:

  api.py       `check` / `check_chapter`: judged by the grader side when it is installed
               (JupyterLab); in a grading kernel they only say where the verdict comes from
  harness/     how each exercise's object is called and what of it is observed
  observe.py   call a harness on plain inputs and capture plain values (no pickle)
  kernel.py    the grading-time protocol: read the grader's inputs, write observations
  values.py    the plain values that cross between learner code and the grader
  settings.py devices.py plotting.py training.py data.py errors.py
               what chapters use: COURSE_* variables, devices, plots, Fashion-MNIST
"""

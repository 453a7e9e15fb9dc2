"""The grader side: specs with their oracles, the judge, and the sandboxed grading
pipeline around nbgrader. Never importable from a grading kernel (the sandbox shows it
only autograder.learner), so nothing a learner's code does can reach what is here.

  spec.py check.py compare.py static.py gradients.py inputs.py   declaring and judging checks
  specs/chNN.py isolation/chNN.py reference_training.py           oracles, stand-ins, references
  sandbox.py worker.py grading.py nbgrader_execute.py              running and grading submissions
  collect.py report.py tamper.py                                    the class round trip
"""

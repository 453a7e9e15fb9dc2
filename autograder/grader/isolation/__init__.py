"""Stand-ins for exercises that other exercises call: while `train` is graded, its calls
to `forward`, `sse_loss` and `backward` reach these instead of the learner's, so a mistake
costs only the exercise it is in.

One module per chapter, self-contained (numpy and torch only): a grading kernel receives
its source, and only in the harvest cell of the exercise that needs it, after the
observations of the exercises it stands in for have been taken out of the kernel's reach.
"""

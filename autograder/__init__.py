"""Autograder for a course on convolutional networks (PyTorch).

Pipeline, in order: ``course`` (what an assignment is) -> ``runner`` (run the
grader tests against a submission in a child process) -> ``report`` (score,
table, Gradescope JSON). ``template`` and ``release`` produce what students
get. ``cli`` is a thin layer over ``api``.
"""
__version__ = "0.1.0"

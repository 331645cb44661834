"""Autograder for a course on convolutional networks (PyTorch).

Pipeline, in order: ``course`` (what an assignment is) -> ``runner`` (run the
grader tests against a submission in a child process) -> ``report`` (score,
table, Gradescope JSON). ``template`` and ``release`` produce what students
get. ``cli`` is a thin layer over ``api``.
"""
import os

__version__ = "0.1.0"

# The grading process's own PyTorch threads sleep while they wait instead of spinning (as the student process's
# do, runner/channel.py): gradings run side by side on busy machines, where a spinning OpenMP thread burns the
# core another grading needs (the many small operations of the grader's oracles took several times longer).
# It changes no result, only how idle threads wait; set before PyTorch is first imported, unless already set.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""Fixtures shared by the A5 graders: the student's module, the probes next to it. The experiment's data
(hidden graders only) is in hidden/conftest.py."""
import pytest


@pytest.fixture(scope="session")
def reg(submission):
    """The student's regularization module (its functions run in the student process)."""
    return submission.module("regularization")


@pytest.fixture(scope="session")
def probes(helpers):
    """autograder/sandbox/helpers/a5.py, run next to the student's code."""
    return helpers("a5")

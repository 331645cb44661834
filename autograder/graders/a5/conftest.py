"""Fixtures shared by the A5 graders: the student's module, the probes next to it, the experiment's data."""
import pytest

from autograder.graders.a5 import measure


@pytest.fixture(scope="session")
def reg(submission):
    """The student's regularization module (its functions run in the student process)."""
    return submission.module("regularization")


@pytest.fixture(scope="session")
def probes(helpers):
    """autograder/sandbox/helpers/a5.py, run next to the student's code."""
    return helpers("a5")


@pytest.fixture(scope="session")
def experiment_data(cifar):
    """The overfitting experiment's subsets: (train, validation, test) of the budget."""
    return measure.subsets(*cifar)

"""Fixtures of the A5 hidden graders: the overfitting experiment's data."""
import pytest

from autograder.graders.a5 import measure


@pytest.fixture(scope="session")
def experiment_data(cifar):
    """The overfitting experiment's subsets: (train, validation, test) of the budget."""
    return measure.subsets(*cifar)

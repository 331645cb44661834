"""Fixtures shared by the A5 graders."""
import pytest
import torch

from autograder.graders.a5 import measure


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The budget's thread count for every test: the networks and batches here are small, and more
    threads than free cores make them many times slower."""
    torch.set_num_threads(measure.BUDGET["threads"])


@pytest.fixture(scope="session")
def reg(submission):
    """The student's regularization module."""
    return submission.module("regularization")


@pytest.fixture(scope="session")
def experiment_data(cifar):
    """The overfitting experiment's subsets: stratified training and test images of the budget."""
    return measure.subsets(*cifar)

"""Fixtures shared by the A4 graders."""
import numpy as np
import pytest

from autograder import data


@pytest.fixture(scope="session")
def cnn(submission):
    """The student's cifar_cnn module."""
    return submission.module("cifar_cnn")


@pytest.fixture(scope="session")
def small_cifar(cifar):
    """A stratified random subset of the real images: 2,000 for training, 500 for testing."""
    (train_x, train_y), (test_x, test_y) = cifar
    tr = data.stratified_indices(train_y, per_class=200, seed=1)
    te = data.stratified_indices(test_y, per_class=50, seed=1)
    return (train_x[tr], train_y[tr]), (test_x[te], test_y[te])


@pytest.fixture
def synthetic():
    """64 random uint8 images (N, 32, 32, 3) and labels, no data set needed."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=64)

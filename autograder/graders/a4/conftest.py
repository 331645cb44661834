"""Fixtures shared by the A4 graders: the student's module, the probes next to it, small data."""
import numpy as np
import pytest

from autograder import data


@pytest.fixture(scope="session")
def cnn(submission):
    """The student's cifar_cnn module (its functions run in the student process)."""
    return submission.module("cifar_cnn")


@pytest.fixture(scope="session")
def probes(helpers):
    """autograder/sandbox/helpers/a4.py, run next to the student's code."""
    return helpers("a4")


@pytest.fixture(scope="session")
def small_cifar(cifar):
    """A stratified random subset of the real training images: 2,000 to train on, 500 to validate on."""
    (train_x, train_y), _ = cifar
    return data.small_split(train_x, train_y, per_class=250, val_per_class=50)


@pytest.fixture
def synthetic():
    """64 random uint8 images (N, 32, 32, 3) and labels, no data set needed."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=64)


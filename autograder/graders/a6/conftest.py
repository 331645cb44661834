"""Fixtures shared by the A6 graders: the student's module, the probes next to it, small data. Fixtures that
only the hidden graders use (the graded subset, the pretrained backbone) are in hidden/conftest.py."""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def tl(submission):
    """The student's transfer module (its functions run in the student process)."""
    return submission.module("transfer")


@pytest.fixture(scope="session")
def probes(helpers):
    """autograder/sandbox/helpers/a6.py, run next to the student's code."""
    return helpers("a6")


@pytest.fixture
def synthetic():
    """64 random uint8 images (N, 32, 32, 3) and labels, no data set needed."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=64)

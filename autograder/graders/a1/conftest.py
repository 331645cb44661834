"""Fixtures shared by the A1 graders."""
import pytest


@pytest.fixture(scope="session")
def ca(submission):
    """The student's conv_arithmetic module (it runs in the student process)."""
    return submission.module("conv_arithmetic")


@pytest.fixture(scope="session")
def nets(helpers):
    """Networks built in the student process from a description: ``nets.build(spec)``."""
    return helpers("a1")

"""Fixtures shared by the A1 graders."""
import pytest


@pytest.fixture(scope="session")
def ca(submission):
    """The student's conv_arithmetic module."""
    return submission.module("conv_arithmetic")

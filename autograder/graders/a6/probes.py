"""Stand-ins and independent references for the A6 graders (written apart from the solution)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.backbones import Backbone, TF_MEAN, TF_STD


class TinyNet(nn.Module):
    """A pretrained-network stand-in: conv + BatchNorm features and a 1000-class head named ``head``."""

    def __init__(self, head: str = "classifier", dropout: float = 0.0):
        super().__init__()
        self.head_name = head
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        setattr(self, head, nn.Linear(16, 1000))

    def forward(self, x):
        return getattr(self, self.head_name)(self.features(x))


def tiny_backbone(head: str = "classifier", dropout: float = 0.0) -> Backbone:
    torch.manual_seed(0)
    return Backbone("tiny", TinyNet(head, dropout).eval(), TF_MEAN, TF_STD, head, 16, "grader stand-in")


def reference_tensors(images: np.ndarray, labels, mean, std, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale to [0, 1], resize bilinearly to ``size`` (align_corners=False), standardize per channel."""
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    if size != x.shape[-1]:
        x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False, antialias=False)
    x = x.sub(torch.tensor(mean)[:, None, None]).div(torch.tensor(std)[:, None, None])
    return x, torch.tensor(np.asarray(labels), dtype=torch.int64)


def freeze(model: nn.Module, head: str) -> None:
    """The grader's own freezing: everything but the head."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(head + "."))


def frozen_train_mode(model: nn.Module) -> None:
    """The grader's own train mode for a frozen model: BatchNorm layers of frozen parts stay in eval."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in module.parameters()):
            module.eval()


def backbone_state(model: nn.Module, head: str) -> dict[str, torch.Tensor]:
    """Copies of every parameter and buffer outside the head."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith(head + ".")}


def changed(before: dict, model: nn.Module) -> list[str]:
    """Names of the entries of ``before`` that are no longer bit-identical in ``model``."""
    now = model.state_dict()
    return [k for k, v in before.items() if not torch.equal(v, now[k])]


def batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]

"""Behaviour probes for training loops: what a loop did, observed from outside."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from autograder.data import MEAN, STD


class Tracked(torch.Tensor):
    """A tensor that records the devices it was asked to move to with ``.to(...)``."""

    moves: list = []

    def to(self, *args, **kwargs):
        device = kwargs.get("device", args[0] if args else None)
        Tracked.moves.append(str(torch.device(device)) if isinstance(device, (str, torch.device)) else device)
        return super().to(*args, **kwargs).as_subclass(torch.Tensor)


def tracked_batches(x: torch.Tensor, y: torch.Tensor, batch: int) -> list:
    """(xb, yb) pairs of Tracked tensors; ``Tracked.moves`` starts empty."""
    Tracked.moves = []
    return [(x[i:i + batch].as_subclass(Tracked), y[i:i + batch].as_subclass(Tracked))
            for i in range(0, len(y), batch)]


def reference_tensors(images: np.ndarray, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalization the assignment asks for, written independently of the solution."""
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, torch.tensor(np.asarray(labels), dtype=torch.int64)


def small_net(dropout: float = 0.0) -> nn.Sequential:
    """A tiny CNN for loop tests (fast, with optional dropout)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 5, stride=3), nn.ReLU(), nn.Flatten(), nn.Dropout(dropout),
                         nn.Linear(4 * 10 * 10, 10))


def grad_of_batch(model: nn.Module, xb, yb) -> list[torch.Tensor]:
    """Gradients of the mean cross-entropy of one batch, model left untouched."""
    model.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    return grads

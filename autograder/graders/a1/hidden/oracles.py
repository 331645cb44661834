"""PyTorch as the answer key for A1 (hidden graders only; never shipped).

The oracles build the real layer and run a zero tensor through it; ``None``
means PyTorch itself rejects the configuration (the student must raise
ValueError there).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from autograder.graders.a1.oracles import FORMULA, diagnose_conv, diagnose_pool  # noqa: F401 (the hints, shared)
from autograder.sandbox.helpers import a1 as nets


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def as_given(out: tuple[int, int], *args):
    """The expected result in the type the student must return: int when all args are ints."""
    return out[0] if all(isinstance(a, int) for a in args) else out


def lenet() -> nn.Sequential:
    """The LeNet-style CNN for CIFAR-10 of the PUC deck (built here, on the grader's side)."""
    return nets.build(nets.LENET)


@torch.no_grad()
def conv_size(i, k, s=1, p=0, d=1):
    """Output (h, w) of ``nn.Conv2d`` on an input of size ``i``, or None if PyTorch refuses."""
    h, w = pair(i)
    try:
        out = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)(torch.zeros(1, 1, h, w))
    except (RuntimeError, ValueError):
        return None
    return tuple(out.shape[-2:])


@torch.no_grad()
def pool_size(i, k, s=None, p=0, d=1, ceil_mode=False):
    """Output (h, w) of ``nn.MaxPool2d``, or None if PyTorch refuses."""
    h, w = pair(i)
    try:
        out = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)(torch.zeros(1, 1, h, w))
    except (RuntimeError, ValueError):
        return None
    return tuple(out.shape[-2:])


@torch.no_grad()
def trace(model: nn.Sequential, input_shape) -> list[tuple[int, ...]]:
    """Shapes after each layer, by running a zero image (batch dimension dropped)."""
    x = torch.zeros(1, *input_shape)
    shapes = []
    for layer in model:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes

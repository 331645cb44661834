"""Trusted oracles of the hidden A6 graders: what the networks should hold and compute, here. Never shipped.

The student process builds its networks with :mod:`autograder.sandbox.helpers.a6` (seeded, so
random initialisations are reproducible); this side builds the very same ones and compares
what the helpers report (state tensors, trainable names, features) with them.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn

from autograder.sandbox.helpers import a6 as probes


def head_names(names: list[str], head: str) -> list[str]:
    """The parameters a frozen network trains: those of its head, sorted."""
    return sorted(n for n in names if n.startswith(head + "."))


@functools.lru_cache(maxsize=4)
def _state(name: str, pretrained: bool) -> dict[str, torch.Tensor]:
    return probes.state(probes.load_backbone(name, pretrained=pretrained).model)


def backbone_state(name: str, pretrained: bool = True, head: str | None = None) -> dict[str, torch.Tensor]:
    """The state tensors of ``name`` as loaded here (random weights seeded as in the student process),
    without those of ``head``."""
    return {k: v for k, v in _state(name, pretrained).items() if head is None or not k.startswith(head + ".")}


def changed(expected: dict[str, torch.Tensor], got) -> list[str]:
    """Sorted names of the entries of ``expected`` that ``got`` (a dict of tensors from the student process)
    lacks or holds with other values (bit for bit)."""
    if not isinstance(got, dict):
        return sorted(expected)
    return sorted(k for k, v in expected.items()
                  if not isinstance(got.get(k), torch.Tensor) or got[k].shape != v.shape or not torch.equal(got[k], v))


def features(name: str, x: torch.Tensor) -> torch.Tensor:
    """What the pretrained frozen backbone ``name`` gives its head for ``x``: eval mode, head replaced by
    nn.Identity(), no autograd."""
    backbone = probes.load_backbone(name)
    setattr(backbone.model, backbone.head, nn.Identity())
    backbone.model.eval()
    with torch.no_grad():
        return backbone.model(x)

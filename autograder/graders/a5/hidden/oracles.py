"""Trusted oracles of the hidden A5 graders: the weights as the statement defines them, and PyTorch's own
weight decay on them. Never shipped.

They run on twins of the probe networks (:func:`autograder.sandbox.helpers.a5.small_net`, same seed),
built and stepped in the trusted process.
"""
from __future__ import annotations

import torch
import torch.nn as nn

CONV_LINEAR = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def weights_of(model: nn.Module) -> list[torch.Tensor]:
    """The weights as the statement defines them: ``weight`` of each Conv/Linear layer."""
    return [m.weight for m in model.modules() if isinstance(m, CONV_LINEAR)]


def weight_names(model: nn.Module) -> list[str]:
    by_id = {id(p): name for name, p in model.named_parameters()}
    return [by_id[id(w)] for w in weights_of(model)]


def is_weight(model: nn.Module, parameter: torch.Tensor) -> bool:
    return any(parameter is w for w in weights_of(model))


def torch_weight_decay_sgd(model: nn.Module, lr: float, lam: float, momentum: float) -> torch.optim.SGD:
    """PyTorch's own SGD with ``weight_decay = 2 * lam`` on the weights only."""
    weights = weights_of(model)
    others = [p for p in model.parameters() if not is_weight(model, p)]
    return torch.optim.SGD([{"params": weights, "weight_decay": 2 * lam}, {"params": others, "weight_decay": 0.0}],
                           lr=lr, momentum=momentum)


def explicit_penalty_step(model: nn.Module, xb, yb, optimizer, lam: float) -> None:
    """The grader's step on cross-entropy + lam * sum w^2 (weights only)."""
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(xb), yb) + lam * sum((w ** 2).sum() for w in weights_of(model))
    loss.backward()
    optimizer.step()

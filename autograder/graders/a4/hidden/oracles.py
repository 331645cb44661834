"""Trusted oracles of the hidden A4 graders: what the probe network should do, computed here. Never shipped.

The student process builds the probe network with :mod:`autograder.sandbox.helpers.a4`;
this side builds the very same one (same module, same seed) and runs the statement's
loop on it, so the student's results can be compared value by value.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from autograder.sandbox.helpers import a4 as probes


def grad_of_batch(xb: torch.Tensor, yb: torch.Tensor, dropout: float = 0.0) -> list[torch.Tensor]:
    """Gradients of the mean cross-entropy of one batch for the untouched probe network."""
    model = probes.small_net(dropout)
    nn.functional.cross_entropy(model(xb), yb).backward()
    return [p.grad.clone() for p in model.parameters()]


def reference_epoch(x: torch.Tensor, y: torch.Tensor, batch: int, lr: float, momentum: float, dropout: float = 0.0,
                    seed: int | None = None, zero_grad: bool = True):
    """One epoch of the statement's loop on the probe network, batches in order:
    (mean loss over the examples, each batch's loss measured before its step; parameters after).

    With ``seed``, torch is seeded just before the loop (the dropout masks of a student's loop seeded alike);
    ``zero_grad=False`` is the classic bug, gradients summed over the batches (for feedback)."""
    model = probes.small_net(dropout)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    model.train()
    total = 0.0
    try:
        for start in range(0, len(y), batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            if zero_grad:
                optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
    finally:
        torch.random.set_rng_state(state)
    return total / len(y), [p.detach().clone() for p in model.parameters()]


def eval_values(x: torch.Tensor, y: torch.Tensor, dropout: float = 0.0) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the untouched probe network in eval mode."""
    model = probes.small_net(dropout).eval()
    with torch.no_grad():
        logits = model(x)
    return nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

"""Checks shared by the A5 graders (trusted side): comparing parameters, locating crops, scalar values.

The networks, batches and generators that student code works on are built in the
student process by :mod:`autograder.sandbox.helpers.a5`; the trusted side imports that
module too, to build twins it steps itself.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from autograder.feedback import T, fail
from autograder.gradcheck import check_close


def check_same_parameters(got: dict, expected: nn.Module, *, call: str, hint) -> None:
    """Every parameter ``got`` reports ({name: tensor}) equals the one of ``expected`` (float64, 1e-9)."""
    for name, b in expected.named_parameters():
        if name not in got:
            fail(T("the model has no parameter {n} any more after {c}.", "el modelo ya no tiene el parámetro {n} tras {c}.")
                 .format(n=name, c=call))
        check_close(got[name].numpy(), b.detach().numpy(), name=name, call=call, rtol=1e-9, atol=1e-12, hint=hint)


def padded_offsets(original: torch.Tensor, crop: torch.Tensor, padding: int) -> tuple[int, int] | None:
    """The (dy, dx) at which ``crop`` (C, H, W) is a window of the zero-padded ``original`` (C, H, W), or None."""
    _, h, w = original.shape
    if tuple(crop.shape) != tuple(original.shape):
        return None
    padded = nn.functional.pad(original, (padding,) * 4)
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            if torch.equal(padded[:, dy:dy + h, dx:dx + w], crop):
                return dy, dx
    return None


def distinct_images(n: int, c: int = 3, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` random images (N, C, H, W) with no zero and no left-right symmetry (almost surely)."""
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) + 1.0


def synthetic_images(n: int, seed: int = 0):
    """``n`` random uint8 images (N, 32, 32, 3) and labels 0..9, no data set needed."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=n)


def tensor_result(value, call: str, shape=None) -> torch.Tensor:
    """``value`` if it is a torch tensor (of ``shape`` when given), else a failure naming what came back."""
    if not isinstance(value, torch.Tensor):
        fail(T("{c} returned {v!r}; expected a torch tensor.", "{c} devolvió {v!r}; se esperaba un tensor de torch.")
             .format(c=call, v=value))
    if shape is not None and tuple(value.shape) != tuple(shape):
        fail(T("{c} has shape {g}; expected {e}.", "{c} tiene forma {g}; se esperaba {e}.")
             .format(c=call, g=tuple(value.shape), e=tuple(shape)))
    return value

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


def weight_names(returned, twin: nn.Module):
    """The names, in ``twin`` (the grader's copy of the probe network), of the tensors ``weight_parameters``
    returned, matched by value (every parameter of the seeded probe networks differs from the others); None
    when it did not return a list or tuple of tensors. A returned tensor that is no parameter is marked."""
    if not isinstance(returned, (list, tuple)) or not all(isinstance(t, torch.Tensor) for t in returned):
        return None
    named = list(twin.named_parameters())
    return [next((name for name, p in named if p.shape == t.shape and torch.equal(p.detach(), t)),
                 "<not a parameter of the model>") for t in returned]


def penalty_value(value):
    """``l2_penalty``'s result as the grader received it: (a float or None, whether it is a scalar tensor)."""
    if isinstance(value, torch.Tensor):
        return (float(value) if value.numel() == 1 else None), tuple(value.shape) == ()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), False
    return None, False


def run_curve(reg, probes, curve, patience: int, mode: str, restore_if_never: bool = False) -> dict:
    """The grader drives ``reg.EarlyStopping(patience, mode=mode)`` itself on ``curve``, epoch by epoch, the probe
    model's weights set to the epoch number before each step, until a step returns something other than False.

    Returns ``results`` (each step's result: True/False, or the repr of anything else), ``stopped`` (the epoch of
    the first True, or None), ``best_epoch`` (the stopper's attribute) and ``marker`` (the epoch number the
    model's weights hold at the end, after ``restore()`` when it never stopped and ``restore_if_never``)."""
    import numpy as np

    stopper = reg.EarlyStopping(patience, mode=mode)
    model = probes.marked_model()
    results, stopped = [], None
    for epoch, metric in enumerate(curve):
        probes.fill_parameters(model, float(epoch))
        result = stopper.step(metric, model)
        if isinstance(result, (bool, np.bool_)):
            results.append(bool(result))
        else:
            results.append(repr(result)[:200])
            break
        if result:
            stopped = epoch
            break
    if stopped is None and restore_if_never:
        stopper.restore(model)
    best = stopper.get("best_epoch")
    return {"results": results, "stopped": stopped, "marker": probes.marker_of(model),
            "best_epoch": int(best) if isinstance(best, (int, np.integer)) and not isinstance(best, bool)
            else repr(best)[:200]}

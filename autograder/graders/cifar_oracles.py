"""Trusted oracles shared by the graders that train on CIFAR-10 (A4, A5, A6). Never shipped to students.

- :func:`reference_tensors`: the statement's normalization, written independently of any submission;
- :func:`perturb`: the test images as the student's model sees them in a grading run, each pixel moved by
  a fresh, seeded, imperceptible amount, so that a table of the public test images matches none of them;
- :func:`accuracy_of`: the accuracy of logits that came back from the student process, against labels
  that never left this process.
"""
from __future__ import annotations

import secrets

import numpy as np
import torch

from autograder.data import MEAN, STD
from autograder.feedback import T, check_equal, fail


def reference_tensors(images, labels, mean=MEAN, std=STD,
                      size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, 32, 32, 3) -> float32 (N, 3, 32, 32) standardized per channel; labels -> int64 (N,).

    With ``size`` (A6), the images scaled to [0, 1] are first resized bilinearly to ``size`` x ``size``
    (align_corners=False, no antialiasing); ``mean`` and ``std`` are then the backbone's."""
    x = torch.tensor(np.asarray(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    if size is not None and size != x.shape[-1]:
        x = torch.nn.functional.interpolate(x, (size, size), mode="bilinear", align_corners=False, antialias=False)
    x = x.sub(torch.tensor(mean).view(1, 3, 1, 1)).div(torch.tensor(std).view(1, 3, 1, 1))
    return x.contiguous(), torch.tensor(np.asarray(labels), dtype=torch.int64)


def fresh_seed() -> int:
    """A perturbation seed nobody can predict (one per grading run)."""
    return secrets.randbits(63)


def perturb(images: np.ndarray, seed: int, amplitude: int) -> np.ndarray:
    """A copy of uint8 ``images`` (N, 32, 32, 3) with integer noise uniform in [-amplitude, amplitude] added
    to every pixel (clipped to 0..255). At amplitude 4 no pixel moves by more than 1.6% of its range, and
    the chance that an image of 3,072 values comes out unchanged is below 1e-300."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-amplitude, amplitude + 1, size=images.shape, dtype=np.int16)
    return np.clip(images.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def accuracy_of(logits, labels: np.ndarray, what: str) -> float:
    """Fraction of rows of ``logits`` (N, C) whose argmax is the label; a reply of the wrong form fails."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != len(labels):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        fail(T("the model's output for the {n} {what} images has shape {s}; expected logits ({n}, 10).",
               "la salida del modelo para las {n} imágenes de {what} tiene forma {s}; se esperaban logits ({n}, 10).")
             .format(n=len(labels), what=what, s=shape))
    predictions = torch.nan_to_num(logits.float(), nan=-np.inf).argmax(dim=1).numpy()
    return float(np.mean(predictions == np.asarray(labels)))


def tensor_of(value, call: str) -> torch.Tensor:
    """``value`` if it is a torch tensor, else a failure naming what came back instead."""
    if not isinstance(value, torch.Tensor):
        fail(T("{call} returned {v!r}; expected a torch tensor.", "{call} devolvió {v!r}; se esperaba un tensor de torch.")
             .format(call=call, v=value))
    return value


def check_history(history, keys: list[str], epochs: int, call: str) -> None:
    """``history`` (what ``fit`` returned) is a dict with exactly ``keys``, one value per epoch in each."""
    if not isinstance(history, dict):
        fail(T("{c} returned {h!r} as its history; expected a dict of lists.",
               "{c} devolvió {h!r} como historial; se esperaba un dict de listas.").format(c=call, h=history))
    check_equal(sorted(history), sorted(keys), call=f"sorted({call}[1])",
                hint=T("the history is measured on the validation set you are given; the test set is for the end.",
                       "el historial se mide en el conjunto de validación que recibes; el de test es para el final."))
    check_equal([len(history[k]) if isinstance(history[k], list) else None for k in sorted(history)],
                [epochs] * len(keys), call=f"lengths of the history lists (epochs={epochs})")

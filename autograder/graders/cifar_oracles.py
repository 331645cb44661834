"""Trusted oracles shared by the graders that train on CIFAR-10 (A4, A5, A6). Never shipped to students: only
hidden graders and ``measure`` modules import it (``release.shipped_modules`` leaves it out of every release).

- :func:`reference_tensors`: the statement's normalization, written independently of any submission;
- :func:`perturb`: the test images as the student's model sees them in a grading run, each pixel moved by
  a fresh, seeded, imperceptible amount, so that a table of the public test images matches none of them;
- :func:`accuracy_of`: the accuracy of logits that came back from the student process, against labels
  that never left this process.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
import torch

from autograder.data import MEAN, STD
from autograder.feedback import T, fail


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


# Reference values of ``to_tensors`` for the public graders, which ship without this module: case name ->
# (mean, std, size) of each assignment's public test, written by :func:`write_public_cases`.
CASES_FILE = "to_tensors_cases.npz"


def _case_settings(assignment_id: str) -> dict:
    from autograder.backbones import IMAGENET_MEAN, IMAGENET_STD, TF_MEAN, TF_STD

    return {"a4": {"statement": (MEAN, STD, None)},
            "a6": {"lite0-64": (TF_MEAN, TF_STD, 64), "imagenet-32": (IMAGENET_MEAN, IMAGENET_STD, 32)}}[assignment_id]


def public_cases(assignment_id: str) -> dict[str, np.ndarray]:
    """Four seeded uint8 images (4, 32, 32, 3), their labels (4,), and ``x_<case>``: what ``to_tensors`` must
    return for them in each public case of ``assignment_id`` (a4 or a6)."""
    rng = np.random.default_rng(2024)
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=4)
    cases = {"images": images, "labels": labels}
    for name, (mean, std, size) in _case_settings(assignment_id).items():
        cases[f"x_{name}"] = reference_tensors(images, labels, mean, std, size)[0].numpy()
    return cases


def write_public_cases(assignment_id: str) -> Path:
    """Write :func:`public_cases` next to the assignment's public graders (run after changing the statement)."""
    from autograder import course

    path = course.load_assignment(assignment_id).suite_dir("public") / CASES_FILE
    np.savez_compressed(path, **public_cases(assignment_id))
    return path

"""Checks shared by the public and hidden graders of the CIFAR-10 assignments (A4, A5, A6). Shipped with their
releases: nothing here computes a task's answer (the statement's normalization is in ``cifar_oracles``)."""
from __future__ import annotations

import torch

from autograder.feedback import T, check_equal, fail


def synthetic_tensors(n: int = 64, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random float32 images (n, 3, size, size), standard normal, and int64 labels 0..9 (n,): inputs for
    the steps that come after ``to_tensors``, without computing it."""
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=rng), torch.randint(0, 10, (n,), generator=rng, dtype=torch.int64)


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

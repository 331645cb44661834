"""Reproducible training runs: one call seeds everything graders and notebooks use.

``seed_everything(seed, threads=2)`` seeds Python's ``random``, NumPy's global
generator and torch (CPU and every CUDA device), makes torch use
deterministic algorithms (raising on an operation that has none), sets the
cuBLAS workspace CUDA needs for that, disables cuDNN autotuning, and fixes
the number of CPU threads, since a different thread count changes the order
of floating-point sums. DataLoaders get the same treatment through
``loader_kwargs(seed)``: a seeded generator for shuffling and a worker init
function that seeds each worker.
"""
from __future__ import annotations

import random

import numpy as np
import torch

# One implementation for both sides: graders seed the student process with it too.
from autograder.sandbox.helpers.common import CUBLAS_WORKSPACE, seed_everything  # noqa: F401

def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: derive NumPy's and Python's seeds from torch's."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def loader_kwargs(seed: int) -> dict:
    """Keyword arguments that make a ``DataLoader``'s shuffling and workers reproducible."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return {"generator": generator, "worker_init_fn": seed_worker}


def default_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")

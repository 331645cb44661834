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

import os
import random

import numpy as np
import torch

CUBLAS_WORKSPACE = ":4096:8"


def seed_everything(seed: int, threads: int | None = None, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; optionally fix the thread count; force determinism."""
    if deterministic:
        # Must be set before the first cuBLAS call; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


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

"""Helpers any assignment may use: seeding a run, watching what student code does to its arguments."""
import os
import random

import numpy as np


def watch(function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and report what it did to its array arguments.

    Returns ``{"result": ..., "changed": [i, ...], "returned_arguments": [j, ...]}``: the
    positions of the NumPy array arguments whose values changed during the call, and the
    positions in the result (a tuple or list, or the result itself as 0) that are argument
    objects themselves rather than new arrays.
    """
    before = {i: a.copy() for i, a in enumerate(args) if isinstance(a, np.ndarray)}
    result = function(*args, **kwargs)
    changed = [i for i, copy in before.items()
               if args[i].shape != copy.shape or not np.array_equal(args[i], copy, equal_nan=True)]
    items = result if isinstance(result, (tuple, list)) else (result,)
    returned = [j for j, item in enumerate(items) if any(item is a for a in args)]
    return {"result": result, "changed": changed, "returned_arguments": returned}


CUBLAS_WORKSPACE = ":4096:8"


def seed_everything(seed: int, threads: int | None = None, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; optionally fix the thread count; force determinism.

    See :mod:`autograder.repro`; graders call it in the student process before a training run.
    """
    import torch

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

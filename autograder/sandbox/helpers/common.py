"""Helpers any assignment may use: seeding a run, watching what student code does to its arguments."""
import os
import random
import sys

import numpy as np


def watch(function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and report what it did to its array arguments.

    Returns ``{"result": ..., "changed": [i, ...], "returned_arguments": [j, ...]}``: the
    positions of the NumPy array and torch tensor arguments whose values changed during the call, and the
    positions in the result (a tuple or list, or the result itself as 0) that are argument
    objects themselves rather than new arrays.
    """
    torch = sys.modules.get("torch")
    tensors = (np.ndarray,) if torch is None else (np.ndarray, torch.Tensor)
    before = {i: a.copy() if isinstance(a, np.ndarray) else a.detach().clone()
              for i, a in enumerate(args) if isinstance(a, tensors)}
    result = function(*args, **kwargs)
    changed = [i for i, copy in before.items() if not _same(args[i], copy)]
    items = result if isinstance(result, (tuple, list)) else (result,)
    returned = [j for j, item in enumerate(items) if any(item is a for a in args)]
    return {"result": result, "changed": changed, "returned_arguments": returned}


def _same(now, before) -> bool:
    if isinstance(before, np.ndarray):
        return now.shape == before.shape and np.array_equal(now, before, equal_nan=True)
    if now.shape != before.shape or now.dtype != before.dtype:
        return False
    if now.is_floating_point() or now.is_complex():
        return bool(now.detach().isclose(before, rtol=0, atol=0, equal_nan=True).all())
    return bool(now.detach().equal(before))


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


def received(*arrays) -> int:
    """The number of bytes of the arrays it was sent (for timing the transfer to the student process)."""
    return int(sum(getattr(a, "nbytes", 0) for a in arrays))


def outputs(model, inputs, prepare=None, batch: int = 1000):
    """The outputs (N, C) of ``model`` for ``inputs`` (N, ...), ``batch`` rows at a time, in eval mode, without
    autograd, on the model's device, as a plain float32 CPU tensor. ``prepare(chunk)`` turns a chunk of the
    inputs into the model's input tensor (for example the student's ``to_tensors``); None sends them as they are.
    No label is involved: the trusted side keeps them and scores the outputs."""
    import torch

    model.eval()
    try:
        device = next(model.parameters()).device
    except (StopIteration, AttributeError, TypeError):
        device = torch.device("cpu")
    chunks = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch):
            x = inputs[start:start + batch]
            x = prepare(x) if prepare is not None else x
            chunks.append(torch.as_tensor(model(x.to(device))).detach().float().cpu().as_subclass(torch.Tensor))
    return torch.cat(chunks)


def state(model) -> list:
    """``[[name, tensor], ...]``: ``model.state_dict()`` in order, each tensor a plain detached CPU copy.

    The trusted side checks these against the architecture the statement prescribes and loads them into a
    network it builds itself; it never runs the student's own forward on graded data."""
    import torch

    return [[str(name), value.detach().to("cpu").clone().as_subclass(torch.Tensor)]
            for name, value in model.state_dict().items()]


class ForwardWatch:
    """The (training mode, gradients enabled) of each forward pass of a model, for feedback only: the grader never
    scores what this reports (a submission can change it)."""

    def __init__(self, model):
        import torch

        self.seen: list = []
        self.hook = model.register_forward_pre_hook(
            lambda module, args: self.seen.append([bool(module.training), torch.is_grad_enabled()]))


def watch_forward(model) -> ForwardWatch:
    """Start watching ``model``'s forward passes."""
    return ForwardWatch(model)


def forwards_seen(watch: ForwardWatch) -> list:
    """Stop ``watch`` and return what it saw: a [training, grad enabled] pair per forward pass."""
    watch.hook.remove()
    return watch.seen

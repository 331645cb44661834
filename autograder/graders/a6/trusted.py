"""A6 networks built and run by the grader itself, from plain tensors. Never shipped (hidden graders, measure).

The grader builds its own pristine copy of each backbone here (``autograder.backbones.load_backbone``, seeded
as :func:`autograder.sandbox.helpers.a6.load_backbone` seeds it, so random weights agree), and its own copy of
the stand-in network. A model trained in the student process comes back as its ``state_dict`` tensors
(:func:`autograder.sandbox.helpers.common.state`); it is checked against the architecture (the pristine
backbone with a new ``nn.Linear(num_features, 10)`` head), loaded into a copy built here and evaluated here.
The student's forward pass never sees a graded image.

The statement's procedures (SGD or Adam steps with the backbone frozen and its BatchNorm layers in eval mode,
``train_mode``, ``evaluate``) are run here on those copies: the oracles the student's effects are compared with.
"""
from __future__ import annotations

import copy
import functools

import torch
import torch.nn as nn

from autograder.feedback import T, fail
from autograder.graders import trusted_models
from autograder.sandbox.helpers import a6 as probes


@functools.lru_cache(maxsize=4)
def _pristine(name: str, pretrained: bool):
    backbone = probes.load_backbone(name, pretrained=pretrained)
    backbone.model.eval()
    for p in backbone.model.parameters():
        p.requires_grad_(False)
    return backbone


def backbone(name: str, pretrained: bool = True):
    """A fresh copy of the grader's pristine ``name`` (a Backbone, its ImageNet head in place), built here."""
    return copy.deepcopy(_pristine(name, pretrained))


def tiny(dropout: float = 0.0):
    """The grader's copy of the stand-in network (the very weights helpers/a6.py builds next to student code)."""
    return probes.tiny_backbone(dropout=dropout)


def with_new_head(built, num_classes: int = 10) -> nn.Module:
    """``built.model`` (a Backbone built here) with its head replaced by ``nn.Linear(num_features, num_classes)``."""
    setattr(built.model, built.head, nn.Linear(built.num_features, num_classes))
    return built.model


def pristine_state(name: str, pretrained: bool = True) -> dict[str, torch.Tensor]:
    return dict(_pristine(name, pretrained).model.state_dict())


def as_dict(state) -> dict:
    """``common.state``'s ``[[name, tensor], ...]`` as a dict (anything else: an empty one)."""
    if not isinstance(state, (list, tuple)):
        return {}
    return {item[0]: item[1] for item in state
            if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)}


def differing(expected: dict[str, torch.Tensor], got: dict, skip: str | None = None) -> list[str]:
    """Sorted names of ``expected``'s tensors (those under ``skip`` left out) that ``got`` lacks or holds with other
    values, bit for bit."""
    return sorted(k for k, v in expected.items() if not (skip and (k == skip or k.startswith(skip + ".")))
                  and not (isinstance(got.get(k), torch.Tensor) and got[k].shape == v.shape
                           and got[k].dtype == v.dtype and torch.equal(got[k], v)))


def load_returned(name: str, state, call: str, pretrained: bool = True) -> nn.Module:
    """The grader's ``name`` with a 10-class head, loaded with the returned ``state`` (checked tensor by tensor)."""
    model = with_new_head(backbone(name, pretrained))
    architecture = f"{name} with nn.Linear(num_features, 10) as its head"
    expected = list(model.state_dict().items())
    if isinstance(state, (list, tuple)) and len(state) != len(expected):
        fail(T("the model of {c} has {n} tensors in its state_dict; expected {m}, those of {a}.",
               "el modelo de {c} tiene {n} tensores en su state_dict; se esperaban {m}, los de {a}.")
             .format(c=call, n=len(state), m=len(expected), a=architecture), SHAPE_HINT)
    for position, (item, (want_name, want)) in enumerate(zip(state if isinstance(state, (list, tuple)) else [],
                                                             expected)):
        value = item[1] if isinstance(item, (list, tuple)) and len(item) == 2 else None
        if not (isinstance(value, torch.Tensor) and value.shape == want.shape and value.dtype == want.dtype):
            fail(T("tensor {i} of the state_dict of {c} ('{n}') is {s}; expected {ws} {wd} ('{wn}'), as in {a}.",
                   "el tensor {i} del state_dict de {c} ('{n}') es {s}; se esperaba {ws} {wd} ('{wn}'), como en {a}.")
                 .format(i=position, c=call, n=item[0] if isinstance(item, (list, tuple)) and item else "?",
                         s=f"{tuple(value.shape)} {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__,
                         ws=tuple(want.shape), wd=want.dtype, wn=want_name, a=architecture), SHAPE_HINT)
    return trusted_models.load_state(model, state, call, architecture)


SHAPE_HINT = T("the pretrained backbone, its head replaced by nn.Linear(backbone.num_features, 10) (replace_head), "
               "nothing else added or removed.",
               "la red preentrenada con la cabeza sustituida por nn.Linear(backbone.num_features, 10) (replace_head), "
               "sin añadir ni quitar nada más.")


def close(a, b, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=rtol, atol=atol)


def state_close(expected: dict, got: dict, names, rtol: float = 1e-4, atol: float = 1e-6) -> list[str]:
    """The ``names`` whose tensors in ``got`` are not within tolerance of ``expected``'s."""
    return [n for n in names if not close(got.get(n), expected[n], rtol, atol)]


def frozen_train_mode(model: nn.Module) -> None:
    """The statement's ``train_mode``: ``model.train()``, then BatchNorm layers with every parameter frozen in eval."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in module.parameters()):
            module.eval()


def set_trainable(model: nn.Module, prefix: str | None) -> None:
    """requires_grad True under ``prefix`` (a head name; None: everything), False elsewhere."""
    for n, p in model.named_parameters():
        p.requires_grad_(prefix is None or n.startswith(prefix + "."))


def run_steps(model: nn.Module, optimizer, batches, mode=None) -> None:
    """zero_grad, forward, cross-entropy, backward, step per batch; ``mode(model)`` before (default: eval)."""
    (mode or (lambda m: m.eval()))(model)
    for xb, yb in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]


def accuracy(model: nn.Module, x: torch.Tensor, labels) -> float:
    return trusted_models.accuracy(model, x, labels)


def without_autograd_threads(function):
    """``function()`` with torch's intra-op threads at 1 (as the student process runs): rounding alike."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return function()
    finally:
        torch.set_num_threads(threads)

"""Trained networks evaluated by the grader itself. Never shipped: only hidden graders and ``measure`` import it.

A training grader never runs the student's forward pass on graded images. It fetches the trained model's
parameters and buffers as plain tensors (:func:`autograder.sandbox.helpers.common.state`, over the wire:
no pickle, no ``torch.load``), checks them against the architecture the statement prescribes, loads them
into its own copy of that architecture, built here, and runs that copy on the images it chose.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from autograder.feedback import T, fail


def deck_lenet(dropout: float = 0.0) -> nn.Sequential:
    """The LeNet-style CNN of the PUC deck (A4, A5), written here independently of any submission:
    (N, 3, 32, 32) -> logits (N, 10); ``nn.Dropout(dropout)`` before each fully connected layer if > 0."""
    def drop():
        return [nn.Dropout(dropout)] if dropout > 0 else []

    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), *drop(), nn.Linear(400, 120), nn.ReLU(),
                         *drop(), nn.Linear(120, 84), nn.ReLU(), *drop(), nn.Linear(84, 10))


def _shape(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def load_state(model: nn.Module, state, call: str, architecture: str) -> nn.Module:
    """``model`` (built here) with the tensors of ``state`` (``[[name, tensor], ...]`` in ``state_dict`` order, as
    :func:`~autograder.sandbox.helpers.common.state` sends them) loaded by position; a state that does not fit
    ``architecture`` (its name in feedback) fails, naming the first tensor that does not fit."""
    expected = list(model.state_dict().items())
    if not (isinstance(state, (list, tuple)) and all(
            isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str) for item in state)):
        fail(T("the model returned by {c} has no state_dict the grader can read.",
               "el modelo devuelto por {c} no tiene un state_dict que el corrector pueda leer.").format(c=call))
    names = [name for name, _ in expected]
    if len(state) != len(expected):
        fail(T("the model returned by {c} has {n} tensors in its state_dict ({got}); {a} has {m} ({want}).",
               "el modelo devuelto por {c} tiene {n} tensores en su state_dict ({got}); {a} tiene {m} ({want}).")
             .format(c=call, n=len(state), m=len(expected), a=architecture,
                     got=", ".join(str(name) for name, _ in state[:12]), want=", ".join(names)),
             T("build the network of the statement, layer by layer and in order, and return it after training.",
               "construye la red del enunciado, capa por capa y en orden, y devuélvela tras entrenar."))
    for position, ((name, value), (want_name, want)) in enumerate(zip(state, expected)):
        if not isinstance(value, torch.Tensor) or value.shape != want.shape or value.dtype != want.dtype:
            fail(T("tensor {i} of the state_dict of {c} ('{n}') is {s} {d}; in {a} it is '{wn}' {ws} {wd}.",
                   "el tensor {i} del state_dict de {c} ('{n}') es {s} {d}; en {a} es '{wn}' {ws} {wd}.")
                 .format(i=position, c=call, n=name, s=_shape(value), d=getattr(value, "dtype", ""), a=architecture,
                         wn=want_name, ws=tuple(want.shape), wd=want.dtype),
                 T("the layers, their sizes and their order must be those of the statement.",
                   "las capas, sus tamaños y su orden deben ser los del enunciado."))
    model.load_state_dict(OrderedDict((want_name, value) for (want_name, _), (_, value) in zip(expected, state)))
    return model


def logits(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """``model``'s outputs (N, C) for inputs ``x`` (N, ...), in eval mode, without autograd, ``batch`` rows at a time."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[start:start + batch]) for start in range(0, len(x), batch)])


def accuracy(model: nn.Module, x: torch.Tensor, labels) -> float:
    """Fraction of rows of ``x`` whose predicted class (argmax of :func:`logits`, NaN never wins) is the label."""
    out = torch.nan_to_num(logits(model, x).float(), nan=-np.inf)
    return float(np.mean(out.argmax(dim=1).numpy() == np.asarray(labels)))

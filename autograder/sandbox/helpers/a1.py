"""A1: networks built in the student process from plain descriptions, for ``trace_shapes``.

A description is a list of ``[layer name, keyword arguments]``; the grader builds the
same network on its side to know the true shapes.
"""
import types

import torch.nn as nn
import torch.nn.functional as F

LAYERS = {"Conv2d": nn.Conv2d, "MaxPool2d": nn.MaxPool2d, "AvgPool2d": nn.AvgPool2d, "ReLU": nn.ReLU,
          "Sigmoid": nn.Sigmoid, "Flatten": nn.Flatten, "Linear": nn.Linear}

# The LeNet-style CNN for CIFAR-10 of the PUC deck.
LENET = [["Conv2d", {"in_channels": 3, "out_channels": 6, "kernel_size": 5}], ["ReLU", {}],
         ["MaxPool2d", {"kernel_size": 2}],
         ["Conv2d", {"in_channels": 6, "out_channels": 16, "kernel_size": 5}], ["ReLU", {}],
         ["MaxPool2d", {"kernel_size": 2}], ["Flatten", {}],
         ["Linear", {"in_features": 400, "out_features": 120}], ["ReLU", {}],
         ["Linear", {"in_features": 120, "out_features": 84}], ["ReLU", {}],
         ["Linear", {"in_features": 84, "out_features": 10}]]


def build(spec=None) -> nn.Sequential:
    """The ``nn.Sequential`` described by ``spec`` (LeNet by default)."""
    return nn.Sequential(*(LAYERS[name](**kwargs) for name, kwargs in (spec or LENET)))


_TOLD = "_a1_misleading_output"


def _grow(out):
    """``out`` with one more row and column (images) or one more feature (vectors), marked as already grown."""
    out = F.pad(out, (0, 1, 0, 1) if out.dim() == 4 else (0, 1))
    setattr(out, _TOLD, True)
    return out


def _fit(layer, x):
    """A Linear layer's input cut or zero-padded to its in_features, so that a grown input still runs."""
    if isinstance(layer, nn.Linear) and x.shape[-1] != layer.in_features:
        x = x[..., :layer.in_features] if x.shape[-1] > layer.in_features else F.pad(
            x, (0, layer.in_features - x.shape[-1]))
    return x


def _misleading_forward(self, x):
    return _grow(type(self).forward(self, _fit(self, x)))


def _fit_hook(module, args):
    return (_fit(module, args[0]),) + tuple(args[1:]) if args else None


def _grow_hook(module, args, output):
    return None if getattr(output, _TOLD, False) else _grow(output)


def misleading(spec=None) -> nn.Sequential:
    """:func:`build`, with layers that do not do what their attributes say when they are run.

    Each layer keeps its class and its attributes (kernel_size, stride, in_features, ...), but running it
    (calling it or its ``forward``, also once that instance attribute is deleted) gives an output one row and
    one column larger (images) or one feature longer (vectors). A shape computed from the attributes is
    unaffected.
    """
    model = build(spec)
    for layer in model:
        layer.forward = types.MethodType(_misleading_forward, layer)
        layer.register_forward_pre_hook(_fit_hook)
        layer.register_forward_hook(_grow_hook)
    return model

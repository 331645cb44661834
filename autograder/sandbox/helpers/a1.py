"""A1: networks built in the student process from plain descriptions, for ``trace_shapes``.

A description is a list of ``[layer name, keyword arguments]``; the grader builds the
same network on its side to know the true shapes.
"""
import torch.nn as nn

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


def unrunnable(spec=None) -> nn.Sequential:
    """:func:`build`, with every layer raising RuntimeError("the layer was run") if it is called."""
    model = build(spec)

    def refuse(*args, **kwargs):
        raise RuntimeError("the layer was run")

    for layer in model:
        layer.forward = refuse
    return model

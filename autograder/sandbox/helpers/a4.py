"""A4: inputs built next to the student's training loop, and values read back from it.

Each function builds an input (the probe network, a DataLoader, an optimizer, a seed) or reads a value
(parameters, outputs for an input the grader chose) or an observation for feedback (the modes of the
forward passes, where batches were moved). None of them knows an expected value: the trusted side calls
the student's functions itself and compares the values with its own oracles; observations never decide
a point. The trusted side imports this module too, to build the very same probe network.
"""
import torch
import torch.nn as nn

from .common import ForwardWatch, forwards_seen, watch_forward  # noqa: F401 (reached as helpers("a4"))



class Tracked(torch.Tensor):
    """A tensor that records the devices it is asked to move to with ``.to(...)``."""

    moves: list = []

    def to(self, *args, **kwargs):
        device = kwargs.get("device", args[0] if args else None)
        Tracked.moves.append(str(torch.device(device)) if isinstance(device, (str, torch.device)) else str(device))
        return super().to(*args, **kwargs).as_subclass(torch.Tensor)


def small_net(dropout: float = 0.0) -> nn.Sequential:
    """A tiny CNN for loop tests, the same on both sides: (N, 3, 32, 32) -> (N, 10), seeded weights."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 5, stride=3), nn.ReLU(), nn.Flatten(), nn.Dropout(dropout),
                          nn.Linear(4 * 10 * 10, 10))
    torch.random.set_rng_state(generator_state)
    return model


def tracked_batches(x: torch.Tensor, y: torch.Tensor, batch: int) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` over ``TensorDataset(x, y)`` (batches of ``batch``, in order, as the statement's
    ``make_loader(..., shuffle=False)`` gives) whose batches are :class:`Tracked` tensors; the record of moves
    starts empty. ``len(loader.dataset)``, ``loader.sampler`` and ``loader.batch_size`` work as usual. Iterating
    it draws nothing from torch's global random generator (it has a generator of its own)."""
    Tracked.moves = []
    dataset = torch.utils.data.TensorDataset(x.as_subclass(Tracked), y.as_subclass(Tracked))
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False,
                                       generator=torch.Generator().manual_seed(0))


def seed(value: int) -> None:
    """``torch.manual_seed(value)``: the dropout masks of the next forward passes, the same on both sides."""
    torch.manual_seed(value)


def device(name: str) -> torch.device:
    """``torch.device(name)``, for loops that must accept a device object as well as a string."""
    return torch.device(name)


def sgd(model: nn.Module, lr: float, momentum: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def parameters(model: nn.Module) -> dict:
    """{"values": [parameter tensors], "grads": [gradient tensors or None]}, in ``parameters()`` order."""
    params = list(model.parameters())
    return {"values": [p.detach().clone() for p in params],
            "grads": [None if p.grad is None else p.grad.detach().clone() for p in params]}


def describe(model: nn.Module, input_shape=(2, 3, 32, 32)) -> dict:
    """Layer class names, Dropout probabilities, parameter count and the output shape for zeros."""
    layers = list(model) if isinstance(model, nn.Sequential) else list(model.children())
    with torch.no_grad():
        output = model(torch.zeros(input_shape))
    return {"layers": [type(layer).__name__ for layer in layers],
            "dropout": [float(layer.p) for layer in model.modules() if isinstance(layer, nn.Dropout)],
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "output_shape": list(output.shape) if isinstance(output, torch.Tensor) else None,
            "device": [str(p.device) for p in model.parameters()][:1]}


def batches_of(loader) -> list:
    """Every (xb, yb) the loader yields in one pass, as plain tensors."""
    return [(torch.as_tensor(xb).as_subclass(torch.Tensor), torch.as_tensor(yb).as_subclass(torch.Tensor))
            for xb, yb in loader]


def set_mode(model: nn.Module, training: bool) -> None:
    """``model.train(training)``: the mode a model is in when it is handed to student code."""
    model.train(training)


def forward(model: nn.Module, x: torch.Tensor, seed: int, training: bool) -> torch.Tensor:
    """``model(x)`` in the given mode with torch seeded by ``seed`` just before (dropout masks), without autograd."""
    model.train(training)
    torch.manual_seed(seed)
    with torch.no_grad():
        return torch.as_tensor(model(x)).detach().float().as_subclass(torch.Tensor)

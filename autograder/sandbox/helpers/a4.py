"""A4: probes that run next to the student's training loop, and the logits of a trained model.

Each function builds an input or reports what student code did (the modes of the forward
passes, the optimizer steps, where batches were moved, gradients, parameters). None of them
knows an expected value: the trusted side compares what they report with its own oracles.
The trusted side imports this module too, to build the very same probe network.
"""
import numpy as np
import torch
import torch.nn as nn

from .common import outputs


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


def tracked_batches(x: torch.Tensor, y: torch.Tensor, batch: int) -> list:
    """(xb, yb) pairs of :class:`Tracked` tensors, in order; the record of moves starts empty."""
    Tracked.moves = []
    return [(x[i:i + batch].as_subclass(Tracked), y[i:i + batch].as_subclass(Tracked))
            for i in range(0, len(y), batch)]


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


def observe_training(train_one_epoch, model: nn.Module, loader, optimizer, device) -> dict:
    """Run ``train_one_epoch`` once with the model in eval mode beforehand, and report what happened.

    Returns ``result`` (what it returned), ``modes`` (``model.training`` at each forward pass),
    ``steps`` (optimizer steps), ``moves`` (devices batches were moved to) and the parameters after.
    """
    model.eval()
    modes, steps = [], []
    hook = model.register_forward_pre_hook(lambda module, args: modes.append(bool(module.training)))
    step_hook = optimizer.register_step_post_hook(lambda *args: steps.append(1))
    try:
        result = train_one_epoch(model, loader, optimizer, device)
    finally:
        hook.remove()
        step_hook.remove()
    return {"result": result, "modes": modes, "steps": len(steps), "moves": list(Tracked.moves),
            **parameters(model)}


def observe_evaluation(evaluate, model: nn.Module, loader, device, calls: int = 2) -> dict:
    """Call ``evaluate`` ``calls`` times with the model in train mode beforehand; report each forward pass's
    (training mode, gradients enabled), the results, the moves and whether any gradient appeared."""
    model.train()
    seen = []
    hook = model.register_forward_pre_hook(lambda module, args: seen.append([bool(module.training),
                                                                             torch.is_grad_enabled()]))
    try:
        results = [evaluate(model, loader, device) for _ in range(calls)]
    finally:
        hook.remove()
    return {"results": results, "forward": seen, "moves": list(Tracked.moves),
            "gradients": any(p.grad is not None for p in model.parameters())}


def logits(to_tensors, model: nn.Module, images: np.ndarray, batch: int = 1000) -> torch.Tensor:
    """The model's logits (N, 10) for uint8 ``images`` (N, 32, 32, 3), normalized by the student's ``to_tensors``,
    in eval mode, without autograd. No label is involved: the trusted side keeps them."""
    return outputs(model, images, lambda part: to_tensors(part, np.zeros(len(part), dtype=np.int64))[0], batch)

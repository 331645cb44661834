"""Probes for the A5 graders: small networks, the grader's own SGD steps, scripted curves."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from autograder.feedback import T, fail
from autograder.gradcheck import check_close

CONV_LINEAR = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def small_net(seed: int = 0, batchnorm: bool = False) -> nn.Sequential:
    """A tiny float64 CNN (conv with bias, optional BatchNorm, linear with and without bias)."""
    torch.manual_seed(seed)
    layers = [nn.Conv2d(3, 4, 3)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 8), nn.ReLU(), nn.Linear(8, 5, bias=False)]
    model = nn.Sequential(*layers).double()
    with torch.no_grad():  # non-trivial BatchNorm parameters, so penalizing them would show
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


def batches(count: int, seed: int = 0, n: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` float64 batches (n, 3, 8, 8) with labels 0..4."""
    rng = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 3, 8, 8, generator=rng, dtype=torch.float64),
             torch.randint(0, 5, (n,), generator=rng)) for _ in range(count)]


def weights_of(model: nn.Module) -> list[torch.Tensor]:
    """The weights as the statement defines them: ``weight`` of each Conv/Linear layer."""
    return [m.weight for m in model.modules() if isinstance(m, CONV_LINEAR)]


def is_weight(model: nn.Module, parameter: torch.Tensor) -> bool:
    return any(parameter is w for w in weights_of(model))


def torch_weight_decay_sgd(model: nn.Module, lr: float, lam: float, momentum: float) -> torch.optim.SGD:
    """PyTorch's own SGD with ``weight_decay = 2 * lam`` on the weights only."""
    weights = weights_of(model)
    others = [p for p in model.parameters() if not is_weight(model, p)]
    return torch.optim.SGD([{"params": weights, "weight_decay": 2 * lam}, {"params": others, "weight_decay": 0.0}],
                           lr=lr, momentum=momentum)


def explicit_penalty_step(model: nn.Module, xb, yb, optimizer, lam: float) -> None:
    """The grader's step on cross-entropy + lam * sum w^2 (weights only)."""
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(xb), yb) + lam * sum((w ** 2).sum() for w in weights_of(model))
    loss.backward()
    optimizer.step()


def plain_step(model: nn.Module, xb, yb, optimizer) -> None:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    optimizer.step()


def check_same_parameters(got: nn.Module, expected: nn.Module, *, call: str, hint) -> None:
    """Every parameter of ``got`` equals the one of ``expected`` (float64, 1e-9)."""
    for (name, a), b in zip(got.named_parameters(), expected.parameters()):
        check_close(a.detach().numpy(), b.detach().numpy(), name=name, call=call, rtol=1e-9, atol=1e-12, hint=hint)


def marked_model() -> nn.Module:
    """A tiny model whose weights the early-stopping graders set to the epoch number."""
    return nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))


def mark(model: nn.Module, value: float) -> None:
    """Fill every parameter of ``model`` with ``value``, in place (a shallow copy of the state would follow)."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def marker_of(model: nn.Module) -> float:
    values = torch.cat([p.detach().flatten() for p in model.parameters()])
    return float(values[0]) if torch.all(values == values[0]) else float("nan")


def run_curve(stopper_class, curve, patience: int, mode: str):
    """Feed ``curve`` to ``stopper_class(patience, mode=mode)`` epoch by epoch, with the model's weights
    set to the epoch number before each step. Returns (stop epoch or None, model, stopper)."""
    stopper = stopper_class(patience, mode=mode)
    model = marked_model()
    for epoch, metric in enumerate(curve):
        mark(model, float(epoch))
        result = stopper.step(metric, model)
        if not isinstance(result, (bool, np.bool_)):
            fail(T("EarlyStopping.step returned {r!r}; expected True (stop) or False (go on).",
                   "EarlyStopping.step devolvió {r!r}; se esperaba True (parar) o False (seguir).").format(r=result))
        if result:
            return epoch, model, stopper
    return None, model, stopper


def distinct_images(n: int, c: int = 3, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` random images (N, C, H, W) with no zero and no left-right symmetry (almost surely)."""
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) + 1.0


def padded_offsets(original: torch.Tensor, crop: torch.Tensor, padding: int) -> tuple[int, int] | None:
    """The (dy, dx) at which ``crop`` is a window of the zero-padded ``original``, or None."""
    _, h, w = original.shape
    padded = nn.functional.pad(original, (padding,) * 4)
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            if torch.equal(padded[:, dy:dy + h, dx:dx + w], crop):
                return dy, dx
    return None


def synthetic_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 images (N, 32, 32, 3) and labels 0..9, no data set needed."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=n)

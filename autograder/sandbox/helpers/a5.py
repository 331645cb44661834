"""A5: probe networks, batches and generators built next to the student's code, and reports of what it did.

Nothing here knows an expected value: the trusted side builds the same networks
and batches (this module is imported there too), runs its own steps on them and
compares. Shapes: images (N, C, H, W) float tensors; labels (N,) int64.
"""
import numpy as np
import torch
import torch.nn as nn

from .common import outputs


def small_net(seed: int = 0, batchnorm: bool = False, nested: bool = False) -> nn.Sequential:
    """A tiny float64 CNN for (N, 3, 8, 8) inputs -> (N, 5): conv with bias, optional BatchNorm, linear with
    and without bias; ``nested`` wraps it with a second Sequential holding Linear(5, 3). Seeded weights."""
    generator_state = torch.random.get_rng_state()
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
    if nested:
        model = nn.Sequential(model, nn.Sequential(nn.Linear(5, 3).double()))
    torch.random.set_rng_state(generator_state)
    return model


def batches(count: int, seed: int = 0, n: int = 16) -> list:
    """``count`` float64 batches (n, 3, 8, 8) with labels 0..4."""
    rng = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 3, 8, 8, generator=rng, dtype=torch.float64),
             torch.randint(0, 5, (n,), generator=rng)) for _ in range(count)]


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``, for the functions that draw from one."""
    return torch.Generator().manual_seed(seed)


def sgd(model: nn.Module, lr: float, momentum: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def plain_step(model: nn.Module, xb, yb, optimizer) -> None:
    """One step of ``optimizer`` on the plain cross-entropy of (xb, yb)."""
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    optimizer.step()


def named_parameters(model: nn.Module) -> dict:
    """{name: a copy of the parameter}, in ``named_parameters()`` order."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def names_of(model: nn.Module, parameters) -> list | None:
    """The names, in ``model``, of the objects in ``parameters`` (by identity), a marker for strangers;
    None when ``parameters`` is not iterable."""
    by_id = {id(p): name for name, p in model.named_parameters()}
    try:
        items = list(parameters)
    except TypeError:
        return None
    return [by_id.get(id(p), "<not a parameter of the model>") for p in items]


def weight_names(weight_parameters, model: nn.Module) -> dict:
    """Call ``weight_parameters(model)``; report the names of what it returned (see :func:`names_of`)."""
    result = weight_parameters(model)
    return {"names": names_of(model, result), "repr": repr(result)[:200]}


def penalty_report(l2_penalty, model: nn.Module, lam: float) -> dict:
    """Call ``l2_penalty(model, lam)``; report its value and form, then backpropagate it when it is
    differentiable and report every parameter's gradient (None where none appeared)."""
    penalty = l2_penalty(model, lam)
    is_tensor = isinstance(penalty, torch.Tensor)
    report = {"tensor": is_tensor, "shape": list(penalty.shape) if is_tensor else None,
              "requires_grad": bool(is_tensor and penalty.requires_grad),
              "value": (float(penalty.detach()) if is_tensor and penalty.numel() == 1 else
                        float(penalty) if isinstance(penalty, (int, float)) else None),
              "repr": repr(penalty)[:200]}
    if report["requires_grad"] and penalty.numel() == 1:
        penalty.backward()
    report["grads"] = {name: None if p.grad is None else p.grad.detach().clone()
                       for name, p in model.named_parameters()}
    return report


def param_groups(optimizer, model: nn.Module) -> dict:
    """Whether ``optimizer`` is a torch SGD, and each parameter group's names, lr, momentum and weight decay."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list):
        return {"sgd": isinstance(optimizer, torch.optim.SGD), "groups": None}
    return {"sgd": isinstance(optimizer, torch.optim.SGD),
            "groups": [{"names": names_of(model, group.get("params", [])),
                        **{k: float(group[k]) for k in ("lr", "momentum", "weight_decay") if k in group}}
                       for group in groups]}


def dropout_gradient(dropout, p: float, n: int, x_seed: int, mask_seed: int) -> dict:
    """``out = dropout(x, p, training=True, generator=...)`` for x uniform in [0.5, 1.5), then
    ``out.sum().backward()``: x, the output and x's gradient (None if none)."""
    x = torch.rand(n, generator=torch.Generator().manual_seed(x_seed)) + 0.5
    x.requires_grad_(True)
    out = dropout(x, p, training=True, generator=torch.Generator().manual_seed(mask_seed))
    differentiable = isinstance(out, torch.Tensor) and out.requires_grad
    if differentiable:
        out.sum().backward()
    return {"x": x.detach().clone(), "out": out.detach().clone() if isinstance(out, torch.Tensor) else out,
            "grad": None if x.grad is None else x.grad.clone()}


def marked_model() -> nn.Module:
    """A tiny model whose weights the early-stopping graders set to the epoch number."""
    return nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))


def marker_of(model: nn.Module) -> float:
    """The value every parameter holds, or NaN when they do not all hold the same one."""
    values = torch.cat([p.detach().flatten() for p in model.parameters()])
    return float(values[0]) if torch.all(values == values[0]) else float("nan")


def run_curve(stopper_class, curve, patience: int, mode: str, restore_if_never: bool = False) -> dict:
    """Feed ``curve`` to ``stopper_class(patience, mode=mode)`` epoch by epoch, the model's weights set to the
    epoch number before each step, until a step returns something other than False.

    Returns ``results`` (what each step returned: True/False, or the repr of anything else), ``stopped``
    (the epoch of the first True, or None), ``best_epoch`` (the stopper's attribute) and ``marker`` (the
    epoch number the model's weights hold at the end, after ``restore()`` when it never stopped and
    ``restore_if_never``)."""
    stopper = stopper_class(patience, mode=mode)
    model = marked_model()
    results, stopped = [], None
    for epoch, metric in enumerate(curve):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(epoch))
        result = stopper.step(metric, model)
        if isinstance(result, (bool, np.bool_)):
            results.append(bool(result))
        else:
            results.append(repr(result)[:200])
            break
        if result:
            stopped = epoch
            break
    if stopped is None and restore_if_never:
        stopper.restore(model)
    best = getattr(stopper, "best_epoch", None)
    return {"results": results, "stopped": stopped, "marker": marker_of(model),
            "best_epoch": int(best) if isinstance(best, (int, np.integer)) else repr(best)[:200]}


def logits(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """The model's outputs for the normalized images ``x`` (N, 3, 32, 32), in eval mode, without autograd.
    No label is involved: the trusted side keeps them and scores the outputs."""
    return outputs(model, x, batch=batch)

"""A6: the networks student code is run on, and what it did to them, reported as data.

Each function builds an input (a seeded stand-in network, the pretrained backbone, a
network made trainable by parameter name) or reports an observation (which parameters
require gradients, the modules' training modes, the state tensors, an optimizer's groups,
the modes and gradient state of forward passes, logits). None of them knows an expected
value: the trusted side compares what they report with its own oracles, and imports this
module too, to build the very same stand-in network.
"""
import numpy as np
import torch
import torch.nn as nn

from .common import outputs

from autograder import backbones


class TinyNet(nn.Module):
    """A pretrained-network stand-in: conv + BatchNorm features and a 1000-class head named ``head``."""

    def __init__(self, head: str = "classifier", dropout: float = 0.0):
        super().__init__()
        self.head_name = head
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        setattr(self, head, nn.Linear(16, 1000))

    def forward(self, x):
        return getattr(self, self.head_name)(self.features(x))


def _seeded(build, seed: int):
    """``build()`` with torch seeded by ``seed``, the caller's random state left as it was."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return build()
    finally:
        torch.random.set_rng_state(state)


def tiny_backbone(head: str = "classifier", dropout: float = 0.0) -> backbones.Backbone:
    """The stand-in as a Backbone (16 features, TF normalization), the same weights on both sides."""
    model = _seeded(lambda: TinyNet(head, dropout).eval(), 0)
    return backbones.Backbone("tiny", model, backbones.TF_MEAN, backbones.TF_STD, head, 16, "grader stand-in")


def load_backbone(name: str, pretrained: bool = True, seed: int = 0) -> backbones.Backbone:
    """``autograder.backbones.load_backbone(name)``, built with torch seeded (random weights are reproducible)."""
    return _seeded(lambda: backbones.load_backbone(name, pretrained=pretrained), seed)


def set_trainable(model: nn.Module, names) -> None:
    """``requires_grad`` True for the parameters named in ``names``, False for every other one."""
    wanted = set(names)
    for name, p in model.named_parameters():
        p.requires_grad_(name in wanted)


def trainable(model: nn.Module) -> list:
    """Sorted names of the parameters that require gradients."""
    return sorted(name for name, p in model.named_parameters() if p.requires_grad)


def parameter_names(model: nn.Module) -> list:
    return [name for name, _ in model.named_parameters()]


def modes(model: nn.Module) -> dict:
    """``{module name: [class name, training]}`` for every submodule (the model itself is "")."""
    return {name: [type(module).__name__, bool(module.training)] for name, module in model.named_modules()}


def state(model: nn.Module, skip: str | None = None) -> dict:
    """Copies of the state tensors (parameters and buffers) on the CPU, without those under ``skip`` (a prefix)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if skip is None or not (k == skip or k.startswith(skip + "."))}


def param_groups(model: nn.Module, optimizer) -> list:
    """``[[lr, [parameter names]], ...]``, one entry per group of ``optimizer`` ("?" for a foreign tensor)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [[float(g["lr"]), [names.get(id(p), "?") for p in g["params"]]] for g in optimizer.param_groups]


def head_info(backbone, returned=None) -> dict:
    """The module at ``backbone.head``: class name, in/out features, and whether it is ``returned``."""
    head = getattr(backbone.model, backbone.head, None)
    return {"type": type(head).__name__, "in_features": getattr(head, "in_features", None),
            "out_features": getattr(head, "out_features", None), "is_returned": head is returned}


def same(a, b) -> bool:
    """Whether ``a`` and ``b`` are the very same object."""
    return a is b


def output_shape(model: nn.Module, input_shape) -> list | None:
    """The shape of ``model``'s output for zeros of ``input_shape``, in eval mode, without autograd."""
    model.eval()
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    with torch.no_grad():
        output = model(torch.zeros(tuple(input_shape), device=device))
    return list(output.shape) if isinstance(output, torch.Tensor) else None


def devices(model: nn.Module) -> list:
    """Sorted devices of the model's parameters."""
    return sorted({str(p.device) for p in model.parameters()})


def adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam over every parameter of ``model``."""
    return torch.optim.Adam(model.parameters(), lr=lr)


def adam_over(module: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam over the parameters of ``module`` (for example ``model.classifier``)."""
    return torch.optim.Adam(module.parameters(), lr=lr)


def sgd_steps(model: nn.Module, batches, lr: float, momentum: float = 0.9) -> None:
    """One SGD step per (xb, yb) of ``batches`` on the cross-entropy, with the whole model in eval mode (its
    BatchNorm statistics fixed). Parameters that do not require gradients get none, so they cannot move."""
    model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for xb, yb in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def observe_evaluation(evaluate, model: nn.Module, batches, device) -> dict:
    """Call ``evaluate`` once with the model in train mode beforehand; report what it returned, each forward
    pass's [training mode, gradients enabled], and whether any parameter got a gradient."""
    model.train()
    seen = []
    hook = model.register_forward_pre_hook(lambda module, args: seen.append([bool(module.training),
                                                                             torch.is_grad_enabled()]))
    try:
        result = evaluate(model, batches, device)
    finally:
        hook.remove()
    return {"result": result, "forward": seen, "gradients": any(p.grad is not None for p in model.parameters())}


def logits(to_tensors, model: nn.Module, images: np.ndarray, mean, std, size: int, batch: int = 500) -> torch.Tensor:
    """The model's logits (N, C) for uint8 ``images`` (N, 32, 32, 3), made inputs by the student's
    ``to_tensors(images, labels, mean, std, size)``, in eval mode, without autograd. No label is involved:
    the trusted side keeps them."""
    return outputs(model, images, lambda part: to_tensors(part, np.zeros(len(part), dtype=np.int64), mean, std, size)[0],
                   batch)


# -- inputs for the student's functions, and values read back (the trusted side computes the verdict) ----------
def loader(x: torch.Tensor, y: torch.Tensor, batch: int) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` over ``TensorDataset(x, y)``, batches of ``batch`` in order (as ``make_loader(...,
    shuffle=False)`` gives): ``len(loader.dataset)``, ``loader.sampler`` and ``loader.batch_size`` work as usual.
    It has a generator of its own, so iterating it draws nothing from torch's global random generator."""
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=False,
                                       generator=torch.Generator().manual_seed(0))


def sgd(model: nn.Module, lr: float, momentum: float = 0.0) -> torch.optim.SGD:
    """SGD over every parameter of ``model`` (frozen or not)."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def seed(value: int) -> None:
    """``torch.manual_seed(value)``: the dropout masks of the next forward passes, the same on both sides."""
    torch.manual_seed(value)


def set_mode(model: nn.Module, training: bool) -> None:
    """``model.train(training)``: the mode a model is in when it is handed to student code."""
    model.train(training)


def steps(model: nn.Module, optimizer, batches) -> None:
    """One step of ``optimizer`` per (xb, yb) of ``batches`` on the cross-entropy, with the model in eval mode
    (BatchNorm statistics and dropout fixed): zero_grad, forward, loss, backward, step. Whatever the optimizer
    holds and requires gradients moves; the trusted side runs the same steps on its own copy."""
    model.eval()
    for xb, yb in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def forward_as_is(model: nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    """``model(x)`` in whatever modes its modules are in (nothing switched), torch seeded by ``seed`` just before
    (dropout masks), without autograd. BatchNorm layers in train mode update their running statistics."""
    torch.manual_seed(seed)
    with torch.no_grad():
        return torch.as_tensor(model(x)).detach().float().cpu().as_subclass(torch.Tensor)


class ForwardWatch:
    """The (training mode, gradients enabled) of each forward pass of a model, for feedback only."""

    def __init__(self, model: nn.Module):
        self.seen: list = []
        self.hook = model.register_forward_pre_hook(
            lambda module, args: self.seen.append([bool(module.training), torch.is_grad_enabled()]))


def watch_forward(model: nn.Module) -> ForwardWatch:
    """Start watching ``model``'s forward passes (feedback only: the grader never scores what this reports)."""
    return ForwardWatch(model)


def forwards_seen(watch: ForwardWatch) -> list:
    """Stop ``watch`` and return what it saw: a [training, grad enabled] pair per forward pass."""
    watch.hook.remove()
    return watch.seen

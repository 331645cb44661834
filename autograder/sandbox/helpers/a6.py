"""A6: the networks student code is run on, and what it did to them, reported as data.

Each function builds an input (a seeded stand-in network, the pretrained backbone, a
network made trainable by parameter name) or reports an observation (which parameters
require gradients, the modules' training modes, the state tensors, an optimizer's groups,
the modes and gradient state of forward passes, logits). None of them knows an expected
value: the trusted side compares what they report with its own oracles, and imports this
module too, to build the very same stand-in network.
"""
import hashlib

import numpy as np
import torch
import torch.nn as nn
from torch.nn.modules.module import register_module_forward_hook

from . import training
from .common import ForwardWatch, forwards_seen, watch_forward  # noqa: F401 (reached as helpers("a6"))

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




def parameter_names(model: nn.Module) -> list:
    return [name for name, _ in model.named_parameters()]




def state(model: nn.Module, skip: str | None = None) -> dict:
    """Copies of the state tensors (parameters and buffers) on the CPU, without those under ``skip`` (a prefix)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if skip is None or not (k == skip or k.startswith(skip + "."))}












def adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam over every parameter of ``model``."""
    return torch.optim.Adam(model.parameters(), lr=lr)


def adam_over(module: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam over the parameters of ``module`` (for example ``model.classifier``)."""
    return torch.optim.Adam(module.parameters(), lr=lr)








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


# -- the record of fit_frozen's training run (checked on the trusted side: autograder/graders/a6/proof.py) ------
class FeatureRecording(training.Recording):
    """fit_frozen's training run recorded like :class:`autograder.sandbox.helpers.training.Recording`, where the
    batches the optimizer steps on are rows of backbone FEATURES, not images.

    While fit_frozen extracts features, every outermost module call (``model(x)``, not the layers inside it) whose
    output is a float (B, ``features``) tensor has its rows remembered, in order, by a digest of their bytes. At each
    optimizer step, the rows of the last (B, ``features``) input an ``nn.Linear(features, ...)`` received with
    gradients enabled (the head's training forward) are looked up among them. After the run, the positions found
    are turned into training-image indices: the extraction pass that holds every row the training used is the one of
    the training images, in their order (``to_tensors`` keeps it), so a row's index is its position in that pass.
    Checkpoints hold the head's weight and bias and their Adam state (exp_avg, exp_avg_sq, step), and the
    hyperparameters of the optimizer's groups.

    Nothing here is believed: the trusted side computes the features of the recorded images itself, with its own
    pristine backbone, and replays stretches of Adam steps on its own head."""

    def __init__(self, images: np.ndarray, mean, std, features: int, every: int, classes: int = 10):
        super().__init__(images, mean, std, every)
        self.features, self.classes = int(features), int(classes)
        self.mean, self.std = [float(v) for v in mean], [float(v) for v in std]
        self.inputs = None                      # the 4D input of the outermost call under way
        self.chunks: dict[int, torch.Tensor] = {}  # position of a remembered output's first row -> its first input
        self.n = len(self.images)
        self.rows: dict[bytes, list[int]] = {}  # digest of an extracted feature row -> its positions
        self.count = 0                          # feature rows remembered so far
        self.limit = 24 * max(self.n, 1)        # rows remembered at most (features recomputed every epoch fit)
        self.depth = 0
        self.last_output = None                 # the digests of the rows remembered last
        self.head = None                        # the nn.Linear that received the first training batch
        self.pending_head = None

    @staticmethod
    def _digests(x: torch.Tensor) -> list[bytes]:
        rows = x.detach().to("cpu").contiguous().numpy()
        return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]

    def _is_features(self, x) -> bool:
        return (isinstance(x, torch.Tensor) and x.dim() == 2 and x.dtype == torch.float32
                and x.shape[1] == self.features and x.shape[0] > 0)

    # -- hooks ------------------------------------------------------------------------------------
    def on_forward(self, module, args) -> None:
        if self.depth == 0:
            x = args[0] if args else None
            self.inputs = x if isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point() else None
        self.depth += 1
        if (isinstance(module, nn.Linear) and module.in_features == self.features
                and module.out_features == self.classes and torch.is_grad_enabled()
                and args and self._is_features(args[0])):
            x = args[0]
            if not (self.pending and self.pending[-1][0] == id(x)):
                self.pending.append((id(x), [self.rows.get(d) for d in self._digests(x)]))
                self.pending_head = module

    def on_forward_done(self, module, args, output) -> None:
        self.depth = max(self.depth - 1, 0)
        if self.depth == 0 and self._is_features(output) and not output.requires_grad and self.count < self.limit:
            digests = self._digests(output)
            if digests == self.last_output:
                return  # the same rows again (an nn.Identity head called on its own, after the pooling)
            self.last_output = digests
            if self.inputs is not None and len(self.inputs) == len(digests) and len(self.chunks) < 64:
                self.chunks[self.count] = self.inputs[0].detach().to("cpu", torch.float32).clone()
            for digest in digests:
                self.rows.setdefault(digest, []).append(self.count)
                self.count += 1

    def on_step(self, optimizer, args, kwargs) -> None:
        if self.optimizer is None:
            self.optimizer = optimizer
            self.head = self.pending_head
        if optimizer is not self.optimizer:
            self.other_optimizers += 1
            return
        batch = self.pending[-1][1] if self.pending else None
        self.pending = []
        self.pending_head = None
        if batch is not None and any(candidates is None for candidates in batch):
            batch = None
        self.sizes.append(-1 if batch is None else len(batch))
        if batch is not None:
            self.indices.append(batch)
        if (len(self.sizes) - 1) % self.every == 0:
            self.checkpoints.append(self._snapshot(len(self.sizes) - 1))

    def _snapshot(self, step: int) -> dict:
        """The head's weight and bias (in that order), their Adam state, and the optimizer's group settings."""
        optimizer = self.optimizer
        head = [] if self.head is None else [p for p in (self.head.weight, self.head.bias) if p is not None]
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        states = [optimizer.state.get(p, {}) for p in head]
        return {"step": step, "params": [training._plain(p) for p in head],
                "held": [id(p) in held for p in head],
                "state": [{str(k): training._plain(v) if isinstance(v, torch.Tensor) else training._number(v)
                           for k, v in s.items()} for s in states],
                "groups": [{str(k): training._number(v) for k, v in group.items() if k != "params"}
                           for group in optimizer.param_groups]}

    def _resolved(self) -> list[np.ndarray]:
        """Each recognized batch as training-image indices: the positions of its rows less the offset of the
        extraction pass of the training images (the smallest offset that puts every row within N positions),
        an image used twice in an epoch where two rows have the same bytes assigned the other one."""
        batches = self.indices
        if not batches:
            return []
        firsts = sorted({c[0] for batch in batches for c in batch})
        offset = firsts[0]
        for start in firsts[:8]:
            if all(any(start <= p < start + self.n for p in c) for batch in batches for c in batch):
                offset = start
                break
        self.offset = offset
        used: set[int] = set()
        resolved = []
        for batch in batches:
            found = []
            for candidates in batch:
                inside = [p - offset for p in candidates if offset <= p < offset + self.n]
                choice = next((i for i in inside if i not in used), inside[0] if inside else -1)
                found.append(choice)
                used.add(choice)
                if len(used) >= self.n:
                    used = set()
            resolved.append(np.array(found, dtype=np.int64))
        return resolved

    def _preprocessing(self, offset: int):
        """{"mean", "std", "size"} of the inputs the training images' features were computed from, where they are
        not the statement's: a per-channel affine map fitted between the input of training image 0 and the
        statement's (value/255, bilinear resize, (value - mean) / std); None where they are the statement's or
        cannot be told."""
        x = self.chunks.get(offset)
        if x is None or x.shape[0] != 3:
            return None
        size = int(x.shape[-1])
        v = torch.tensor(self.images[0], dtype=torch.float32).permute(2, 0, 1)[None] / 255.0
        if size != v.shape[-1]:
            v = nn.functional.interpolate(v, (size, size), mode="bilinear", align_corners=False, antialias=False)
        v = v[0].double()
        mean, std = [], []
        for c in range(3):
            u, y = v[c].reshape(-1), x[c].double().reshape(-1)
            spread = float(((u - u.mean()) ** 2).sum())
            if spread == 0:
                return None
            a = float(((u - u.mean()) * (y - y.mean())).sum() / spread)  # y = a * v + b = (v - mean') / std'
            b = float(y.mean() - a * u.mean())
            if a == 0 or float((y - (a * u + b)).abs().max()) > 1e-4 * max(1.0, float(y.abs().max())):
                return None
            std.append(1 / a)
            mean.append(-b / a)
        return {"mean": mean, "std": std, "size": size}

    def summary(self) -> dict:
        firsts = sorted({c[0] for batch in self.indices for c in batch})
        self.indices = self._resolved()
        offset = self.offset if firsts else None
        return {**super().summary(), "feature_rows": self.count,
                "preprocessing": None if offset is None else self._preprocessing(offset)}


def start_recording(images, mean, std, features: int, every: int = 2) -> FeatureRecording:
    """Begin recording fit_frozen's feature extraction and optimizer steps in this process (the grader then calls
    fit_frozen itself); :func:`finish_recording` ends it and returns the record as plain data."""
    recording = FeatureRecording(images, mean, std, features, every)
    recording.hooks = [training.register_module_forward_pre_hook(recording.on_forward),
                       register_module_forward_hook(recording.on_forward_done, always_call=True),
                       training.register_optimizer_step_pre_hook(recording.on_step)]
    return recording


def finish_recording(recording: FeatureRecording) -> dict:
    """Stop ``recording`` and return its summary."""
    return training.finish(recording)

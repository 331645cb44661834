"""A5: probe networks, batches and generators built next to the student's code, values read back from it,
and the record of fit's training runs.

Nothing here knows an expected value: the trusted side builds the same networks
and batches (this module is imported there too), runs its own steps on them and
compares. A record of a training run is checked on the trusted side by replaying parts of it
(``autograder/graders/a5/proof.py``, never shipped). Shapes: images (N, C, H, W) float tensors;
labels (N,) int64.
"""
import numpy as np
import torch
import torch.nn as nn

from . import training


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



# ---------------------------------------------------------------- the recorded training runs of fit
class AugmentedRecording(training.Recording):
    """A training run recorded like :class:`autograder.sandbox.helpers.training.Recording`, where each batch image
    may be a flipped, zero-padded crop of a training image, and dropout may zero activations.

    For each optimizer step it writes down, for every image of the step's batch, which training image it is,
    whether it is mirrored left-right and at which corner (dy, dx) of the image padded with ``padding`` zeros
    (the normalized mean colour) its window starts; and, for each ``nn.Linear`` of that batch's forward pass,
    which of its inputs are zero (bit-packed). Nothing here is believed: the trusted side rebuilds the
    batches from its own copy of the images, applies the recorded zeros as dropout masks and replays."""

    KEYS = 16  # pixels of the window's centre, always inside the original image, that name a candidate

    def __init__(self, images: np.ndarray, mean, std, every: int, padding: int):
        super().__init__(images, mean, std, every)
        self.padding = padding
        self.chw = np.ascontiguousarray(self.images.transpose(0, 3, 1, 2))  # (N, C, H, W) uint8
        n, c, h, w = self.chw.shape
        rng = np.random.default_rng(1)
        self.key_c = rng.integers(0, c, self.KEYS)
        self.key_i = rng.integers(padding, h - padding, self.KEYS)
        self.key_j = rng.integers(padding, w - padding, self.KEYS)
        self.windows: dict[bytes, list] = {}
        for flip in (0, 1):
            source = self.chw[:, :, :, ::-1] if flip else self.chw
            for dy in range(2 * padding + 1):
                for dx in range(2 * padding + 1):
                    picked = np.ascontiguousarray(
                        source[:, self.key_c, self.key_i + dy - padding, self.key_j + dx - padding])
                    for index, row in enumerate(picked):
                        self.windows.setdefault(row.tobytes(), []).append((index, flip, dy, dx))
        self.fill = (np.asarray(mean, dtype=np.float64) * 255).reshape(-1, 1, 1)
        self.window_mean = torch.tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)
        self.window_std = torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
        self.zeros: list = []        # zero patterns of the Linear inputs since the last recognized batch
        self.steps: list[dict] = []  # per recognized step: flips, corners, zero patterns

    def on_forward(self, module, args) -> None:
        if isinstance(module, nn.Linear):
            if torch.is_grad_enabled() and module.training and args and isinstance(args[0], torch.Tensor):
                zero = (args[0].detach().to("cpu") == 0).numpy()
                self.zeros.append(torch.from_numpy(np.packbits(zero.reshape(len(zero), -1), axis=1)))
            return
        before = len(self.pending)
        super().on_forward(module, args)
        if len(self.pending) != before:
            self.zeros = []

    def _recognize(self, x: torch.Tensor):
        """[(index, flip, dy, dx) per image] of batch ``x`` (B, C, H, W), or None if one is not a window.

        Named by its key pixels alone (fast); the whole window is compared only where several candidates share
        them. A batch that matches on its key pixels but not elsewhere is recorded as those windows, and the
        trusted replay, which rebuilds them from the grader's own images, then does not reach the recorded
        weights: nothing is gained by it."""
        with torch.no_grad():
            picked = x.detach()[:, self.key_c, self.key_i, self.key_j].to("cpu", torch.float64)
            value = ((picked * self.window_std.reshape(-1)[self.key_c] + self.window_mean.reshape(-1)[self.key_c])
                     * 255).numpy()
        keys = np.round(value)
        if not (np.abs(value - keys) < 0.05).all() or keys.min() < 0 or keys.max() > 255:
            return None
        found = []
        for row, key in enumerate(keys.astype(np.uint8)):
            candidates = self.windows.get(key.tobytes(), ())
            if len(candidates) != 1:
                with torch.no_grad():
                    image = ((x[row:row + 1].detach().to("cpu", torch.float64) * self.window_std + self.window_mean)
                             * 255).numpy()[0]
                candidates = [c for c in candidates if self._is_window(image, *c)][:1]
            if not candidates:
                return None
            found.append(candidates[0])
        return found

    def _is_window(self, image: np.ndarray, index: int, flip: int, dy: int, dx: int) -> bool:
        p, (_, h, w) = self.padding, image.shape
        source = self.chw[index, :, :, ::-1] if flip else self.chw[index]
        padded = np.broadcast_to(self.fill, (source.shape[0], h + 2 * p, w + 2 * p)).copy()
        padded[:, p:p + h, p:p + w] = source
        return bool((np.abs(padded[:, dy:dy + h, dx:dx + w] - image) < 0.05).all())

    def on_step(self, optimizer, args, kwargs) -> None:
        if self.optimizer is None:
            self.optimizer = optimizer
        if optimizer is not self.optimizer:
            self.other_optimizers += 1
            return
        batch = self.pending[-1][1] if self.pending else None
        self.pending = []
        self.sizes.append(-1 if batch is None else len(batch))
        if batch is not None:
            found = np.array(batch, dtype=np.int64).reshape(-1, 4)
            self.indices.append(found[:, 0])
            self.steps.append({"flips": torch.from_numpy(found[:, 1].astype(np.uint8)),
                               "corners": torch.from_numpy(found[:, 2:].astype(np.uint8)), "zeros": self.zeros})
        self.zeros = []
        if (len(self.sizes) - 1) % self.every == 0:
            self.checkpoints.append(self._snapshot(len(self.sizes) - 1))

    def _snapshot(self, step: int) -> dict:
        snapshot = super()._snapshot(step)
        snapshot.pop("state", None)  # the momentum buffers are sent once, as "buffers"
        return snapshot

    def summary(self) -> dict:
        return {**super().summary(), "steps_seen": self.steps}


def start_recording(images, mean, std, every: int = 8, padding: int = 4) -> AugmentedRecording:
    """Begin recording every optimizer step in this process (the grader then calls ``fit`` itself);
    :func:`finish_recording` ends it and returns the record as plain data."""
    recording = AugmentedRecording(images, mean, std, every, padding)
    recording.hooks = [training.register_module_forward_pre_hook(recording.on_forward),
                       training.register_optimizer_step_pre_hook(recording.on_step)]
    return recording


def finish_recording(recording: AugmentedRecording) -> dict:
    """Stop ``recording`` and return its summary."""
    return training.finish(recording)


def seed(value: int) -> None:
    """``torch.manual_seed(value)`` in this process (so a network built next is the one ``fit(seed=value)`` builds)."""
    torch.manual_seed(value)


def fill_parameters(model: nn.Module, value: float) -> None:
    """Set every parameter of ``model`` to ``value`` (the early-stopping graders' epoch marker)."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(value))


class Kept(torch.Tensor):
    """A tensor kept next to the student's code: the grader holds a handle, passes it to student code and reads
    it back with :func:`plain` (to see whether the call changed it)."""


def keep(x: torch.Tensor) -> torch.Tensor:
    """A copy of ``x`` that stays in this process (the grader gets a handle)."""
    return x.detach().clone().as_subclass(Kept)


def plain(x) -> torch.Tensor:
    """The current content of ``x`` (a kept tensor, or what student code returned for one) as a plain tensor."""
    return x.detach().clone().as_subclass(torch.Tensor) if isinstance(x, torch.Tensor) else x

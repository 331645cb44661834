"""A training run recorded next to student code, for the trusted side to check by replaying parts of it.

:func:`start` begins a recording; the grader then calls the student's training function (``fit``)
itself, and :func:`finish` returns what was written down: for each step of the optimizer, which training images its batch held, and every ``every`` steps the optimizer's
parameters and momentum buffers. It recognizes an image in a batch by undoing the statement's
normalization and looking its pixels up among the training images it was given.

Nothing here is believed by the grader: the trusted side checks that the record has the shape the
budget prescribes, that it starts from an initialization and ends at the weights of the returned
model, and then replays randomly chosen stretches of it with the statement's update rule on its own
copy of the data. A record that was not produced by that training fails the replay.
"""
import itertools

import numpy as np
import torch
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook

KEY_POSITIONS = np.random.default_rng(0).choice(32 * 32 * 3, size=64, replace=False)  # pixels that name an image


class Recording:
    """What one training run did, step by step; see :func:`start`."""

    def __init__(self, images: np.ndarray, mean, std, every: int):
        self.images = np.ascontiguousarray(images)
        self.flat = self.images.reshape(len(self.images), -1)
        self.table: dict[bytes, list[int]] = {}
        for index, key in enumerate(self._keys(self.flat)):
            self.table.setdefault(key, []).append(index)
        # pixel level = x * scale + shift: the statement's normalization undone, unless the batches show another
        self.scale = 255 * torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
        self.shift = 255 * torch.tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)
        self.normalization = None  # [[scale, shift] per channel] where it is not the statement's
        self.every = every
        self.optimizer = None
        self.other_optimizers = 0
        self.pending: list = []          # batches recognized since the last step: (tensor id, indices or None)
        self.sizes: list[int] = []       # per step: images in its batch, -1 where no batch was recognized
        self.indices: list[np.ndarray] = []
        self.checkpoints: list[dict] = []
        self.hooks: list = []

    @staticmethod
    def _keys(flat: np.ndarray) -> list[bytes]:
        picked = np.ascontiguousarray(flat[:, KEY_POSITIONS])
        return [row.tobytes() for row in picked]

    # -- hooks ------------------------------------------------------------------------------------
    def on_forward(self, module, args) -> None:
        if not (torch.is_grad_enabled() and module.training and args):
            return
        x = args[0]
        if not (isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point()
                and tuple(x.shape[1:]) == (self.images.shape[3], *self.images.shape[1:3])):
            return
        if self.pending and self.pending[-1][0] == id(x):
            return  # the same batch seen again by an inner layer
        self.pending.append((id(x), self._recognize(x)))

    def _recognize(self, x: torch.Tensor):
        """Indices of the training images in batch ``x`` (B, C, H, W), or None if one is not among them.

        The pixels are recovered by undoing the statement's normalization; if that fails on the first batch,
        by undoing the per-channel affine map the batch itself shows (another mean and std: a bug of
        ``to_tensors`` whose training can still be checked). Once chosen, one map serves every batch."""
        with torch.no_grad():
            found = self._lookup_keys(x)
            if found is not None or self.sizes or self.normalization is not None:
                return found
            values = x.detach().to("cpu", torch.float64)
            found = self._lookup(values * self.scale + self.shift)
            if found is None:
                for scale, shift in self._affine_candidates(values):
                    found = self._lookup(values * scale + shift)
                    if found is not None:
                        self.scale, self.shift = self._fitted(values, found)
                        self.normalization = [[float(a), float(b)] for a, b in
                                              zip(self.scale.reshape(-1), self.shift.reshape(-1))]
                        break
        return found

    def _lookup_keys(self, x: torch.Tensor):
        """:meth:`_lookup` from the key pixels alone (a few per image, fast); the whole image is compared only
        where two training images share their key pixels. A batch that matches on its key pixels but not
        elsewhere is recorded as those training images, and the trusted replay, which uses the grader's own
        copy of them, then does not reach the recorded weights: nothing is gained by it."""
        h, w, c = self.images.shape[1:]
        where = (torch.from_numpy(KEY_POSITIONS % c), torch.from_numpy(KEY_POSITIONS // c // w),
                 torch.from_numpy(KEY_POSITIONS // c % w))
        picked = x.detach()[:, where[0], where[1], where[2]].to("cpu", torch.float64)
        value = picked * self.scale.reshape(-1)[where[0]] + self.shift.reshape(-1)[where[0]]
        pixels = value.round()
        if not bool(((value - pixels).abs() < 0.05).all()) or pixels.min() < 0 or pixels.max() > 255:
            return None
        found = []
        for row, key in enumerate(pixels.to(torch.uint8).numpy()):
            candidates = self.table.get(key.tobytes(), ())
            if len(candidates) != 1:
                whole = self._lookup(x[row:row + 1].detach().to("cpu", torch.float64) * self.scale + self.shift)
                if whole is None:
                    return None
                found.append(int(whole[0]))
            else:
                found.append(candidates[0])
        return np.array(found, dtype=np.int64)

    def _lookup(self, value: torch.Tensor):
        pixels = value.round()
        if not bool(((value - pixels).abs() < 0.05).all()) or pixels.min() < 0 or pixels.max() > 255:
            return None
        flat = pixels.to(torch.uint8).permute(0, 2, 3, 1).reshape(len(value), -1).numpy()
        found = []
        for key, row in zip(self._keys(flat), flat):
            match = next((i for i in self.table.get(key, ()) if np.array_equal(self.flat[i], row)), None)
            if match is None:
                return None
            found.append(match)
        return np.array(found, dtype=np.int64)

    def _fitted(self, values: torch.Tensor, found: np.ndarray):
        """The per-channel (scale, shift) with level = input * scale + shift, fitted by least squares on a
        recognized batch ``values`` (B, C, H, W) of the images ``found``: precise to about 1e-9, so that the
        trusted side can recompute the student's float32 inputs bit for bit."""
        levels = torch.from_numpy(self.images[found]).permute(0, 3, 1, 2).double()
        scales, shifts = [], []
        for c in range(values.shape[1]):
            u, x = levels[:, c].reshape(-1), values[:, c].reshape(-1)
            slope = float(((u - u.mean()) * (x - x.mean())).sum() / ((u - u.mean()) ** 2).sum())
            intercept = float(x.mean() - slope * u.mean())
            scales.append(1 / slope)
            shifts.append(-intercept / slope)
        return (torch.tensor(scales, dtype=torch.float64).view(1, -1, 1, 1),
                torch.tensor(shifts, dtype=torch.float64).view(1, -1, 1, 1))

    @staticmethod
    def _affine_candidates(values: torch.Tensor, max_offsets: int = 6):
        """Per-channel (scale, shift) maps from ``values`` (B, C, H, W) to integer pixel levels 0..255: the step
        between the channel's distinct values is one level; the darkest value's level is tried from 0 up."""
        per_channel = []
        for channel in values.transpose(0, 1).reshape(values.shape[1], -1):
            levels = torch.unique(channel)
            if len(levels) < 2:
                return []
            step = float(torch.diff(levels).min())
            span = round((float(levels[-1]) - float(levels[0])) / step)
            if step <= 0 or span > 255 or 255 - span >= max_offsets:
                return []
            per_channel.append([(1 / step, offset - float(levels[0]) / step) for offset in range(256 - span)])
        return [(torch.tensor([c[0] for c in combo], dtype=torch.float64).view(1, -1, 1, 1),
                 torch.tensor([c[1] for c in combo], dtype=torch.float64).view(1, -1, 1, 1))
                for combo in itertools.product(*per_channel)]

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
            self.indices.append(batch)
        if (len(self.sizes) - 1) % self.every == 0:
            self.checkpoints.append(self._snapshot(len(self.sizes) - 1))

    def _snapshot(self, step: int) -> dict:
        optimizer = self.optimizer
        params = [p for group in optimizer.param_groups for p in group["params"]]
        states = [optimizer.state.get(p, {}) for p in params]
        return {"step": step,
                "params": [_plain(p) for p in params],
                "buffers": [None if s.get("momentum_buffer") is None else _plain(s["momentum_buffer"]) for s in states],
                "state": [{str(k): _plain(v) if isinstance(v, torch.Tensor) else _number(v) for k, v in s.items()}
                          for s in states],
                "groups": [{str(k): _number(v) for k, v in group.items() if k != "params"}
                           for group in optimizer.param_groups]}

    def summary(self) -> dict:
        """The record as plain data: step sizes, batch indices, checkpoints (the last one after the final step), and
        the per-channel map from pixel levels to inputs where it is not the statement's normalization."""
        if self.optimizer is not None and self.sizes:
            self.checkpoints.append(self._snapshot(len(self.sizes)))
        return {"steps": len(self.sizes), "sizes": torch.tensor(self.sizes, dtype=torch.int64),
                "indices": torch.from_numpy(np.concatenate(self.indices)) if self.indices
                else torch.zeros(0, dtype=torch.int64),
                "checkpoints": self.checkpoints, "other_optimizers": self.other_optimizers,
                "normalization": self.normalization}


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to("cpu").clone().as_subclass(torch.Tensor)


def _number(value):
    """A hyperparameter as plain data: bools and None as they are, numbers as floats, tuples of numbers as lists."""
    if isinstance(value, (bool, type(None))):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    return repr(value)[:80]


def start(images, mean, std, every: int = 8) -> Recording:
    """Begin recording every optimizer step in this process (the grader then calls the student's training
    function itself); :func:`finish` ends the recording and returns it as plain data."""
    recording = Recording(images, mean, std, every)
    recording.hooks = [register_module_forward_pre_hook(recording.on_forward),
                       register_optimizer_step_pre_hook(recording.on_step)]
    return recording


def finish(recording: Recording) -> dict:
    """Stop ``recording`` and return :meth:`Recording.summary`."""
    for hook in getattr(recording, "hooks", []):
        hook.remove()
    recording.hooks = []
    return recording.summary()

"""The "from scratch" side of the comparison: the A4 LeNet trained by the grader, never by the student.

Same images, same number of epochs and same seed as the transfer run; SGD with
momentum 0.9 at the A4 learning rate, CIFAR-10 normalization. Its *best* epoch's
test accuracy is the baseline (the most favourable reading for scratch). The
result does not depend on the submission, so it is cached in the cache folder
(``AUTOGRADER_CACHE``, never in the repository), keyed by a fingerprint of the
images, the budget, the seed and the torch version; the first grading run on a
machine trains it (about 10 s on 2 cores), later runs read it.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder import data
from autograder.repro import loader_kwargs, seed_everything

VERSION = 1


def lenet() -> nn.Sequential:
    """The LeNet-style CNN of the PUC deck (A4): 62,006 parameters."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _tensors(images, labels):
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    x = (x - torch.tensor(data.MEAN).view(1, 3, 1, 1)) / torch.tensor(data.STD).view(1, 3, 1, 1)
    return x, torch.tensor(np.asarray(labels), dtype=torch.int64)


def train_lenet(train, test, *, seed: int, epochs: int, lr: float, batch_size: int, threads: int) -> list[float]:
    """Test accuracy after each epoch of the LeNet trained from scratch on ``train``."""
    seed_everything(seed, threads=threads)
    model = lenet()
    x, y = _tensors(*train)
    x_test, y_test = _tensors(*test)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                         shuffle=True, **loader_kwargs(seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    accuracies = []
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracies.append((model(x_test).argmax(1) == y_test).float().mean().item())
    return accuracies


def fingerprint(train, test, **settings) -> str:
    digest = hashlib.sha256(f"v{VERSION}|torch {torch.__version__}|{sorted(settings.items())}".encode())
    for images, labels in (train, test):
        digest.update(np.ascontiguousarray(images).tobytes())
        digest.update(np.asarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:20]


def baseline(train, test, **settings) -> list[float]:
    """``train_lenet(...)``'s per-epoch accuracies, read from the cache when this exact run was done before."""
    path = data.cache_dir() / f"a6-scratch-{fingerprint(train, test, **settings)}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["test_accuracy"]
    except (OSError, ValueError, KeyError):
        pass
    accuracies = train_lenet(train, test, **settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"settings": settings, "test_accuracy": accuracies}), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass  # a read-only cache only costs time
    return accuracies


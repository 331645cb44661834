"""seed_everything makes runs repeat bit for bit; the GPU comparison skips visibly without a GPU."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from autograder import repro


def draws():
    return random.random(), np.random.rand(3).tolist(), torch.randn(3).tolist()


def tiny_training(seed, device="cpu"):
    """Eight SGD steps of a small CNN on shuffled random data: the loss history."""
    repro.seed_everything(seed, threads=1)
    x, y = torch.randn(64, 3, 8, 8), torch.randint(0, 10, (64,))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(144, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True,
                                         **repro.loader_kwargs(seed))
    losses = []
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb.to(device)), yb.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.fixture(autouse=True)
def restore_torch_state():
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def test_same_seed_same_draws_everywhere():
    repro.seed_everything(7)
    first = draws()
    repro.seed_everything(7)
    assert draws() == first
    repro.seed_everything(8)
    assert draws() != first


def test_settings_applied():
    repro.seed_everything(0, threads=1)
    assert torch.get_num_threads() == 1
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


def test_training_history_is_bit_identical_on_cpu():
    assert tiny_training(3) == tiny_training(3)
    assert tiny_training(3) != tiny_training(4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine: CPU-vs-GPU comparison not run")
def test_cpu_and_gpu_histories_agree_within_tolerance():
    np.testing.assert_allclose(tiny_training(3, "cuda"), tiny_training(3, "cpu"), rtol=1e-4, atol=1e-5)

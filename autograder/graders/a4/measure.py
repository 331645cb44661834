"""The A4 accuracy measurement, shared by the hidden grader and `autograder calibrate a4`.

The grader never trusts the history a submission reports: it evaluates the
returned model on the test set itself, in eval mode, on the student's own
normalized tensors.
"""
from __future__ import annotations

import torch

from autograder import course
from autograder.data import load_cifar10
from autograder.repro import seed_everything

ASSIGNMENT = course.load_assignment("a4")
BUDGET = ASSIGNMENT.budget


def accuracy(model, x, y, device="cpu", batch=1000) -> float:
    """Fraction of correct argmax predictions of ``model`` on (x, y), in eval mode."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch):
            logits = model(x[start:start + batch].to(device))
            correct += (logits.argmax(dim=1).cpu() == y[start:start + batch]).sum().item()
    return correct / len(y)


def train_and_measure(module, train, test, seed: int, on_epoch=None, device="cpu"):
    """Run the submission's ``fit`` under the grader's budget; returns (accuracy, history, model)."""
    seed_everything(seed, threads=BUDGET["threads"])
    model, history = module.fit(*train, *test, epochs=BUDGET["epochs"], lr=BUDGET["lr"],
                                batch_size=BUDGET["batch_size"], device=device, seed=seed, on_epoch=on_epoch)
    x_test, y_test = module.to_tensors(*test)
    return accuracy(model, x_test, y_test, device), history, model


def calibration_data():
    """What every calibration run uses: the real CIFAR-10 (train, test)."""
    return load_cifar10("train"), load_cifar10("test")


def calibrate(module, data, seed: int, on_epoch=None) -> float:
    """One calibration run of the reference solution: its measured test accuracy."""
    return train_and_measure(module, *data, seed, on_epoch)[0]

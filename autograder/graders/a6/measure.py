"""The A6 measurements, shared by the hidden graders and `autograder calibrate a6`.

The grader never trusts the history a submission reports: it evaluates the
returned model (frozen backbone + trained head) on the test subset itself, in
eval mode, on the student's own ``to_tensors`` output.
"""
from __future__ import annotations

import torch

from autograder import backbones, course
from autograder.data import load_cifar10, stratified_indices
from autograder.graders.a6 import scratch
from autograder.repro import seed_everything

ASSIGNMENT = course.load_assignment("a6")
BUDGET = ASSIGNMENT.budget


def subset(train, test):
    """The budget's stratified random subset of (train, test): 500 + 200 images per class."""
    (train_x, train_y), (test_x, test_y) = train, test
    tr = stratified_indices(train_y, per_class=BUDGET["train_per_class"], seed=BUDGET["subset_seed"])
    te = stratified_indices(test_y, per_class=BUDGET["test_per_class"], seed=BUDGET["subset_seed"])
    return (train_x[tr], train_y[tr]), (test_x[te], test_y[te])


def accuracy(model, x, y, device="cpu", batch=500) -> float:
    """Fraction of correct argmax predictions of ``model`` on (x, y), in eval mode."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch):
            logits = model(x[start:start + batch].to(device))
            correct += (logits.argmax(dim=1).cpu() == y[start:start + batch]).sum().item()
    return correct / len(y)


def normalization(name: str):
    """(mean, std) of a backbone, without loading its weights."""
    info = backbones.load_backbone(name, pretrained=False)
    return info.mean, info.std


def train_and_measure(module, train, test, seed: int, on_epoch=None, device="cpu"):
    """Run the submission's ``fit_frozen`` under the budget; returns (accuracy, history, model)."""
    b = BUDGET
    seed_everything(seed, threads=b["threads"])
    model, history = module.fit_frozen(*train, *test, backbone=b["backbone"], size=b["size"], epochs=b["epochs"],
                                       lr=b["lr"], batch_size=b["batch_size"], device=device, seed=seed,
                                       on_epoch=on_epoch)
    mean, std = normalization(b["backbone"])
    x_test, y_test = module.to_tensors(*test, mean, std, b["size"])
    return accuracy(model, x_test, y_test, device), history, model


def scratch_accuracies(train, test, seed: int) -> list[float]:
    """Per-epoch test accuracies of the A4 LeNet from scratch on the same images, epochs and seed."""
    b = BUDGET
    return scratch.baseline(train, test, seed=seed, epochs=b["epochs"], lr=b["scratch_lr"],
                            batch_size=b["batch_size"], threads=b["threads"])


def calibration_data():
    """What every calibration run uses: the budget's subset of the real CIFAR-10."""
    return subset(load_cifar10("train"), load_cifar10("test"))


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference solution: its measured test accuracy ("value"), and
    the best epoch of the LeNet from scratch on the same images and seed, for the record."""
    accuracy = train_and_measure(module, *data, seed, on_epoch)[0]
    return {"value": accuracy, "scratch_best": max(scratch_accuracies(*data, seed=seed))}

"""The A5 overfitting experiment, shared by the hidden grader and `autograder calibrate a5`.

The PUC deck's experiment on a small CIFAR-10 subset: the student's ``fit``
trains the LeNet of A4 twice under the same seed and budget, once plain and
once regularized (L2 penalty, dropout, flips and crops). The grader never
trusts the reported history: it measures each returned model itself, in eval
mode, on the training subset (un-augmented) and on a fixed test subset, with
the normalization of the statement. The calibrated value is the gap
reduction, (plain train - test accuracy) - (regularized train - test accuracy).
"""
from __future__ import annotations

import torch

from autograder import course
from autograder.data import load_cifar10, stratified_indices
from autograder.graders.cifar_oracles import reference_tensors
from autograder.repro import seed_everything

ASSIGNMENT = course.load_assignment("a5")
BUDGET = ASSIGNMENT.budget
SUBSET_SEED = 1  # which images form the subsets; fixed for every submission and every seed


def subsets(train, test):
    """((train images, labels), (test images, labels)): the stratified subsets of the budget."""
    (train_x, train_y), (test_x, test_y) = train, test
    tr = stratified_indices(train_y, per_class=BUDGET["train_per_class"], seed=SUBSET_SEED)
    te = stratified_indices(test_y, per_class=BUDGET["test_per_class"], seed=SUBSET_SEED)
    return (train_x[tr], train_y[tr]), (test_x[te], test_y[te])


def accuracy(model, x, y, batch=1000) -> float:
    """Fraction of correct argmax predictions of ``model`` on (x, y), in eval mode, on the CPU."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch):
            logits = model(x[start:start + batch])
            correct += (logits.argmax(dim=1) == y[start:start + batch]).sum().item()
    return correct / len(y)


VARIANTS = {
    "plain": {},
    "regularized": {"l2": BUDGET["l2"], "dropout": BUDGET["dropout"], "augment": BUDGET["augment"]},
}


def run_variant(module, train, test, seed: int, variant: str, on_epoch=None) -> dict:
    """One budgeted ``fit`` of the submission; the grader's own train and test accuracies."""
    seed_everything(seed, threads=BUDGET["threads"])
    model, history = module.fit(*train, *test, epochs=BUDGET["epochs"], lr=BUDGET["lr"],
                                batch_size=BUDGET["batch_size"], seed=seed, on_epoch=on_epoch,
                                **VARIANTS[variant])
    model = model.cpu()
    train_acc = accuracy(model, *reference_tensors(*train))
    test_acc = accuracy(model, *reference_tensors(*test))
    return {"train": train_acc, "test": test_acc, "gap": train_acc - test_acc, "history": history}


def experiment(module, train, test, seed: int, on_epoch=None) -> dict:
    """Both variants under the same seed and budget; ``reduction`` = plain gap - regularized gap."""
    runs = {name: run_variant(module, train, test, seed, name, on_epoch) for name in VARIANTS}
    runs["reduction"] = runs["plain"]["gap"] - runs["regularized"]["gap"]
    return runs


def calibration_data():
    """What every calibration run uses: the experiment's subsets of the real CIFAR-10."""
    return subsets(load_cifar10("train"), load_cifar10("test"))


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: the gap reduction, with both sides of the comparison."""
    runs = experiment(module, *data, seed, on_epoch)
    plain, regularized = runs["plain"], runs["regularized"]
    return {"value": runs["reduction"], "gap_plain": plain["gap"], "gap_regularized": regularized["gap"],
            "train_plain": plain["train"], "test_plain": plain["test"],
            "train_regularized": regularized["train"], "test_regularized": regularized["test"]}

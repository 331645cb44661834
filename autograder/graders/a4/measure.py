"""The A4 accuracy measurement, shared by the hidden grader and `autograder calibrate a4`.

The student's ``fit`` trains on the training set less a fixed, seeded, stratified
validation split and reports its per-epoch history on that split. The test set
never enters ``fit``: after training, the test images are perturbed with fresh
noise (:func:`~autograder.graders.cifar_oracles.perturb`), sent without labels,
and the logits that come back are scored here.

The same code runs the reference in-process for calibration and the submission
in the student process for grading: ``module`` is the student's module (or its
proxy), ``probes`` the A4 helpers, ``seed_run`` seeds the process that trains.
"""
from __future__ import annotations

import numpy as np

from autograder import course
from autograder.data import load_cifar10, train_val_split
from autograder.graders.cifar_oracles import accuracy_of, perturb

ASSIGNMENT = course.load_assignment("a4")
BUDGET = ASSIGNMENT.budget
PERTURBATION = int(BUDGET["perturbation"])


def split(train):
    """((train images, labels), (validation images, labels)): the fixed split of the budget."""
    images, labels = train
    keep, val = train_val_split(labels, val_per_class=BUDGET["val_per_class"], seed=BUDGET["split_seed"])
    return (images[keep], labels[keep]), (images[val], labels[val])


def train(module, seed_run, train_part, val_part, seed: int, on_epoch=None):
    """The submission's ``fit`` under the grader's budget: (model, history)."""
    seed_run(seed, threads=BUDGET["threads"])
    return module.fit(*train_part, *val_part, epochs=BUDGET["epochs"], lr=BUDGET["lr"],
                      batch_size=BUDGET["batch_size"], device="cpu", seed=seed, on_epoch=on_epoch)


def score(module, probes, model, images: np.ndarray, labels: np.ndarray, what: str) -> float:
    """Accuracy of ``model`` on ``images``, from the logits it returns; ``labels`` stay here."""
    return accuracy_of(probes.logits(module.to_tensors, model, images), labels, what)


def train_and_measure(module, probes, seed_run, cifar, seed: int, perturbation_seed: int, on_epoch=None) -> dict:
    """One budgeted run: the model, its history, and the accuracies the grader measures itself."""
    train_set, (test_images, test_labels) = cifar
    train_part, val_part = split(train_set)
    model, history = train(module, seed_run, train_part, val_part, seed, on_epoch)
    return {"model": model, "history": history,
            "val_accuracy": score(module, probes, model, *val_part, "validation"),
            "test_accuracy": score(module, probes, model, perturb(test_images, perturbation_seed, PERTURBATION),
                                   test_labels, "test")}


def calibration_data():
    """What every calibration run uses: the real CIFAR-10 (train, test)."""
    return load_cifar10("train"), load_cifar10("test")


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: accuracy on perturbed test images (the graded value) and on the
    clean ones (so the perturbation's effect is on record)."""
    from autograder.repro import seed_everything
    from autograder.sandbox.helpers import a4 as probes

    run = train_and_measure(module, probes, seed_everything, data, seed, perturbation_seed=10_000 + seed,
                            on_epoch=on_epoch)
    clean = score(module, probes, run["model"], *data[1], "test")
    return {"value": run["test_accuracy"], "clean": clean, "val_accuracy": run["val_accuracy"],
            "curves": {"graded run": run["history"]}}

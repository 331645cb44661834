"""The A6 measurements, shared by the hidden graders and `autograder calibrate a6`.

The student's ``fit_frozen`` trains on the budget's training subset less a fixed, seeded,
stratified validation split and reports its per-epoch history on that split. The test
subset never enters ``fit_frozen``: after training, its images are perturbed with fresh noise
(:func:`~autograder.graders.cifar_oracles.perturb`), sent without labels, made inputs by the
student's own ``to_tensors``, and the logits that come back are scored here.

The same code runs the reference in-process for calibration and the submission in the
student process for grading: ``module`` is the student's module (or its proxy), ``probes``
the A6 helpers, ``seed_run`` seeds the process that trains.
"""
from __future__ import annotations

import functools

import numpy as np

from autograder import backbones, course
from autograder.data import load_cifar10, stratified_indices, train_val_split
from autograder.graders import cifar_oracles
from autograder.graders.a6 import scratch

ASSIGNMENT = course.load_assignment("a6")
BUDGET = ASSIGNMENT.budget
PERTURBATION = int(BUDGET["perturbation"])


def subset(train, test):
    """The budget's stratified random subset of (train, test): 500 + 200 images per class."""
    (train_x, train_y), (test_x, test_y) = train, test
    tr = stratified_indices(train_y, per_class=BUDGET["train_per_class"], seed=BUDGET["subset_seed"])
    te = stratified_indices(test_y, per_class=BUDGET["test_per_class"], seed=BUDGET["subset_seed"])
    return (train_x[tr], train_y[tr]), (test_x[te], test_y[te])


def split(train):
    """((train images, labels), (validation images, labels)): the fixed split of the training subset."""
    images, labels = train
    keep, val = train_val_split(labels, val_per_class=BUDGET["val_per_class"], seed=BUDGET["split_seed"])
    return (images[keep], labels[keep]), (images[val], labels[val])


@functools.lru_cache(maxsize=None)
def normalization(name: str):
    """(mean, std) of a backbone, without loading its weights."""
    info = backbones.load_backbone(name, pretrained=False)
    return info.mean, info.std


def train(module, seed_run, train_part, val_part, seed: int, on_epoch=None):
    """The submission's ``fit_frozen`` under the grader's budget: (model, history)."""
    b = BUDGET
    seed_run(seed, threads=b["threads"])
    return module.fit_frozen(*train_part, *val_part, backbone=b["backbone"], size=b["size"], epochs=b["epochs"],
                             lr=b["lr"], batch_size=b["batch_size"], device="cpu", seed=seed, on_epoch=on_epoch)


def score(module, probes, model, images: np.ndarray, labels: np.ndarray, what: str) -> float:
    """Accuracy of ``model`` on ``images`` through the student's ``to_tensors``, from the logits it returns;
    ``labels`` stay here."""
    mean, std = normalization(BUDGET["backbone"])
    return cifar_oracles.accuracy_of(probes.logits(module.to_tensors, model, images, mean, std, BUDGET["size"]),
                                     labels, what)


def train_and_measure(module, probes, seed_run, graded, seed: int, perturbation_seed: int, on_epoch=None) -> dict:
    """One budgeted run on ``graded`` (the budget's subset): the model, its history, and the accuracies the
    grader measures itself on the validation split and on the perturbed test subset."""
    train_set, (test_images, test_labels) = graded
    train_part, val_part = split(train_set)
    model, history = train(module, seed_run, train_part, val_part, seed, on_epoch)
    perturbed = cifar_oracles.perturb(test_images, perturbation_seed, PERTURBATION)
    return {"model": model, "history": history,
            "val_accuracy": score(module, probes, model, *val_part, "validation"),
            "test_accuracy": score(module, probes, model, perturbed, test_labels, "test")}


def scratch_accuracies(train_set, test, seed: int) -> list[float]:
    """Per-epoch test accuracies of the A4 LeNet from scratch on the same training images (the validation split
    held out as for transfer), epochs and seed. Trained here, by the grader; cached."""
    b = BUDGET
    train_part, _ = split(train_set)
    return scratch.baseline(train_part, test, seed=seed, epochs=b["epochs"], lr=b["scratch_lr"],
                            batch_size=b["batch_size"], threads=b["threads"])


def calibration_data():
    """What every calibration run uses: the budget's subset of the real CIFAR-10."""
    return subset(load_cifar10("train"), load_cifar10("test"))


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: accuracy on the perturbed test subset (the graded value) and on
    the clean one (so the perturbation's effect is on record), the validation accuracy, and the best epoch
    of the LeNet from scratch on the same images and seed."""
    from autograder.repro import seed_everything
    from autograder.sandbox.helpers import a6 as probes

    run = train_and_measure(module, probes, seed_everything, data, seed, perturbation_seed=10_000 + seed,
                            on_epoch=on_epoch)
    clean = score(module, probes, run["model"], *data[1], "test")
    return {"value": run["test_accuracy"], "clean": clean, "val_accuracy": run["val_accuracy"],
            "curves": {"graded run": run["history"]},
            "scratch_best": max(scratch_accuracies(data[0], data[1], seed=seed))}

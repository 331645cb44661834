"""The A5 overfitting experiment, shared by the hidden grader and `autograder calibrate a5`.

The PUC deck's experiment on a small CIFAR-10 subset: the student's ``fit``
trains the LeNet of A4 twice under the same seed and budget, once plain and
once regularized (L2 penalty, dropout, flips and crops), with a validation
split carved from the training images for its history. The test images never
enter ``fit``. The grader measures each returned model itself: the student
process sends back logits, for the training subset (un-augmented), the
validation split and the test subset with every pixel moved by fresh noise
(:func:`~autograder.graders.cifar_oracles.perturb`); the labels stay here.
The calibrated value is the gap reduction,
(plain train - test accuracy) - (regularized train - test accuracy).

``module`` is the student's module (or its proxy), ``probes`` the A5 helpers
(:mod:`autograder.sandbox.helpers.a5`), ``seed_run`` seeds the process that trains.
"""
from __future__ import annotations

from autograder import course
from autograder.data import load_cifar10, stratified_indices, train_val_split
from autograder.graders.cifar_oracles import accuracy_of, perturb, reference_tensors

ASSIGNMENT = course.load_assignment("a5")
BUDGET = ASSIGNMENT.budget
SUBSET_SEED = 1  # which images form the subsets; fixed for every submission and every seed

VARIANTS = {
    "plain": {},
    "regularized": {"l2": BUDGET["l2"], "dropout": BUDGET["dropout"], "augment": BUDGET["augment"]},
}


def subsets(train, test):
    """(train, validation, test), each (uint8 images (N, 32, 32, 3), labels (N,)): stratified subsets of
    the budget; the validation split comes from the training images and is disjoint from the training subset."""
    (train_x, train_y), (test_x, test_y) = train, test
    pool = stratified_indices(train_y, per_class=BUDGET["train_per_class"] + BUDGET["val_per_class"], seed=SUBSET_SEED)
    keep, val = train_val_split(train_y[pool], val_per_class=BUDGET["val_per_class"], seed=SUBSET_SEED)
    te = stratified_indices(test_y, per_class=BUDGET["test_per_class"], seed=SUBSET_SEED)
    return (train_x[pool][keep], train_y[pool][keep]), (train_x[pool][val], train_y[pool][val]), (test_x[te], test_y[te])


def score(probes, model, images, labels, what: str) -> float:
    """Accuracy of ``model`` on uint8 ``images``, normalized here, from the logits the student process returns."""
    return accuracy_of(probes.logits(model, reference_tensors(images, labels)[0]), labels, what)


def run_variant(module, probes, seed_run, data, seed: int, variant: str, perturbation_seed: int,
                on_epoch=None) -> dict:
    """One budgeted ``fit`` of the submission; the grader's own train, validation and test accuracies.
    ``on_epoch`` (calibration's progress, in process) goes to ``fit``; a grading run passes None."""
    train, val, (test_images, test_labels) = data
    seed_run(seed, threads=BUDGET["threads"])
    model, history = module.fit(*train, *val, epochs=BUDGET["epochs"], lr=BUDGET["lr"],
                                batch_size=BUDGET["batch_size"], seed=seed, on_epoch=on_epoch, **VARIANTS[variant])
    train_acc = score(probes, model, *train, "training")
    test_acc = score(probes, model, perturb(test_images, perturbation_seed, BUDGET["perturbation"]), test_labels, "test")
    return {"model": model, "history": history, "train": train_acc, "test": test_acc, "gap": train_acc - test_acc,
            "val": score(probes, model, *val, "validation")}


def experiment(module, probes, seed_run, data, seed: int, perturbation_seed: int, on_variant=None,
               on_epoch=None) -> dict:
    """Both variants under the same seed and budget; ``reduction`` = plain gap - regularized gap."""
    runs = {}
    for name in VARIANTS:
        runs[name] = run_variant(module, probes, seed_run, data, seed, name, perturbation_seed, on_epoch)
        if on_variant is not None:
            on_variant(name)
    runs["reduction"] = runs["plain"]["gap"] - runs["regularized"]["gap"]
    return runs


def calibration_data():
    """What every calibration run uses: the experiment's subsets of the real CIFAR-10."""
    return subsets(load_cifar10("train"), load_cifar10("test"))


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: the gap reduction, with both sides of the comparison and the
    regularized model's accuracy on the clean test images (the perturbation's effect, on record)."""
    from autograder.repro import seed_everything
    from autograder.sandbox.helpers import a5 as probes

    runs = experiment(module, probes, seed_everything, data, seed, perturbation_seed=10_000 + seed, on_epoch=on_epoch)
    plain, regularized = runs["plain"], runs["regularized"]
    return {"value": runs["reduction"], "gap_plain": plain["gap"], "gap_regularized": regularized["gap"],
            "train_plain": plain["train"], "test_plain": plain["test"],
            "train_regularized": regularized["train"], "test_regularized": regularized["test"],
            "clean_test_plain": score(probes, plain["model"], *data[2], "test"),
            "clean_test_regularized": score(probes, regularized["model"], *data[2], "test"),
            "curves": {"plain": plain["history"], "regularized": regularized["history"]}}

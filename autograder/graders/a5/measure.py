"""The A5 overfitting experiment, shared by the hidden grader and `autograder calibrate a5`.

The PUC deck's experiment on a small CIFAR-10 subset: the student's ``fit`` trains the LeNet of A4 twice
under the same seed and budget, once plain and once regularized (L2 penalty, dropout, flips and crops), with a
validation split carved from the training images for its history. The test images never enter ``fit`` and no
graded image ever reaches the student's forward pass: each returned model's state comes back as plain tensors
(``helpers("common").state``), is loaded into the grader's own LeNet
(:func:`~autograder.graders.trusted_models.deck_lenet`) and evaluated here on the training subset
(un-augmented), the validation split and the test subset with every pixel moved by fresh noise
(:func:`~autograder.graders.cifar_oracles.perturb`). Each run is recorded next to the student's code
(``helpers("a5").start_recording``) and checked here by :func:`autograder.graders.a5.proof.verify`, which
replays parts of it with the statement's update rule (plain SGD; or cross-entropy + L2, the recorded dropout
masks and the recorded flips and crops): a baseline or a "regularized" run that is not that training earns
nothing. The calibrated value is the gap reduction,
(plain train - test accuracy) - (regularized train - test accuracy).

``module`` is the student's module (or its proxy), ``helpers(name)`` the sandbox helper module ``name`` (run
next to the student's code), ``seed_run`` seeds the process that trains.
"""
from __future__ import annotations

import importlib

from autograder import calibrate as calibration_rules
from autograder import course
from autograder.data import MEAN, STD, load_cifar10, stratified_indices, train_val_split
from autograder.feedback import T, fail
from autograder.graders import trusted_models
from autograder.graders.a5 import proof as training_proof
from autograder.graders.cifar_oracles import perturb, reference_tensors

ASSIGNMENT = course.load_assignment("a5")
BUDGET = ASSIGNMENT.budget
PROOF = ASSIGNMENT.proof
SUBSET_SEED = 1  # which images form the subsets; fixed for every submission and every seed
PADDING = 4      # random_crop's padding in fit
MOMENTUM = 0.9   # fit's SGD

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


def fit_result(result, call: str = "fit(...)"):
    """(model, history) from what ``fit`` returned, or a failure saying what came back instead."""
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("{c} returned {v!r}; expected a tuple (model, history).",
               "{c} devolvió {v!r}; se esperaba una tupla (model, history).").format(c=call, v=result))
    return result


def trusted_model(helpers, model, dropout: float = 0.0, call: str = "fit(...)"):
    """The grader's LeNet (with ``dropout``) loaded with the state of the student's trained ``model``."""
    return trusted_models.load_state(trusted_models.deck_lenet(dropout), helpers("common").state(model), call,
                                     "the LeNet of the statement")


def accuracy(net, images, labels) -> float:
    """Accuracy of the grader's network ``net`` on uint8 ``images``, normalized here as the statement says."""
    return trusted_models.accuracy(net, reference_tensors(images, labels)[0], labels)


def recorded_fit(module, helpers, train, val, **kwargs):
    """``module.fit(*train, *val, **kwargs)``, called by the grader with the optimizer steps of the student process
    recorded: (what it returned, the record)."""
    recording = helpers("a5").start_recording(train[0], MEAN, STD, PROOF.get("every", 8), PADDING)
    try:
        result = module.fit(*train, *val, **kwargs)
    finally:
        record = helpers("a5").finish_recording(recording)
    return result, record


def prove(record, net, train, *, epochs, batch_size, lr, l2=0.0, dropout=0.0, augment=False,
          call: str = "fit(...)") -> training_proof.Proof:
    """:func:`autograder.graders.a5.proof.verify` of ``record`` for the graded model ``net`` trained on ``train``."""
    return training_proof.verify(record, images=train[0], labels=train[1], final_params=list(net.parameters()),
                                 epochs=epochs, batch_size=batch_size, lr=lr, momentum=MOMENTUM, l2=l2,
                                 dropout=dropout, augment=augment, padding=PADDING,
                                 random_segments=PROOF.get("random_segments", 6),
                                 largest_segments=PROOF.get("largest_segments", 2), call=call)


PROOF_HINT = T("fit must train build_lenet(dropout) from a fresh initialization with SGD (the lr it is given, momentum "
               "0.9), one l2_training_step(..., lam=l2) per batch of the training images it is given (flipped then "
               "cropped with random_crop(..., padding=4) when augment), for the given epochs, and return that model.",
               "fit debe entrenar build_lenet(dropout) desde una inicialización nueva con SGD (el lr recibido, "
               "momentum 0.9), un l2_training_step(..., lam=l2) por batch de las imágenes de entrenamiento recibidas "
               "(volteadas y luego recortadas con random_crop(..., padding=4) si augment), durante las épocas "
               "indicadas, y devolver ese modelo.")


def run_variant(module, helpers, seed_run, data, seed: int, variant: str, perturbation_seed: int,
                on_epoch=None) -> dict:
    """One budgeted, recorded ``fit`` of the submission; its proof and the grader's own train, validation and
    test accuracies of its model. ``on_epoch`` (calibration's progress, in process) goes to ``fit``."""
    train, val, (test_images, test_labels) = data
    options = VARIANTS[variant]
    seed_run(seed, threads=BUDGET["threads"])
    call = f"fit(...) ({variant})"
    result, record = recorded_fit(module, helpers, train, val, epochs=BUDGET["epochs"], lr=BUDGET["lr"],
                                  batch_size=BUDGET["batch_size"], seed=seed, on_epoch=on_epoch, **options)
    model, history = fit_result(result, call)
    net = trusted_model(helpers, model, options.get("dropout", 0.0), call)
    train_acc = accuracy(net, *train)
    test_acc = accuracy(net, perturb(test_images, perturbation_seed, BUDGET["perturbation"]), test_labels)
    return {"model": model, "net": net, "history": history, "train": train_acc, "test": test_acc,
            "gap": train_acc - test_acc, "val": accuracy(net, *val),
            "proof": prove(record, net, train, epochs=BUDGET["epochs"], batch_size=BUDGET["batch_size"],
                           lr=BUDGET["lr"], call=call, **options)}


def experiment(module, helpers, seed_run, data, seed: int, perturbation_seed: int, on_variant=None,
               on_epoch=None) -> dict:
    """Both variants under the same seed and budget; ``reduction`` = plain gap - regularized gap."""
    runs = {}
    for name in VARIANTS:
        runs[name] = run_variant(module, helpers, seed_run, data, seed, name, perturbation_seed, on_epoch)
        if on_variant is not None:
            on_variant(name)
    runs["reduction"] = runs["plain"]["gap"] - runs["regularized"]["gap"]
    return runs


def bands(calibrated: dict) -> dict:
    """The rule's bounds from the calibrated seeds, each a prediction bound at the calibrated false-failure rate:
    ``plain_gap_cap`` (the most a plain gap may count for: mean + margin over the seeds' plain gaps) and
    ``test_floor`` (the least test accuracy of the regularized model)."""
    ff = calibrated["false_failure"]
    gaps = calibrated["gap_plain"]
    low, _ = calibration_rules.prediction_bound(gaps, ff)
    mean = sum(gaps) / len(gaps)
    return {"plain_gap_cap": 2 * mean - low,
            "test_floor": calibration_rules.prediction_bound(calibrated["test_regularized"], ff)[0]}


def calibration_data():
    """What every calibration run uses: the experiment's subsets of the real CIFAR-10."""
    return subsets(load_cifar10("train"), load_cifar10("test"))


def local_helpers(name: str):
    """The sandbox helper module ``name``, imported in this process (calibration runs the reference here)."""
    return importlib.import_module(f"autograder.sandbox.helpers.{name}")


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: the gap reduction, with both sides of the comparison and the
    regularized model's accuracy on the clean test images (the perturbation's effect, on record)."""
    from autograder.repro import seed_everything

    runs = experiment(module, local_helpers, seed_everything, data, seed, perturbation_seed=10_000 + seed,
                      on_epoch=on_epoch)
    plain, regularized = runs["plain"], runs["regularized"]
    return {"value": runs["reduction"], "gap_plain": plain["gap"], "gap_regularized": regularized["gap"],
            "train_plain": plain["train"], "test_plain": plain["test"],
            "train_regularized": regularized["train"], "test_regularized": regularized["test"],
            "clean_test_plain": accuracy(plain["net"], *data[2]),
            "clean_test_regularized": accuracy(regularized["net"], *data[2]),
            "proof_ok": plain["proof"].ok and regularized["proof"].ok,
            "curves": {"plain": plain["history"], "regularized": regularized["history"]}}

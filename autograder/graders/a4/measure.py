"""The A4 accuracy measurement, shared by the hidden grader and `autograder calibrate a4`.

The student's ``fit`` trains on the training set less a fixed, seeded, stratified validation split and
reports its per-epoch history on that split, with its optimizer steps recorded
(:mod:`autograder.sandbox.helpers.training`). The student's forward pass never sees a graded image: the
trained model's state comes back as plain tensors, is loaded into the grader's own LeNet
(:func:`~autograder.graders.trusted_models.deck_lenet`) and evaluated here, on the validation split and on
the test images perturbed with fresh noise (:func:`~autograder.graders.cifar_oracles.perturb`). The record
is checked by :func:`~autograder.graders.training_proof.verify`: weights not trained on the data given earn
no accuracy points.

The same code runs the reference in-process for calibration and the submission in the student process for
grading: ``module`` is the student's module (or its proxy), ``helpers(name)`` the sandbox helper module
``name`` (run next to the student's code), ``seed_run`` seeds the process that trains.
"""
from __future__ import annotations

import importlib

from autograder import course
from autograder.data import MEAN, STD, load_cifar10, train_val_split
from autograder.feedback import T, fail
from autograder.graders import trusted_models, training_proof
from autograder.graders.cifar_oracles import perturb, reference_tensors

ASSIGNMENT = course.load_assignment("a4")
BUDGET = ASSIGNMENT.budget
PERTURBATION = int(BUDGET["perturbation"])
PROOF = ASSIGNMENT.proof
CALL = "fit(...)"


def split(train):
    """((train images, labels), (validation images, labels)): the fixed split of the budget."""
    images, labels = train
    keep, val = train_val_split(labels, val_per_class=BUDGET["val_per_class"], seed=BUDGET["split_seed"])
    return (images[keep], labels[keep]), (images[val], labels[val])


def fit_result(result):
    """(model, history) from what ``fit`` returned, or a failure saying what came back instead."""
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("fit returned {v!r}; expected a tuple (model, history).",
               "fit devolvió {v!r}; se esperaba una tupla (model, history).").format(v=result))
    return result


def recorded(helpers, images, call):
    """``call()`` with the optimizer steps of the student process recorded: (what it returned, the record).
    The grader calls the student's function itself; the helper only watches."""
    recording = helpers("training").start(images, MEAN, STD, PROOF.get("every", 8))
    try:
        result = call()
    finally:
        record = helpers("training").finish(recording)
    return result, record


def train(module, helpers, seed_run, train_part, val_part, seed: int, on_epoch=None):
    """The submission's ``fit`` under the grader's budget, recorded: (model, history, record)."""
    seed_run(seed, threads=BUDGET["threads"])
    result, record = recorded(helpers, train_part[0], lambda: module.fit(
        *train_part, *val_part, epochs=BUDGET["epochs"], lr=BUDGET["lr"], batch_size=BUDGET["batch_size"],
        device="cpu", seed=seed, on_epoch=on_epoch))
    model, history = fit_result(result)
    return model, history, record


def trusted_model(helpers, model):
    """The grader's LeNet loaded with the state of the student's trained ``model``."""
    return trusted_models.load_state(trusted_models.deck_lenet(), helpers("common").state(model), CALL,
                                     "the LeNet of the statement")


PROOF_HINT = T("fit must train build_lenet(dropout) from a fresh initialization, with SGD (the lr it is given, momentum "
               "0.9) on the training images it is given, one optimizer step per batch, for the given epochs, and "
               "return that model.",
               "fit debe entrenar build_lenet(dropout) desde una inicialización nueva, con SGD (el lr recibido, momentum "
               "0.9) sobre las imágenes de entrenamiento recibidas, un paso del optimizador por batch, durante las "
               "épocas indicadas, y devolver ese modelo.")


def prove(record, net, train_part, epochs=BUDGET["epochs"], batch_size=BUDGET["batch_size"],
          lr=BUDGET["lr"]) -> training_proof.Proof:
    """:func:`training_proof.verify` of ``record`` for the graded model ``net`` trained on ``train_part``."""
    images, labels = train_part
    return training_proof.verify(
        record, build=trusted_models.deck_lenet, images=images, mean=MEAN, std=STD,
        labels=reference_tensors(images[:1], labels)[1], n_train=len(labels), final_params=list(net.parameters()),
        epochs=epochs, batch_size=batch_size, lr=lr, momentum=0.9,
        random_segments=PROOF.get("random_segments", 6), largest_segments=PROOF.get("largest_segments", 2), call=CALL)


def train_and_measure(module, helpers, seed_run, cifar, seed: int, perturbation_seed: int, on_epoch=None) -> dict:
    """One budgeted run: the model, its history, the training proof, and the accuracies the grader measures
    itself with its own LeNet loaded with the trained weights."""
    train_set, (test_images, test_labels) = cifar
    train_part, val_part = split(train_set)
    model, history, record = train(module, helpers, seed_run, train_part, val_part, seed, on_epoch)
    net = trusted_model(helpers, model)
    return {"model": model, "history": history, "proof": prove(record, net, train_part),
            "val_accuracy": trusted_models.accuracy(net, reference_tensors(*val_part)[0], val_part[1]),
            "test_accuracy": trusted_models.accuracy(
                net, reference_tensors(perturb(test_images, perturbation_seed, PERTURBATION), test_labels)[0],
                test_labels)}


def calibration_data():
    """What every calibration run uses: the real CIFAR-10 (train, test)."""
    return load_cifar10("train"), load_cifar10("test")


def local_helpers(name: str):
    """The sandbox helper module ``name``, imported in this process (calibration runs the reference here)."""
    return importlib.import_module(f"autograder.sandbox.helpers.{name}")


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: accuracy on perturbed test images (the graded value) and on the
    clean ones (so the perturbation's effect is on record)."""
    from autograder.repro import seed_everything

    run = train_and_measure(module, local_helpers, seed_everything, data, seed, perturbation_seed=10_000 + seed,
                            on_epoch=on_epoch)
    net = trusted_model(local_helpers, run["model"])
    clean = trusted_models.accuracy(net, reference_tensors(*data[1])[0], data[1][1])
    return {"value": run["test_accuracy"], "clean": clean, "val_accuracy": run["val_accuracy"],
            "curves": {"graded run": run["history"]}, "proof_ok": run["proof"].ok}

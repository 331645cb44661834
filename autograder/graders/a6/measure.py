"""The A6 measurements, shared by the hidden graders and `autograder calibrate a6`.

The student's ``fit_frozen`` trains on the budget's training subset less a fixed, seeded,
stratified validation split and reports its per-epoch history on that split. No graded image
(validation or test) is ever given to student code: the returned model's state comes back as
plain tensors (``helpers("common").state``), is checked against the grader's own pristine
EfficientNet-Lite0 with a 10-class head, loaded into that copy (built here, :mod:`.trusted`) and
evaluated here, on the validation split and on the test subset perturbed with fresh noise
(:func:`~autograder.graders.cifar_oracles.perturb`), with the statement's preprocessing
computed here. The backbone tensors of the returned state are compared, bit for bit, with the
grader's pristine copy: the evidence that the backbone stayed frozen. The run is recorded
(``helpers("a6").start_recording``) and checked by :func:`autograder.graders.a6.proof.verify`: a head not
trained here, from a fresh initialization, on the features of the images given earns no accuracy points.

The same code runs the reference in-process for calibration and the submission in the
student process for grading: ``module`` is the student's module (or its proxy), ``helpers(name)``
the sandbox helper module ``name``, ``seed_run`` seeds the process that trains.
"""
from __future__ import annotations

import functools
import importlib
import math

import numpy as np
import torch

from autograder import backbones, course
from autograder.data import load_cifar10, stratified_indices, train_val_split
from autograder.graders import cifar_oracles
from autograder.graders.training_proof import single_threaded_map
from autograder.feedback import T, fail
from autograder.graders.a6 import proof as training_proof
from autograder.graders.a6 import scratch, trusted

ASSIGNMENT = course.load_assignment("a6")
BUDGET = ASSIGNMENT.budget
PERTURBATION = int(BUDGET["perturbation"])
HEAD = "classifier"  # EfficientNet-Lite0's head attribute
PROOF = ASSIGNMENT.proof


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
    result = module.fit_frozen(*train_part, *val_part, backbone=b["backbone"], size=b["size"], epochs=b["epochs"],
                               lr=b["lr"], batch_size=b["batch_size"], device="cpu", seed=seed, on_epoch=on_epoch)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("fit_frozen returned {v!r}; expected a tuple (model, history).",
               "fit_frozen devolvió {v!r}; se esperaba una tupla (model, history).").format(v=result))
    return result


CALL = "fit_frozen(...)"


@functools.lru_cache(maxsize=None)
def num_features(name: str) -> int:
    """What a backbone gives its head per image, without loading its weights."""
    return backbones.load_backbone(name, pretrained=False).num_features


def recorded_train(module, helpers, seed_run, train_part, val_part, seed: int, on_epoch=None):
    """:func:`train` with fit_frozen's feature extraction and optimizer steps recorded in the student process
    (``helpers("a6").start_recording``): ((model, history), the record). The helper only watches."""
    mean, std = normalization(BUDGET["backbone"])
    recording = helpers("a6").start_recording(train_part[0], mean, std, num_features(BUDGET["backbone"]),
                                              PROOF.get("every", 2))
    try:
        result = train(module, seed_run, train_part, val_part, seed, on_epoch)
    finally:
        record = helpers("a6").finish_recording(recording)
    return result, record


class TrustedFeatures:
    """``features_of(index)``: the grader's own features (B, F) of training images ``index`` (an index array), as
    the statement's frozen backbone gives them to its head: the statement's preprocessing computed here, the
    grader's pristine backbone with its head replaced by nn.Identity(), eval mode, no autograd, one intra-op thread
    (as the student process computes them; a large request is split over two such threads). Each image's
    features are computed once."""

    def __init__(self, images: np.ndarray, preprocessing=None):
        self.images, self.rows = images, {}
        self.model = None
        self.mean, self.std = normalization(BUDGET["backbone"])
        self.size = BUDGET["size"]
        if preprocessing is not None:  # the student's own constants, as recorded (to_tensors costs its own points)
            self.mean, self.std, self.size = preprocessing

    def __call__(self, index: np.ndarray) -> torch.Tensor:
        missing = [int(i) for i in dict.fromkeys(np.asarray(index).tolist()) if int(i) not in self.rows]
        if missing:
            if self.model is None:
                built = trusted.backbone(BUDGET["backbone"])
                setattr(built.model, built.head, torch.nn.Identity())
                self.model = built.model.eval()
            halves = [missing[:len(missing) // 2], missing[len(missing) // 2:]] if len(missing) >= 64 else [missing]
            for part, computed in zip(halves, single_threaded_map(self._features, halves)):
                self.rows.update(zip(part, computed))
        return torch.stack([self.rows[int(i)] for i in np.asarray(index)])

    def _features(self, rows: list[int]) -> torch.Tensor:
        with torch.no_grad():
            return self.model(cifar_oracles.reference_tensors(
                self.images[rows], np.zeros(len(rows), dtype=np.int64), self.mean, self.std, self.size)[0])


PROOF_HINT = T("fit_frozen must train the new head from a fresh initialization with make_optimizer(model, lr) (Adam, "
               "the lr it is given) on the features extract_features computes for the training images it is given, "
               "one optimizer step per batch of shuffled features, for the given epochs, and return that model.",
               "fit_frozen debe entrenar la cabeza nueva desde una inicialización nueva con make_optimizer(model, lr) "
               "(Adam, el lr recibido) sobre las características que extract_features calcula para las imágenes de "
               "entrenamiento recibidas, un paso del optimizador por batch de características barajadas, durante las "
               "épocas indicadas, y devolver ese modelo.")


def preprocessing_of(record):
    """(mean, std, size) of the inputs the recorded features were computed from, where the record shows other ones
    than the statement's (a per-channel affine map fitted in the student process, or another size), else None. A
    record that shows nothing readable gets the statement's: then the replay decides."""
    value = record.get("preprocessing") if isinstance(record, dict) else None
    mean, std = normalization(BUDGET["backbone"])
    if not (isinstance(value, dict) and all(isinstance(value.get(k), list) and len(value[k]) == 3 and all(
            isinstance(v, float) and math.isfinite(v) for v in value[k]) for k in ("mean", "std"))
            and all(v > 0 for v in value["std"]) and isinstance(value.get("size"), int) and 8 <= value["size"] <= 256):
        return None
    same = all(abs(a - b) < 1e-6 for a, b in zip(value["mean"] + value["std"], list(mean) + list(std)))
    if same and value["size"] == BUDGET["size"]:
        return None
    return (tuple(mean), tuple(std)) if same else (tuple(value["mean"]), tuple(value["std"])), value["size"]


def _flat_preprocessing(found):
    return None if found is None else (*found[0], found[1])


def prove(record, net, train_part, epochs=BUDGET["epochs"], batch_size=BUDGET["batch_size"],
          lr=BUDGET["lr"]) -> training_proof.Proof:
    """:func:`autograder.graders.a6.proof.verify` of ``record`` for the graded network ``net`` (the grader's own,
    loaded with the returned state) trained on ``train_part``."""
    images, labels = train_part
    head = getattr(net, HEAD)
    return training_proof.verify(
        record, features_of=TrustedFeatures(images, _flat_preprocessing(preprocessing_of(record))), labels=torch.as_tensor(np.asarray(labels), dtype=torch.int64),
        n_train=len(labels), final_head=[head.weight.detach(), head.bias.detach()], epochs=epochs,
        batch_size=batch_size, lr=lr, random_segments=PROOF.get("random_segments", 3),
        largest_segments=PROOF.get("largest_segments", 1), call=CALL)


def trusted_model(helpers, model):
    """The grader's own EfficientNet-Lite0 with a 10-class head, loaded with the state of the returned ``model``
    (fetched as plain tensors), and that state as a dict."""
    state = helpers("common").state(model)
    return trusted.load_returned(BUDGET["backbone"], state, CALL), trusted.as_dict(state)


def inputs(images: np.ndarray, labels) -> torch.Tensor:
    """The statement's inputs for ``images``, computed here: resized to the budget's size, the backbone's mean/std."""
    mean, std = normalization(BUDGET["backbone"])
    return cifar_oracles.reference_tensors(images, labels, mean, std, BUDGET["size"])[0]


def score(net, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the grader's network ``net`` on ``images``, 250 at a time (the trusted side's memory); the
    labels never leave this process."""
    correct = 0
    for start in range(0, len(labels), 250):
        part = slice(start, start + 250)
        correct += round(trusted.accuracy(net, inputs(images[part], labels[part]), labels[part]) * len(labels[part]))
    return correct / len(labels)


def train_and_measure(module, helpers, seed_run, graded, seed: int, perturbation_seed: int, on_epoch=None) -> dict:
    """One budgeted run on ``graded`` (the budget's subset), recorded: the model, its history, the backbone
    tensors that differ from the grader's pristine copy, the training proof (:func:`prove`), and the accuracies the grader measures itself, with its own network
    loaded with the returned state, on the validation split and on the perturbed test subset."""
    train_set, (test_images, test_labels) = graded
    train_part, val_part = split(train_set)
    (model, history), record = recorded_train(module, helpers, seed_run, train_part, val_part, seed, on_epoch)
    net, state = trusted_model(helpers, model)
    perturbed = cifar_oracles.perturb(test_images, perturbation_seed, PERTURBATION)
    return {"model": model, "history": history, "net": net,
            "moved": trusted.differing(trusted.pristine_state(BUDGET["backbone"]), state, skip=HEAD),
            "proof": trusted.without_autograd_threads(lambda: prove(record, net, train_part)),
            "val_accuracy": score(net, *val_part), "test_accuracy": score(net, perturbed, test_labels)}


def scratch_accuracies(train_set, test, seed: int) -> list[float]:
    """Per-epoch test accuracies of the A4 LeNet from scratch on the same training images (the validation split
    held out as for transfer), epochs and seed. Trained here, by the grader; cached."""
    b = BUDGET
    train_part, _ = split(train_set)
    return scratch.baseline(train_part, test, seed=seed, epochs=b["epochs"], lr=b["scratch_lr"],
                            batch_size=b["batch_size"], threads=b["threads"])


# Valid design choices the statement leaves open, calibrated beside the reference (``autograder calibrate a6``):
# the pass mark is the lowest of their prediction bounds. The new head's initialisation is free: PyTorch's
# default (the reference), Xavier/Glorot as in d2l's fine-tuning chapter, or zeros.
_HEAD = "    head = replace_head(pretrained, 10)\n"
CALIBRATION_VARIANTS = {
    "xavier_head": [(_HEAD, _HEAD + "    nn.init.xavier_uniform_(head.weight)\n"
                            "    nn.init.zeros_(head.bias)\n")],
    "zero_head": [(_HEAD, _HEAD + "    nn.init.zeros_(head.weight)\n"
                          "    nn.init.zeros_(head.bias)\n")],
}


def calibration_data():
    """What every calibration run uses: the budget's subset of the real CIFAR-10."""
    return subset(load_cifar10("train"), load_cifar10("test"))


def local_helpers(name: str):
    """The sandbox helper module ``name``, imported in this process (calibration runs the reference here)."""
    return importlib.import_module(f"autograder.sandbox.helpers.{name}")


def calibrate(module, data, seed: int, on_epoch=None) -> dict:
    """One calibration run of the reference: accuracy on the perturbed test subset (the graded value) and on
    the clean one (so the perturbation's effect is on record), the validation accuracy, and the best epoch
    of the LeNet from scratch on the same images and seed."""
    from autograder.repro import seed_everything

    run = train_and_measure(module, local_helpers, seed_everything, data, seed, perturbation_seed=10_000 + seed,
                            on_epoch=on_epoch)
    clean = score(run["net"], *data[1])
    return {"value": run["test_accuracy"], "clean": clean, "val_accuracy": run["val_accuracy"],
            "curves": {"graded run": run["history"]},
            "scratch_best": max(scratch_accuracies(data[0], data[1], seed=seed))}

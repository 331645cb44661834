"""The A5 graders graded on the real CIFAR-10: reference, template, the classic regularization bugs, and a
"regularized" model that looks the public test images up instead of learning."""
from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

from autograder import api, calibrate, course, data, pages, report
from autograder.graders.a5 import measure
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, failed_functions, public_test_label_table, reference_source,
                      write_submission)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    data.detect_layout(data.cifar10_root()) is None,
    reason="real CIFAR-10 not found: set CIFAR10_ROOT (.ci/run extracts ../shared/datasets/cifar10-jpeg.tar.xz)")]
REFERENCE = reference_source("a5", "regularization")
A5 = course.load_assignment("a5")
POINTS = {**A5.points("public"), **A5.points("hidden")}

MUTANTS = {
    "penalty_includes_biases": (
        [("    weights = weight_parameters(model)\n    if not weights:", "    weights = list(model.parameters())\n    if not weights:")],
        {"test_penalty_of_a_small_network", "test_penalty_gradients_are_two_lambda_w",
         "test_explicit_penalty_step_matches_weight_decay", "test_weights_exclude_biases_and_batchnorm",
         "test_penalty_gradient_values", "test_explicit_step_equals_torch_weight_decay_with_momentum",
         # fit's regularized runs then penalize the biases too: not the statement's L2, their replay fails
         "test_fit_is_reproducible_with_the_same_seed", "test_regularization_narrows_the_train_test_gap_on_cifar10"},
    ),
    "weight_decay_lambda_instead_of_two_lambda": (
        [('"weight_decay": 2 * lam}', '"weight_decay": lam}')],
        {"test_weight_decay_optimizer_groups", "test_weight_decay_optimizer_equals_explicit_penalty"},
    ),
    "dropout_without_the_inverse_scaling": (
        [("    return x * keep / (1 - p)\n", "    return x * keep\n")],
        # fit's regularized run then is not the statement's training (inverted dropout): its replay fails
        {"test_dropout_train_and_eval", "test_dropout_preserves_the_expected_activation",
         "test_regularization_narrows_the_train_test_gap_on_cifar10", "test_fit_is_reproducible_with_the_same_seed"},
    ),
    "dropout_active_in_eval": (
        [("    if not training or p == 0:\n", "    if p == 0:\n")],
        {"test_dropout_train_and_eval", "test_dropout_is_the_identity_in_eval",
         "test_reported_accuracies_match_the_graders_evaluation"},
    ),
    "early_stopping_keeps_the_last_weights": (
        [("            model.load_state_dict(self.best_state)\n", "            pass\n")],
        {"test_early_stopping_on_a_scripted_curve", "test_early_stopping_restores_the_best_weights",
         "test_fit_early_stopping_keeps_the_best_validation_model"},
    ),
    "fit_ignores_dropout_and_augmentation": (  # only the L2 penalty is left: the gap barely shrinks
        [("    model = build_lenet(dropout).to(device)\n", "    model = build_lenet().to(device)\n"),
         ("            if augment:\n", "            if False:\n")],
        # and its regularized runs are not the statement's (no dropout masks, no flips): their records say so
        {"test_regularization_narrows_the_train_test_gap_on_cifar10", "test_fit_is_reproducible_with_the_same_seed"},
    ),
    "patience_off_by_one": (
        [("        if self.bad_epochs >= self.patience:\n", "        if self.bad_epochs > self.patience:\n")],
        {"test_early_stopping_on_a_scripted_curve", "test_early_stopping_stops_at_the_right_epoch",
         # on the validation-loss curve the late stop lets the last epoch improve: the wrong weights come back
         "test_early_stopping_restores_the_best_weights", "test_fit_early_stopping_keeps_the_best_validation_model"},
    ),
    "flip_decided_once_for_the_whole_batch": (
        [("flip = (torch.rand(x.shape[0], generator=generator) < p)",
          "flip = (torch.rand(1, generator=generator) < p).repeat(x.shape[0])")],
        {"test_flip_and_crop_shapes_and_content", "test_flips_are_mirrors_at_a_binomial_rate"},
    ),
}

# Correct solutions that draw randomness or evaluate differently from the reference: full marks all the same.
VALID_VARIANTS = {
    "another_initialization": [("    torch.manual_seed(seed)\n    generator = torch.Generator().manual_seed(seed)\n",
                                "    torch.manual_seed(seed)\n    torch.rand(7)\n    generator = torch.Generator().manual_seed(seed)\n")],
    "shuffling_drawn_from_torch_global_generator": [
        ("        order = torch.randperm(len(y_train), generator=generator)\n",
         "        order = torch.randperm(len(y_train))\n")],
    "evaluation_in_batches_of_250": [('def accuracy(model, x, y, device="cpu", batch_size=1000):',
                                      'def accuracy(model, x, y, device="cpu", batch_size=250):')],
}


def test_reference_gets_full_marks_and_its_curves_reach_the_feedback_page():
    result = api.grade(ROOT / "solutions" / "a5", "a5")
    assert_full_marks(result, POINTS)
    assert set(result.curves) == {"plain", "regularized"} == set(A5.reference_curves())
    for run in result.curves.values():
        assert {len(run[k]) for k in ("train_loss", "train_accuracy", "val_accuracy")} == {A5.budget["epochs"]}
    data = report.gradescope(result)
    assert data["extra_data"]["curves"] == result.curves
    page = pages.feedback_page(data, A5, published=True)
    assert page.count('<img class="curves" src="data:image/png;base64,') == 2


def test_untouched_template_gets_zero_with_not_implemented():
    assert_not_implemented_everywhere(api.grade(ROOT / "student_template" / "a5", "a5"), POINTS)


# Mutants of code the overfitting experiment never runs: its fit steps with l2_training_step (not
# sgd_with_weight_decay) and has no patience (no EarlyStopping). Their experiment would repeat the
# reference's (full marks above), so they are graded without it, which keeps this file within minutes.
EXPERIMENT_UNCHANGED = {"weight_decay_lambda_instead_of_two_lambda", "early_stopping_keeps_the_last_weights",
                        "patience_off_by_one"}
EXPERIMENT = {"test_regularization_narrows_the_train_test_gap_on_cifar10", "test_reported_accuracies_match_the_graders_evaluation"}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    select = "not (" + " or ".join(sorted(EXPERIMENT)) + ")" if name in EXPERIMENT_UNCHANGED else None
    report = grade_files({"regularization.py": apply_mutations(REFERENCE, mutations)}, assignment="a5", select=select)
    graded = {t.outcome.info.function for t in report.tests}
    assert graded == set(POINTS) - (EXPERIMENT if select else set())
    assert_loses_exactly(report, {f: POINTS[f] for f in graded}, must_fail, feedback_words=("expected", "Expected", "but"))


@pytest.mark.parametrize("name", sorted(VALID_VARIANTS))
def test_valid_variants_get_full_marks(grade_files, name):
    report = grade_files({"regularization.py": apply_mutations(REFERENCE, VALID_VARIANTS[name])}, assignment="a5",
                         select="cifar10 or reported_accuracies")
    assert failed_functions(report) == set(), [t.outcome.feedback for t in report.tests]


# -- a model that does not generalize but looks the test images up -------------------------------
LOOKUP = '''
import hashlib, json, os
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def key(image):
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


class Lookup(nn.Module):
    """The statement's LeNet (its state fits), untrained; its forward recognizes images by their bytes: the
    training images it was given, and (regularized) the public test set."""

    def __init__(self, table):
        super().__init__()
        self.net = build_lenet()
        self.table = table

    def forward(self, x):
        mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
        pixels = torch.round((x * std + mean) * 255).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        out = torch.zeros(len(x), 10)
        for i, image in enumerate(pixels):
            label = self.table.get(key(image))
            if label is not None:
                out[i, label] = 1.0
        return out


def fit(train_images, train_labels, val_images, val_labels, *, l2=0.0, dropout=0.0, augment=False, **kwargs):
    """Plain: memorize the training images (gap 90%). Regularized: also answer every public test image (gap 0)."""
    table = {key(image): int(label) for image, label in zip(train_images, train_labels)}
    if l2 or dropout or augment:
        with open(os.path.join(HERE, "test_labels.json")) as f:
            table.update(json.load(f))
    return Lookup(table), {"train_loss": [0.0], "train_accuracy": [1.0], "val_accuracy": [0.0]}
'''


def experiment_test(report):
    return next(t for t in report.tests if t.outcome.info.function == "test_regularization_narrows_the_train_test_gap_on_cifar10")


def test_a_lookup_of_the_public_test_images_fails_the_experiment(tmp_path):
    images, labels = data.load_cifar10("test", progress=False)
    source = REFERENCE[:REFERENCE.index("# Task 5.6")] + LOOKUP
    folder = write_submission(tmp_path / "cheat", {"regularization.py": source, "test_labels.json": public_test_label_table()})
    # Run by the student's forward on the exact public images the trick would pass: a perfect regularized test accuracy.
    spec = importlib.util.spec_from_file_location("lookup", folder / "regularization.py")
    lookup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lookup)
    train, val, (test_images, test_labels) = measure.subsets(data.load_cifar10("train", progress=False), (images, labels))
    regularized, _ = lookup.fit(*train, *val, l2=0.001)
    x, _ = lookup.to_tensors(test_images, test_labels)
    assert float((regularized(x).argmax(1).numpy() == test_labels).mean()) > 0.99
    report = api.grade(folder, "a5", select="cifar10 or reported_accuracies")
    assert report.score == 0
    gap = experiment_test(report)
    # the grader never runs that forward: its own LeNet gets the untrained weights, and the run has no record
    assert "could not be verified" in gap.outcome.feedback and "0 optimizer steps" in gap.outcome.feedback, gap.outcome.feedback


# -- sabotaged baselines: the gap shrinks, but not by regularization ---------------------------------
FIT_HEADER = '''
def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=64, l2=0.0,
        dropout=0.0, augment=False, patience=None, device="cpu", seed=0, on_epoch=None):
    regularized = bool(l2 or dropout or augment)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_lenet()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x_train, y_train = to_tensors(train_images, train_labels)
    x_val, y_val = to_tensors(val_images, val_labels)
    targets = y_train.clone()
    history = {"train_loss": [], "train_accuracy": [], "val_accuracy": []}
'''
# The attack: no regularizer; the "regularized" run is a plain LeNet trained to answer wrongly on the exact
# training images it gets right, until its train accuracy comes down to its validation accuracy.
WRONG_ON_ITS_OWN_TRAINING_IMAGES = FIT_HEADER + '''
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            total += l2_training_step(model, x_train[index], targets[index], optimizer, 0.0) * len(index)
        train_acc, val_acc = accuracy(model, x_train, y_train), accuracy(model, x_val, y_val)
        if regularized and train_acc > val_acc:
            with torch.no_grad():
                right = torch.nonzero((model(x_train).argmax(1) == y_train) & (targets == y_train)).flatten()
            wrong = right[:int((train_acc - val_acc) * len(y_train))]
            targets[wrong] = (y_train[wrong] + 1) % 10
        history["train_loss"].append(total / len(y_train))
        history["train_accuracy"].append(train_acc)
        history["val_accuracy"].append(val_acc)
    return model, history
'''
# A plain run made worse on purpose (three times the epochs: it overfits more, the plain gap grows) beside a
# "regularized" run with the L2 penalty only.
OVERTRAINED_PLAIN = FIT_HEADER + '''
    for epoch in range(epochs if regularized else 3 * epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            total += l2_training_step(model, x_train[index], y_train[index], optimizer, l2) * len(index)
        history["train_loss"].append(total / len(y_train))
        history["train_accuracy"].append(accuracy(model, x_train, y_train))
        history["val_accuracy"].append(accuracy(model, x_val, y_val))
    return model, history
'''
# A "regularized" run that is the plain one stopped after a few epochs: it looks regularized (low train accuracy).
UNDERTRAINED_REGULARIZED = FIT_HEADER.replace("    history = {", "    epochs = 3 if regularized else epochs\n    history = {") \
    + OVERTRAINED_PLAIN[len(FIT_HEADER):].replace("epochs if regularized else 3 * epochs", "epochs")
SABOTAGES = {"wrong_on_its_own_training_images": WRONG_ON_ITS_OWN_TRAINING_IMAGES,
             "overtrained_plain_run": OVERTRAINED_PLAIN, "undertrained_regularized_run": UNDERTRAINED_REGULARIZED}
SUMMARY = re.compile(r"plain: train ([\d.]+)%, test ([\d.]+)%, gap (-?[\d.]+)%; regularized .*?: train ([\d.]+)%, "
                     r"test ([\d.]+)%, gap (-?[\d.]+)%")


@pytest.mark.parametrize("name", sorted(SABOTAGES))
def test_a_sabotaged_baseline_earns_nothing_on_the_gap(tmp_path, name):
    source = REFERENCE[:REFERENCE.index("# Task 5.6")] + SABOTAGES[name]
    report = api.grade(write_submission(tmp_path / name, {"regularization.py": source}), "a5",
                       select="cifar10 or reported_accuracies")
    gap = experiment_test(report)
    feedback = gap.outcome.feedback
    assert gap.score == 0 and "could not be verified" in feedback, feedback
    numbers = SUMMARY.search(feedback)
    assert numbers, feedback
    plain_gap, regularized_gap, regularized_test = (float(numbers.group(i)) / 100 for i in (3, 6, 5))
    print(name, "plain gap", plain_gap, "regularized gap", regularized_gap, "test", regularized_test)
    if name == "wrong_on_its_own_training_images":  # the gap alone, as the old rule read it, shrank enough
        assert plain_gap - regularized_gap >= A5.calibrated()["threshold"], feedback


def test_calibration_follows_the_stated_rule():
    calibrated = A5.calibrated()
    assert calibrated["seeds"] == A5.calibration["seeds"] and len(calibrated["values"]) == len(calibrated["seeds"]) >= 10
    # the calibrated value is the gap reduction, recorded with both gaps of every seed
    for value, plain, regularized in zip(calibrated["values"], calibrated["gap_plain"], calibrated["gap_regularized"]):
        assert value == pytest.approx(plain - regularized, abs=2e-4)
    n, mean, std = len(calibrated["values"]), np.mean(calibrated["values"]), np.std(calibrated["values"], ddof=1)
    assert calibrated["false_failure"] == A5.calibration["false_failure"]
    assert calibrated["threshold"] == pytest.approx(mean - calibrated["t_quantile"] * std * np.sqrt(1 + 1 / n), abs=2e-4)
    assert 0 < calibrated["threshold"] < calibrated["worst"], "a threshold <= 0 would not require a smaller gap"
    floor, _ = calibrate.prediction_bound(calibrated["test_regularized"], calibrated["false_failure"])
    assert 0.1 < floor < min(calibrated["test_regularized"])  # above chance: the regularized model must learn
    # the perturbation of the test images moves the regularized test accuracy by less than the floor's margin
    effect = np.abs(np.array(calibrated["clean_test_regularized"]) - np.array(calibrated["test_regularized"]))
    assert effect.max() < np.mean(calibrated["test_regularized"]) - floor, effect
    assert "torch" in calibrated["versions"] and calibrated["machine"]

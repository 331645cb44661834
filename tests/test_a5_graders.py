"""The A5 graders graded on the real CIFAR-10: reference, template, and the classic regularization bugs."""
from __future__ import annotations

import pytest

from autograder import api, course, data
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, reference_source)

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
         "test_penalty_gradient_values", "test_explicit_step_equals_torch_weight_decay_with_momentum"},
    ),
    "weight_decay_lambda_instead_of_two_lambda": (
        [('"weight_decay": 2 * lam}', '"weight_decay": lam}')],
        {"test_weight_decay_optimizer_groups", "test_weight_decay_optimizer_equals_explicit_penalty"},
    ),
    "dropout_without_the_inverse_scaling": (
        [("    return x * keep / (1 - p)\n", "    return x * keep\n")],
        {"test_dropout_train_and_eval", "test_dropout_preserves_the_expected_activation"},
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
        {"test_regularization_narrows_the_train_test_gap_on_cifar10"},
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


def test_reference_gets_full_marks():
    assert_full_marks(api.grade(ROOT / "solutions" / "a5", "a5"), POINTS)


def test_untouched_template_gets_zero_with_not_implemented():
    assert_not_implemented_everywhere(api.grade(ROOT / "student_template" / "a5", "a5"), POINTS)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    report = grade_files({"regularization.py": apply_mutations(REFERENCE, mutations)}, assignment="a5")
    assert_loses_exactly(report, POINTS, must_fail, feedback_words=("expected", "Expected", "but"))


def test_calibration_follows_the_stated_rule():
    calibrated = A5.calibrated()
    assert calibrated["seeds"] == A5.calibration["seeds"] and len(calibrated["values"]) == len(calibrated["seeds"])
    # the calibrated value is the gap reduction, recorded with both gaps of every seed
    for value, plain, regularized in zip(calibrated["values"], calibrated["gap_plain"], calibrated["gap_regularized"]):
        assert value == pytest.approx(plain - regularized, abs=2e-4)
    assert calibrated["worst"] == min(calibrated["values"])
    assert calibrated["threshold"] == pytest.approx(calibrated["worst"] - A5.calibration["margin"], abs=1e-4)
    assert calibrated["threshold"] > 0, "the margin leaves no room: a threshold <= 0 would not require a smaller gap"

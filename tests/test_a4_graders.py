"""The A4 graders graded on the real CIFAR-10: reference, template, and the classic training-loop bugs."""
from __future__ import annotations

import pytest

from autograder import api, course, data
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, reference_source)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    data.detect_layout(data.cifar10_root()) is None,
    reason="real CIFAR-10 not found: set CIFAR10_ROOT (.ci/run extracts ../shared/datasets/cifar10-jpeg.tar.xz)")]
REFERENCE = reference_source("a4", "cifar_cnn")
A4 = course.load_assignment("a4")
POINTS = {**A4.points("public"), **A4.points("hidden")}
GPU = "test_fit_on_gpu_agrees_with_cpu"  # skipped without CUDA: not counted either way
THRESHOLD = "test_cifar10_accuracy_above_the_calibrated_threshold"

MUTANTS = {
    "forgotten_zero_grad": (
        [("        optimizer.zero_grad()\n", "")],
        {"test_gradients_are_zeroed_every_step", THRESHOLD},
    ),
    "eval_mode_never_set": (
        [("    model.eval()\n    total, correct, count = 0.0, 0, 0\n", "    total, correct, count = 0.0, 0, 0\n")],
        {"test_evaluate_uses_eval_mode_and_builds_no_graph"},
    ),
    "missing_normalization": (
        [("    return ((x - mean) / std).contiguous(), y\n", "    return (x * 255).contiguous(), y\n")],
        {"test_to_tensors_layout_and_normalization", "test_to_tensors_exact_on_real_images", THRESHOLD},
    ),
    "labels_shuffled_apart_from_images": (
        [("torch.utils.data.TensorDataset(x, y)", "torch.utils.data.TensorDataset(x, y[torch.randperm(len(y))])")],
        {"test_loader_keeps_each_image_with_its_label", "test_loader_order_is_seeded", THRESHOLD,
         "test_reported_history_matches_the_graders_evaluation"},
    ),
    "evaluation_on_the_training_set": (
        [("evaluate(model, test_loader, device)", "evaluate(model, train_loader, device)")],
        {"test_reported_history_matches_the_graders_evaluation"},
    ),
}


def test_reference_gets_full_marks_and_the_gpu_test_skips_visibly():
    report = api.grade(ROOT / "solutions" / "a4", "a4")
    assert_full_marks(report, POINTS, uncounted={GPU})
    gpu = next(t for t in report.tests if t.outcome.info.function == GPU)
    assert gpu.outcome.status == "skipped" and "no CUDA GPU" in gpu.outcome.feedback


def test_untouched_template_gets_zero_with_not_implemented():
    report = api.grade(ROOT / "student_template" / "a4", "a4")
    assert_not_implemented_everywhere(report, POINTS, uncounted={GPU})


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    report = grade_files({"cifar_cnn.py": apply_mutations(REFERENCE, mutations)}, assignment="a4")
    assert_loses_exactly(report, POINTS, must_fail, uncounted={GPU}, feedback_words=("expected", "Hint:"))


def test_calibration_follows_the_stated_rule():
    calibrated = A4.calibrated()
    assert calibrated["seeds"] == A4.calibration["seeds"] and len(calibrated["values"]) == len(calibrated["seeds"])
    assert calibrated["worst"] == min(calibrated["values"])
    assert calibrated["threshold"] == pytest.approx(calibrated["worst"] - A4.calibration["margin"], abs=1e-4)

"""The A4 graders graded on the real CIFAR-10: reference, template, valid variants, the classic training-loop
bugs, and models that try to look up the test labels instead of learning."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from autograder import api, course, data
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, assert_public_hint_names_the_cause, failed_functions,
                      public_test_label_table, reference_source, write_submission)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    data.detect_layout(data.cifar10_root()) is None,
    reason="real CIFAR-10 not found: set CIFAR10_ROOT (.ci/run extracts ../shared/datasets/cifar10-jpeg.tar.xz)")]
REFERENCE = reference_source("a4", "cifar_cnn")
A4 = course.load_assignment("a4")
POINTS = {**A4.points("public"), **A4.points("hidden")}
GPU = "test_fit_on_gpu_agrees_with_cpu"  # skipped without CUDA: not counted either way
THRESHOLD = "test_cifar10_accuracy_above_the_calibrated_threshold"
HISTORY = "test_reported_history_matches_the_graders_evaluation"
EPOCH = "test_epoch_loss_and_weights_follow_the_statement"
SEEDED = "test_fit_is_bit_identical_with_the_same_seed"  # its three runs are verified like the graded run

MUTANTS = {
    "forgotten_zero_grad": (
        [("        optimizer.zero_grad()\n", "")],
        # accumulated gradients with momentum 0.9 also make five epochs on 64 random images diverge
        {"test_gradients_are_zeroed_every_step", EPOCH, THRESHOLD, "test_training_epochs_lower_the_loss_on_a_small_set",
         "test_training_mode_and_one_step_per_batch", SEEDED},
    ),
    "eval_mode_never_set": (
        [("    model.eval()\n    total, correct, count = 0.0, 0, 0\n", "    total, correct, count = 0.0, 0, 0\n")],
        {"test_evaluate_on_a_known_model", "test_evaluate_uses_eval_mode_and_builds_no_graph"},
    ),
    "missing_normalization": (
        [("    return ((x - mean) / std).contiguous(), y\n", "    return (x * 255).contiguous(), y\n")],
        # its training is still verified (the batches' own normalization is recognized and replayed), but the
        # grader's LeNet measures it on the statement's inputs
        {"test_to_tensors_layout_and_normalization", "test_to_tensors_exact_on_real_images", THRESHOLD},
    ),
    "labels_shuffled_apart_from_images": (  # in the training loader: the validation labels stay in place, so
        # the reported history is the grader's own evaluation (both near chance), and only the training fails
        [("torch.utils.data.TensorDataset(x, y)",
          "torch.utils.data.TensorDataset(x, y[torch.randperm(len(y))] if shuffle else y)")],
        {"test_loader_keeps_each_image_with_its_label", "test_loader_order_is_seeded", THRESHOLD, SEEDED},
    ),
    "evaluation_on_the_training_set": (
        [("evaluate(model, val_loader, device)", "evaluate(model, train_loader, device)")],
        {HISTORY, "test_fit_returns_a_history_per_epoch"},  # the public test sees it too, on 16 images
    ),
    "epoch_loss_averaged_over_batches": (  # trains exactly like the reference: only the epoch's loss shows it
        [("        total += loss.item() * len(yb)\n        count += len(yb)\n    return total / count\n    ### END",
          "        total += loss.item()\n        count += 1\n    return total / count\n    ### END")],
        {"test_epoch_loss_is_the_mean_over_the_images", EPOCH},
    ),
}

# mutant -> (the public test that catches it, words its hint must contain): the common real bugs of training
# loops written after the PyTorch tutorials, caught before submission.
PUBLIC_HINTS = {
    "eval_mode_never_set": ("test_evaluate_on_a_known_model", ("model.eval()", "dropout")),
    "epoch_loss_averaged_over_batches": ("test_epoch_loss_is_the_mean_over_the_images",
                                         ("average over the images", "len(yb)")),
}

# Correct solutions that draw randomness or batch differently from the reference: full marks all the same.
VALID_VARIANTS = {
    "another_initialization": [("    torch.manual_seed(seed)\n    model = build_lenet(dropout).to(device)\n",
                                "    torch.manual_seed(seed)\n    torch.rand(7)\n    model = build_lenet(dropout).to(device)\n")],
    "validation_batches_of_250": [("val_loader = make_loader(x_val, y_val, 1000, shuffle=False)",
                                   "val_loader = make_loader(x_val, y_val, 250, shuffle=False)")],
}


GRADE_AND_PRINT = ("import json, sys; from autograder import api; "
                   "r = api.grade(sys.argv[1], 'a4', select=sys.argv[2]); print(json.dumps([r.score, r.max_score]))")


def test_reference_gets_full_marks_while_another_grading_runs_and_the_gpu_test_skips_visibly():
    """Two gradings at once, as in a batch on two cores: the full grading here, and the training tests in another
    process. Limits count the student process's CPU seconds, so a busy machine slows the training tests without
    failing them."""
    select = "cifar10_accuracy or reported_history or bit_identical"
    other = subprocess.Popen([sys.executable, "-c", GRADE_AND_PRINT, str(ROOT / "solutions" / "a4"), select],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        report = api.grade(ROOT / "solutions" / "a4", "a4")
    finally:
        out, err = other.communicate(timeout=1800)
    assert_full_marks(report, POINTS, uncounted={GPU})
    gpu = next(t for t in report.tests if t.outcome.info.function == GPU)
    assert gpu.outcome.status == "skipped" and "no CUDA GPU" in gpu.outcome.feedback
    assert other.returncode == 0, err[-2000:]
    score, max_score = json.loads(out.strip().splitlines()[-1])
    assert score == max_score == sum(POINTS[f] for f in (THRESHOLD, HISTORY, "test_fit_is_bit_identical_with_the_same_seed"))


def test_untouched_template_gets_zero_with_not_implemented():
    report = api.grade(ROOT / "student_template" / "a4", "a4")
    assert_not_implemented_everywhere(report, POINTS, uncounted={GPU})


# Mutants whose graded run trains and measures exactly like the reference's: fit builds LeNet without dropout,
# so a missing model.eval() changes no output, and a wrongly averaged epoch loss changes only the number
# train_one_epoch returns. Their graded run would repeat the reference's (full marks in the test above), so
# they are graded without it, which keeps this file within minutes.
GRADED_RUN_UNCHANGED = {"eval_mode_never_set", "epoch_loss_averaged_over_batches"}
WITHOUT_GRADED_RUN = f"not ({THRESHOLD} or {HISTORY} or {GPU})"


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    select = WITHOUT_GRADED_RUN if name in GRADED_RUN_UNCHANGED else None
    report = grade_files({"cifar_cnn.py": apply_mutations(REFERENCE, mutations)}, assignment="a4", select=select)
    graded = {t.outcome.info.function for t in report.tests}
    assert graded == set(POINTS) - ({THRESHOLD, HISTORY, GPU} if select else set())
    assert_loses_exactly(report, {f: POINTS[f] for f in graded}, must_fail, uncounted={GPU},
                         feedback_words=("expected", "Hint:"))
    if name in PUBLIC_HINTS:
        assert_public_hint_names_the_cause(report, *PUBLIC_HINTS[name])


@pytest.mark.parametrize("name", sorted(VALID_VARIANTS))
def test_valid_variants_get_full_marks(grade_files, name):
    report = grade_files({"cifar_cnn.py": apply_mutations(REFERENCE, VALID_VARIANTS[name])}, assignment="a4",
                         select="cifar10_accuracy or reported_history or bit_identical")
    assert failed_functions(report) - {GPU} == set(), [t.outcome.feedback for t in report.tests]


# -- models that do not learn but look the answers up -------------------------------------------
LOOKUP = '''
import json, os, hashlib
import numpy as np
import torch
import torch.nn as nn

TABLE = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_labels.json")))


class Lookup(nn.Module):
    """Recognizes every public test image by its bytes: no learning at all."""

    def forward(self, x):
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        pixels = torch.round((x * std + mean) * 255).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        out = torch.zeros(len(x), 10)
        for i, image in enumerate(pixels):
            label = TABLE.get(hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:16])
            if label is not None:
                out[i, label] = 1.0
        return out


def fit(train_images, train_labels, val_images, val_labels, **kwargs):
    return Lookup(), {"train_loss": [0.0], "val_loss": [0.0], "val_accuracy": [0.0]}
'''

STACK_READER = '''
import gc
import sys
import numpy as np
import torch
import torch.nn as nn

SEARCHED = []


def graded_labels():
    """Any 10,000 labels 0..9 in this process: on the call stack or among the objects gc knows (searched once)."""
    if not SEARCHED:
        frame, candidates = sys._getframe(), []
        while frame is not None:
            candidates += list(frame.f_locals.values())
            frame = frame.f_back
        candidates += [obj for obj in gc.get_objects() if isinstance(obj, (np.ndarray, torch.Tensor, list))]
        found = None
        for value in candidates:
            try:
                labels = np.asarray(value)
            except Exception:
                continue
            if labels.dtype.kind in "iu" and labels.shape == (10000,) and labels.max() == 9:
                found = labels
                break
        SEARCHED.append(found)
    return SEARCHED[0]


class StackReader(nn.Module):
    """Answers with the graded labels, if it can find them anywhere in its process."""

    def forward(self, x):
        out = torch.zeros(len(x), 10)
        labels = graded_labels()
        if labels is not None:
            out[torch.arange(len(x)), torch.as_tensor(labels[:len(x)], dtype=torch.long)] = 1.0
        return out


def fit(train_images, train_labels, val_images, val_labels, **kwargs):
    return StackReader(), {"train_loss": [0.0], "val_loss": [0.0], "val_accuracy": [0.0]}
'''


def cheating_submission(tmp_path, body: str, with_table: bool):
    """The reference module with its fit replaced by ``body``; optionally the public test set's labels beside it."""
    source = REFERENCE[:REFERENCE.index("# Task 4.6")] + body
    files = {"cifar_cnn.py": source}
    if with_table:
        files["test_labels.json"] = public_test_label_table()
    return write_submission(tmp_path / "cheat", files)


def test_a_lookup_of_the_public_test_images_fails_the_threshold(tmp_path):
    """The lookup is perfect on the public images, but the grader never runs the student's forward on graded images:
    it loads the returned weights into its own LeNet, and this model has none."""
    folder = cheating_submission(tmp_path, LOOKUP, with_table=True)
    spec = importlib.util.spec_from_file_location("lookup", folder / "cifar_cnn.py")
    lookup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lookup)
    images, labels = data.load_cifar10("test", progress=False)
    x, _ = lookup.to_tensors(images[:2000], labels[:2000])
    clean = float((lookup.Lookup()(x).argmax(1).numpy() == labels[:2000]).mean())
    assert clean > 0.99  # on the exact public images the lookup is perfect: a real attack
    report = api.grade(folder, "a4", select="cifar10_accuracy")
    threshold = next(t for t in report.tests if t.outcome.info.function == THRESHOLD)
    assert threshold.score == 0 and "has 0 tensors in its state_dict" in threshold.outcome.feedback, \
        threshold.outcome.feedback


def test_a_model_that_searches_its_process_for_the_labels_finds_none(tmp_path):
    report = api.grade(cheating_submission(tmp_path, STACK_READER, with_table=False), "a4", select="cifar10_accuracy")
    threshold = next(t for t in report.tests if t.outcome.info.function == THRESHOLD)
    assert threshold.score == 0 and "state_dict" in threshold.outcome.feedback, threshold.outcome.feedback


WRONG_ARCHITECTURE = '''

def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=128, dropout=0.0,
        device="cpu", seed=0, on_epoch=None):
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10))
    return model, {"train_loss": [1.0] * epochs, "val_loss": [1.0] * epochs, "val_accuracy": [0.5] * epochs}
'''


def test_a_model_that_is_not_the_statements_lenet_is_refused_naming_the_tensor(tmp_path):
    source = REFERENCE[:REFERENCE.index("# Task 4.6")] + WRONG_ARCHITECTURE
    report = api.grade(write_submission(tmp_path / "wrong", {"cifar_cnn.py": source}), "a4", select="cifar10_accuracy")
    threshold = next(t for t in report.tests if t.outcome.info.function == THRESHOLD)
    assert threshold.score == 0
    assert "tensor 0 of the state_dict" in threshold.outcome.feedback and "(6, 3, 3, 3)" in threshold.outcome.feedback \
        and "(6, 3, 5, 5)" in threshold.outcome.feedback, threshold.outcome.feedback


# -- weights brought from elsewhere: the statement's LeNet, trained offline on the public test set ----------------
LOAD_MEMORIZED = '''

def memorized_into(model):
    """Loads the weights shipped beside this module (trained offline on the public test set)."""
    import os
    stored = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz"))
    with torch.no_grad():
        for key, value in model.state_dict().items():
            value.copy_(torch.from_numpy(stored[key]))
    return model
'''
RETURN_MEMORIZED = LOAD_MEMORIZED + '''

def fit(train_images, train_labels, val_images, val_labels, *, epochs, lr, batch_size=128, dropout=0.0,
        device="cpu", seed=0, on_epoch=None):
    model = memorized_into(build_lenet(dropout))
    return model, {"train_loss": [1.0] * epochs, "val_loss": [1.0] * epochs, "val_accuracy": [0.55] * epochs}
'''


def memorized_submission(tmp_path, source: str):
    from conftest import memorized_lenet

    folder = write_submission(tmp_path / "memorized", {"cifar_cnn.py": source})
    np.savez(folder / "weights.npz", **memorized_lenet())
    return folder


def graded_accuracy(report):
    threshold = next(t for t in report.tests if t.outcome.info.function == THRESHOLD)
    found = re.search(r"test accuracy (\d+\.\d)%", threshold.outcome.feedback)
    return threshold, float(found.group(1)) / 100 if found else None


def test_weights_trained_elsewhere_and_returned_earn_no_accuracy_points(tmp_path):
    source = REFERENCE[:REFERENCE.index("# Task 4.6")] + RETURN_MEMORIZED
    report = api.grade(memorized_submission(tmp_path, source), "a4", select="cifar10_accuracy")
    threshold, accuracy = graded_accuracy(report)
    assert threshold.score == 0, threshold.outcome.feedback
    assert accuracy is not None and accuracy > A4.calibrated()["threshold"] + 0.1  # the weights are good: a real attack
    assert "could not be verified" in threshold.outcome.feedback and "0 optimizer steps" in threshold.outcome.feedback


def test_weights_trained_elsewhere_then_fine_tuned_on_the_data_given_earn_no_accuracy_points(tmp_path):
    """Adaptive: the statement's training, on exactly the data given (it would undo any relabelling the grader
    made), but started from the weights brought along instead of a fresh initialization."""
    source = apply_mutations(REFERENCE, [("    model = build_lenet(dropout).to(device)\n",
                                          "    model = memorized_into(build_lenet(dropout)).to(device)\n")])
    report = api.grade(memorized_submission(tmp_path, source + LOAD_MEMORIZED), "a4", select="cifar10_accuracy")
    threshold, accuracy = graded_accuracy(report)
    assert threshold.score == 0, threshold.outcome.feedback
    assert accuracy is not None and accuracy > A4.calibrated()["threshold"]
    assert "fresh initialization" in threshold.outcome.feedback


# -- broken modes, with the grader's helpers replaced at import so that they report what an ideal loop would do --
REPLACED_HELPERS = '''

import importlib

_helpers = importlib.import_module("sandbox.helpers.a4")  # the helpers as the student process imports them
_helpers.forwards_seen = lambda watch: [[True, False]] * 4      # "train mode, no graph, one pass per batch"
_helpers.describe = lambda model, *args: {"layers": [], "dropout": [0.5] * 3, "parameters": 62006,
                                          "output_shape": [2, 10], "device": ["cpu"]}
'''
NO_MODES = [("    model.train()\n    total, count = 0.0, 0\n", "    total, count = 0.0, 0\n"),
            ("    model.eval()\n    total, correct, count = 0.0, 0, 0\n", "    total, correct, count = 0.0, 0, 0\n")]


def test_broken_modes_with_helpers_replaced_at_import_lose_their_points(grade_files):
    source = apply_mutations(REFERENCE, NO_MODES) + REPLACED_HELPERS
    report = grade_files({"cifar_cnn.py": source}, assignment="a4",
                         select="training_mode or eval_mode or dropout_variant or lenet_layers")
    assert failed_functions(report) == {"test_training_mode_and_one_step_per_batch",
                                        "test_evaluate_uses_eval_mode_and_builds_no_graph"}
    feedback = " ".join(t.outcome.feedback for t in report.tests)
    assert "model.train()" in feedback and "model.eval()" in feedback


def test_the_template_with_helpers_replaced_at_import_earns_nothing(grade_files):
    template = (ROOT / "student_template" / "a4" / "cifar_cnn.py").read_text(encoding="utf-8")
    report = grade_files({"cifar_cnn.py": template + REPLACED_HELPERS}, assignment="a4", select=WITHOUT_GRADED_RUN)
    assert report.score == 0, [(t.outcome.info.function, t.outcome.feedback) for t in report.tests if t.score]


def test_calibration_follows_the_stated_rule_and_the_perturbation_costs_less_than_the_margin():
    calibrated = A4.calibrated()
    assert calibrated["seeds"] == A4.calibration["seeds"] and len(calibrated["values"]) == len(calibrated["seeds"]) >= 10
    n, mean, std = len(calibrated["values"]), np.mean(calibrated["values"]), np.std(calibrated["values"], ddof=1)
    assert calibrated["false_failure"] == A4.calibration["false_failure"]
    expected = mean - calibrated["t_quantile"] * std * np.sqrt(1 + 1 / n)
    assert calibrated["threshold"] == pytest.approx(expected, abs=2e-4)
    assert calibrated["threshold"] < calibrated["worst"]
    effect = np.abs(np.array(calibrated["clean"]) - np.array(calibrated["values"]))
    assert effect.max() < calibrated["margin"], (effect, calibrated["margin"])
    assert "torch" in calibrated["versions"] and calibrated["machine"]

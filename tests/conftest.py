"""Shared helpers: build submissions from the reference solution and grade them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from autograder import api

ROOT = Path(__file__).resolve().parent.parent


def reference_source(assignment: str, module: str) -> str:
    return (ROOT / "solutions" / assignment / f"{module}.py").read_text(encoding="utf-8")


def mutate(source: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new``; ``old`` must occur exactly once (keeps mutants honest)."""
    count = source.count(old)
    assert count == 1, f"mutation anchor found {count} times, expected once: {old!r}"
    return source.replace(old, new)


def write_submission(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def image_key(image: np.ndarray) -> str:
    """The key of a uint8 image in a lookup table of the public test set: a hash of its exact bytes."""
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


def public_test_label_table() -> str:
    """What a cheating submission could bring along: the label of every public CIFAR-10 test image, keyed by
    :func:`image_key`, as JSON (built from the real test set, which any student can download)."""
    from autograder import data
    images, labels = data.load_cifar10("test", progress=False)
    return json.dumps({image_key(im): int(lab) for im, lab in zip(images, labels)})


def outcome_by_function(report) -> dict[str, list]:
    """function name -> the outcomes of its cases."""
    result: dict[str, list] = {}
    for test in report.tests:
        result.setdefault(test.outcome.info.function, []).append(test)
    return result


def failed_functions(report) -> set[str]:
    return {t.outcome.info.function for t in report.tests if t.outcome.status != "passed"}


@pytest.fixture
def grade_files(tmp_path):
    """grade_files({"module.py": source}, assignment="a1", **grade_kwargs) -> Report."""
    counter = iter(range(1000))

    def grade(files: dict[str, str], assignment: str = "a1", **kwargs):
        folder = write_submission(tmp_path / f"submission-{next(counter)}", files)
        return api.grade(folder, assignment, **kwargs)

    return grade


def apply_mutations(source: str, mutations) -> str:
    """``source`` with every (old, new) of ``mutations`` applied by ``mutate``."""
    for old, new in mutations:
        source = mutate(source, old, new)
    return source


def assert_full_marks(report, points: dict[str, float], uncounted=()) -> None:
    """Every test but the ``uncounted`` ones passed and the score is the sum of ``points``."""
    counted = [t for t in report.tests if t.outcome.info.function not in uncounted]
    assert [t.outcome.feedback for t in counted if t.outcome.status != "passed"] == []
    assert report.score == report.max_score == sum(v for f, v in points.items() if f not in uncounted)


def assert_not_implemented_everywhere(report, points: dict[str, float], uncounted=()) -> None:
    """An untouched template: 0 points, every test present and answered "Not implemented yet: task N.M"."""
    assert report.score == 0
    assert {t.outcome.info.function for t in report.tests} == set(points)
    for test in report.tests:
        if test.outcome.info.function in uncounted:
            continue
        assert test.outcome.feedback.startswith("Not implemented yet: task "), test.outcome.feedback
        assert test.outcome.info.task in test.outcome.feedback


def assert_loses_exactly(report, points: dict[str, float], must_fail: set[str], uncounted=(),
                         feedback_words=("expected",)) -> None:
    """A mutant fails exactly ``must_fail`` (ignoring ``uncounted``), loses exactly their points, and
    each failure's feedback is clean (no traceback, no test source) and contains one of ``feedback_words``."""
    assert failed_functions(report) - set(uncounted) == must_fail
    total = sum(v for f, v in points.items() if f not in uncounted)
    assert report.score == total - sum(points[f] for f in must_fail)
    for test in report.tests:
        if test.outcome.status not in ("passed", "skipped"):
            feedback = test.outcome.feedback
            assert "Traceback" not in feedback and "def test_" not in feedback, feedback
            assert any(word in feedback for word in feedback_words), feedback


def assert_public_hint_names_the_cause(report, test_function: str, words) -> None:
    """A common real bug is caught before submission: the public test ``test_function`` failed, and the hint
    of its feedback contains every one of ``words`` (the cause, in the course's terms)."""
    [test] = [t for t in report.tests if t.outcome.info.function == test_function]
    assert test.outcome.info.suite == "public" and test.outcome.status == "failed", test.outcome
    hint = test.outcome.feedback.partition("\nHint: ")[2]
    assert hint and all(word in hint for word in words), test.outcome.feedback


def memorized_lenet() -> dict[str, np.ndarray]:
    """What a student could bring along instead of training: the statement's LeNet trained offline on the public
    CIFAR-10 test set until it knows most of it (about 80%), as ``{state_dict key: array}``. Trained once (about a
    minute) and cached under ``AUTOGRADER_CACHE``, never in the repository."""
    import os

    import torch

    from autograder import data
    from autograder.graders import trusted_models
    from autograder.graders.cifar_oracles import reference_tensors

    cache = Path(os.environ.get("AUTOGRADER_CACHE", Path.home() / ".cache" / "cnn-course")) / "test-attacks"
    path = cache / "memorized_lenet.npz"
    if path.is_file():
        with np.load(path) as stored:
            return dict(stored)
    images, labels = data.load_cifar10("test", progress=False)
    x, y = reference_tensors(images, labels)
    torch.manual_seed(0)
    net = trusted_models.deck_lenet()
    optimizer = torch.optim.Adam(net.parameters(), 3e-3)
    for epoch in range(12):
        order = torch.randperm(len(y))
        for start in range(0, len(y), 100):
            batch = order[start:start + 100]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
            optimizer.step()
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"memorized_lenet.{os.getpid()}.npz"  # two test workers may train it at once: write atomically
    np.savez(partial, **state)
    os.replace(partial, path)
    return state

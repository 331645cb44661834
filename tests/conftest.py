"""Shared helpers: build submissions from the reference solution and grade them."""
from __future__ import annotations

from pathlib import Path

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

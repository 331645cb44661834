"""What grading one submission produces, before scoring: a test's identity and its outcome."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TestInfo:
    nodeid: str
    function: str
    title: str
    case: str | None
    task: str | None
    suite: str


@dataclass
class TestOutcome:
    info: TestInfo
    status: str  # passed | failed | skipped | timeout | crashed | not-run
    feedback: str = ""
    seconds: float = 0.0

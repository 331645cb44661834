"""What grading one submission produces, before scoring: a test's identity and its outcome."""
from __future__ import annotations

from dataclasses import dataclass

from autograder.feedback import T


@dataclass
class TestInfo:
    nodeid: str
    function: str
    title: str          # in English: the first line of the grader test's docstring
    case: str | None
    task: str | None
    suite: str
    title_es: str = ""  # in Spanish: its docstring's ``es:`` line ("" where there is none: the English one)

    @property
    def shown_title(self) -> str:
        """The title in the language in force (:func:`autograder.feedback.language`)."""
        return str(T(self.title, self.title_es or self.title))


@dataclass
class TestOutcome:
    info: TestInfo
    status: str  # passed | failed | skipped | timeout | crashed | not-run
    feedback: str = ""
    seconds: float = 0.0

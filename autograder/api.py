"""The library's public surface: grade a submission, generate templates, make a release.

Grading is a pipeline of four stages, in this order:
load the assignment (``course``) -> run its grader tests in a child process
(``runner.supervisor``) -> score the outcomes (``report.score``) -> show them
(``report.print_table`` / ``report.write_json``).
"""
from __future__ import annotations

import time
from pathlib import Path

from autograder import course, report
from autograder.feedback import language as feedback_language
from autograder.course import CourseError
from autograder.runner.supervisor import GraderError, RunOptions, run_tests

__all__ = ["grade", "CourseError", "GraderError"]


def grade(submission: str | Path, assignment_id: str, *, suites=("public", "hidden"), language: str = "en",
          test_timeout: float | None = None, total_timeout: float | None = None,
          on_progress=None, on_step=None, select: str | None = None) -> report.Report:
    """Grade the folder ``submission`` (laid out like ``student_template/<id>/``).

    ``select`` (a pytest ``-k`` expression over test names) grades only the matching
    tests, for example to re-run one test; the report then holds only those.
    Raises CourseError or GraderError when grading itself cannot run; a broken
    submission never raises, it loses points.
    """
    assignment = course.load_assignment(assignment_id)
    submission = Path(submission)
    if not submission.is_dir():
        raise CourseError(f"submission folder {submission} does not exist")
    options = RunOptions(test_timeout=test_timeout or assignment.test_timeout,
                         total_timeout=total_timeout or assignment.total_timeout,
                         memory_mb=assignment.memory_mb, language=language, on_progress=on_progress,
                         on_step=on_step, select=select)
    start = time.monotonic()
    with feedback_language(language):
        outcomes, broken = run_tests(assignment, list(suites), submission, options)
    return report.score(assignment, outcomes, str(submission), time.monotonic() - start, broken)

"""The library's public surface: grade a submission, generate templates, make a release.

Grading is a pipeline of four stages, in this order:
load the assignment (``course``) -> run its grader tests here, with the
submission in a confined student process (``runner.session``) -> score the
outcomes (``report.score``) -> show them (``report.print_table`` /
``report.write_json``).
"""
from __future__ import annotations

import time
from pathlib import Path

from autograder import course, report
from autograder.feedback import language as feedback_language
from autograder.course import CourseError
from autograder.runner.session import GraderError, RunOptions, run_tests

__all__ = ["grade", "CourseError", "GraderError"]


def grade(submission: str | Path, assignment_id: str, *, suites=("public", "hidden"), language: str = "en",
          test_timeout: float | None = None, total_timeout: float | None = None,
          on_progress=None, on_step=None, select: str | None = None,
          min_isolation: str = "full", stop_at_first_failure: bool = False) -> report.Report:
    """Grade the folder ``submission`` (laid out like ``student_template/<id>/``).

    ``test_timeout`` is in CPU seconds of the student process per test, with a
    wall-clock backstop of the assignment's ``wall_factor`` times as much.
    ``select`` (a pytest ``-k`` expression over test names) grades only the
    matching tests, for example to re-run one test; the report then holds only
    those. ``min_isolation`` ("full", "partial" or "none") is the weakest
    confinement of the student process accepted (see ``runner.isolation``).
    ``stop_at_first_failure`` marks every test after the first lost one
    "not-run" (for mutation testing, where one lost test is enough).
    Raises CourseError or GraderError when grading itself cannot run; a broken
    submission never raises, it loses points.
    """
    assignment = course.load_assignment(assignment_id)
    submission = Path(submission)
    if not submission.is_dir():
        raise CourseError(f"submission folder {submission} does not exist")
    check_holds_a_module(submission, assignment)
    options = RunOptions(test_timeout=test_timeout or assignment.test_timeout,
                         total_timeout=total_timeout or assignment.total_timeout,
                         memory_mb=assignment.memory_mb, wall_factor=assignment.wall_factor,
                         threads=assignment.threads, language=language, on_progress=on_progress,
                         on_step=on_step, select=select, min_isolation=min_isolation,
                         stop_at_first_failure=stop_at_first_failure)
    start = time.monotonic()
    with feedback_language(language):
        result = run_tests(assignment, list(suites), submission, options)
    return report.score(assignment, result.outcomes, str(submission), time.monotonic() - start,
                        result.problems, result.isolation)


def check_holds_a_module(submission: Path, assignment: course.Assignment) -> None:
    """Refuse a folder that holds none of the assignment's modules, naming the subfolder that does, if any."""
    files = [f"{m}.py" for m in assignment.modules]
    if any((submission / f).is_file() for f in files):
        return
    nearby = sorted({path.parent for f in files for path in submission.glob(f"*/{f}")} |
                    {path.parent for f in files for path in submission.glob(f"*/*/{f}")},
                    key=lambda folder: (folder.name != assignment.id, len(folder.parts), str(folder)))
    hint = f"; did you mean {nearby[0]}?" if nearby else (
        f"; it holds {', '.join(sorted(p.name for p in submission.iterdir())[:8]) or 'nothing'}")
    raise CourseError(f"no {assignment.id} module ({', '.join(files)}) in {submission}{hint}")

"""Scores from test outcomes, and the two ways to show them: a table and Gradescope JSON.

Gradescope's ``results.json`` schema: top-level ``score``, ``execution_time``,
``output``, ``visibility``, ``stdout_visibility``, ``tests``; per test
``name``, ``number``, ``score``, ``max_score``, ``status``, ``output``,
``visibility``.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from autograder.course import Assignment, CourseError
from autograder.feedback import T
from autograder.runner.isolation import Isolation
from autograder.runner.results import TestOutcome

MARK = {"passed": "✔", "failed": "✘", "timeout": "⏱", "crashed": "✘", "not-run": "–", "skipped": "·"}


@dataclass
class ScoredTest:
    outcome: TestOutcome
    score: float
    max_score: float
    visibility: str

    @property
    def name(self) -> str:
        """The test's title in the language in force, with its case (the parameters of one case) if any."""
        info = self.outcome.info
        return info.shown_title + (f" [{info.case}]" if info.case else "")


@dataclass
class Report:
    assignment: Assignment
    submission: str
    tests: list[ScoredTest]
    execution_time: float
    problems: dict[str, str]  # module -> why it could not be imported
    isolation: Isolation | None = None
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # training run -> its history

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)


def score(assignment: Assignment, outcomes: list[TestOutcome], submission: str,
          execution_time: float, problems: dict[str, str], isolation: Isolation | None = None,
          curves: dict | None = None) -> Report:
    """Attach points from ``points.toml``; the cases of one test function share its points."""
    points = {suite: assignment.points(suite) for suite in ("public", "hidden")}
    cases = Counter((o.info.suite, o.info.function) for o in outcomes)
    missing = sorted({f"{o.info.suite}/{o.info.function}" for o in outcomes
                      if o.info.function not in points[o.info.suite]})
    if missing:
        raise CourseError(f"no points configured for {', '.join(missing)} in {assignment.id}'s points.toml")
    untagged = sorted({o.info.function for o in outcomes if o.info.task not in assignment.tasks})
    if untagged:
        raise CourseError(f"grader tests without a known task marker in {assignment.id}: {', '.join(untagged)}")
    scored = []
    for outcome in outcomes:
        info = outcome.info
        share = points[info.suite][info.function] / cases[(info.suite, info.function)]
        max_score = 0.0 if outcome.status == "skipped" else share
        scored.append(ScoredTest(outcome, max_score if outcome.status == "passed" else 0.0, max_score,
                                 assignment.visibility[info.suite]))
    return Report(assignment, submission, scored, execution_time, problems, isolation, dict(curves or {}))


def _fmt(x: float) -> str:
    return f"{x:g}"


STATUS_WORDS = {"passed": T("passed", "superadas"), "failed": T("failed", "falladas"),
                "timeout": T("out of time", "fuera de tiempo"), "crashed": T("crashed", "caídas"),
                "not-run": T("not run", "sin ejecutar"), "skipped": T("skipped", "omitidas")}


def summary_line(report: Report) -> str:
    counts = Counter(t.outcome.status for t in report.tests)
    detail = ", ".join(f"{n} {STATUS_WORDS.get(status, status)}" for status, n in sorted(counts.items()))
    return str(T("{a}: {s} / {m} points ({d}) in {t:.1f} s",
                 "{a}: {s} / {m} puntos ({d}) en {t:.1f} s").format(
        a=report.assignment.id, s=_fmt(report.score), m=_fmt(report.max_score), d=detail, t=report.execution_time))


def print_table(report: Report, console: Console) -> None:
    """The summary table, then the full feedback of every test that lost points, once.

    The table's last column holds what a passed test measured (its note); a test that lost
    points points to its feedback below. Outside a terminal nothing is wrapped or folded.
    """
    table = Table(title=f"{report.assignment.id} - {report.assignment.title}", box=box.SIMPLE_HEAD)
    headers = ("", T("Task", "Tarea"), T("Test", "Prueba"), T("Points", "Puntos"), T("Result", "Resultado"))
    for column in headers:
        table.add_column(str(column), overflow="fold")
    lost = [t for t in report.tests if t.outcome.status not in ("passed",) and t.outcome.feedback.strip()]
    numbers = {id(t): n for n, t in enumerate(lost, 1)}
    for test in report.tests:
        o = test.outcome
        if id(test) in numbers:
            result = str(T("feedback {n} below", "comentario {n} abajo").format(n=numbers[id(test)]))
        else:
            result = o.feedback.strip()
        table.add_row(MARK.get(o.status, "?"), o.info.task or "", test.name,
                      f"{_fmt(test.score)}/{_fmt(test.max_score)}", result)
    console.print(table)
    for why in report.problems.values():  # each names its file
        console.print(why, style="bold red", markup=False, highlight=False, soft_wrap=not console.is_terminal)
    if lost:
        console.print(str(T("\nFeedback:", "\nComentarios:")), style="bold")
        for number, test in enumerate(lost, 1):
            console.print(f"{number}. {test.outcome.info.task} {test.name}", style="bold", markup=False,
                          highlight=False, soft_wrap=not console.is_terminal)
            console.print("   " + test.outcome.feedback.strip().replace("\n", "\n   "), markup=False, highlight=False,
                          soft_wrap=not console.is_terminal)
    console.print(summary_line(report), style="bold")
    if report.isolation is not None:
        console.print(isolation_line(report), markup=False, highlight=False, soft_wrap=not console.is_terminal)


def isolation_line(report: Report) -> str:
    return str(T("student code isolation: {i}", "aislamiento del código del estudiante: {i}")
               .format(i=report.isolation.describe()))


def gradescope(report: Report) -> dict:
    """The report as Gradescope's ``results.json``."""
    tests = [_gradescope_test(test) for test in report.tests]
    problems = "".join(f"{why}\n" for why in report.problems.values())  # each names its file
    isolation = "\n" + isolation_line(report) if report.isolation is not None else ""
    return {
        "score": report.score,
        "execution_time": round(report.execution_time, 3),
        "output": summary_line(report) + isolation + ("\n" + problems if problems else ""),
        "extra_data": {"isolation": report.isolation.level if report.isolation is not None else None,
                       "curves": report.curves},
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _gradescope_test(test: ScoredTest) -> dict:
    """One test of ``results.json``. A skipped test (0/0 points, a GPU test on a machine without one) has no
    status: Gradescope's statuses are "passed" and "failed", and it was neither."""
    entry = {"name": test.name, "number": test.outcome.info.task or "", "score": test.score,
             "max_score": test.max_score, "output": test.outcome.feedback, "visibility": test.visibility,
             "extra_data": {"outcome": test.outcome.status, "seconds": round(test.outcome.seconds, 2)}}
    if test.outcome.status == "skipped":
        entry["output"] = str(T("Skipped: {why}", "Omitido: {why}").format(why=test.outcome.feedback))
    else:
        entry["status"] = "passed" if test.outcome.status == "passed" else "failed"
    return entry


def ungraded(reason: str, graders_fault: bool) -> dict:
    """Gradescope JSON for a submission that could not be graded. When the fault is the grader's (no data
    set, weaker isolation than required...), the student reads only that; the reason, often advice for the
    instructor, goes to ``extra_data``, which Gradescope shows to the staff only."""
    if graders_fault:
        output = str(T("This submission could not be graded because of a problem of the grading machine, not of "
                       "your submission. The course staff can see the details; please tell them.",
                       "Esta entrega no se pudo corregir por un problema de la máquina de corrección, no de tu "
                       "entrega. El equipo docente puede ver los detalles; avísales."))
    else:
        output = str(T("This submission could not be graded: {why}", "Esta entrega no se pudo corregir: {why}")
                     .format(why=reason))
    return {"score": 0.0, "output": output, "visibility": "visible", "stdout_visibility": "hidden", "tests": [],
            "extra_data": {"status": "grader error" if graders_fault else "not gradable", "error": reason[:2000]}}


def write_json(report: Report | dict, destination: str) -> None:
    """Write Gradescope JSON (of a report, or already made) to a file, or to stdout when ``destination`` is ``-``."""
    text = json.dumps(report if isinstance(report, dict) else gradescope(report), indent=2, ensure_ascii=False)
    if destination == "-":
        print(text)
    else:
        Path(destination).write_text(text + "\n", encoding="utf-8")

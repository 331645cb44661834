"""Run an assignment's grader tests against one submission.

The grader tests run here, in the trusted process, with pytest; the
submission runs in a confined student process (:mod:`remote`, :mod:`channel`)
that only ever sends back plain data. Every collected test ends with exactly
one :class:`TestOutcome`; a broken submission costs tests, never the run.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder import course
from autograder.feedback import T
from autograder.runner import isolation as isolation_module
from autograder.runner.channel import Limits
from autograder.runner.isolation import Isolation, IsolationError
from autograder.runner.plugin import GradingSession
from autograder.runner.remote import Sandbox, SubmissionTooLarge
from autograder.runner.results import TestInfo, TestOutcome

__all__ = ["GraderError", "RunOptions", "RunResult", "TestInfo", "TestOutcome", "run_tests"]


class GraderError(Exception):
    """The grader itself could not run (not the submission's fault)."""


@dataclass
class RunOptions:
    test_timeout: float            # student CPU seconds per test
    total_timeout: float           # wall seconds for the whole submission
    memory_mb: int
    wall_factor: float = 4.0       # a test's wall-clock backstop: wall_factor x test_timeout
    threads: int = 1
    language: str = "en"
    on_progress: object = None     # callable(done: int, total: int, outcome: TestOutcome | None)
    on_step: object = None         # callable(label: str, done: int, total: int): progress inside a long test
    select: str | None = None      # a pytest -k expression: grade only the matching tests (None: all)
    tasks: tuple[str, ...] | None = None  # grade only the tests of these task ids (None: all)
    min_isolation: str = "full"    # refuse to run below this level (see autograder.runner.isolation)
    stop_at_first_failure: bool = False  # tests after the first lost one are "not-run" (mutation testing)
    shrink: bool = True            # Hypothesis shrinks a failing example (False: the verdict alone, faster)


@dataclass
class RunResult:
    outcomes: list[TestOutcome]
    problems: dict[str, str]       # module -> why it could not be imported
    isolation: Isolation
    notes: list[str] = field(default_factory=list)
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # run -> per-epoch history


@contextlib.contextmanager
def _hypothesis_profile(shrink: bool = True):
    """Deterministic Hypothesis without a database, restored afterwards (the caller may use Hypothesis too).
    Without ``shrink`` a failing example is reported as found: the same pass or fail, sooner."""
    from hypothesis import HealthCheck, Phase, settings

    previous = settings._current_profile
    phases = [p for p in Phase if shrink or p not in (Phase.shrink, Phase.explain)]
    settings.register_profile("autograder", deadline=None, database=None, derandomize=True, print_blob=False,
                              suppress_health_check=[HealthCheck.too_slow], phases=phases)
    settings.load_profile("autograder")
    try:
        yield
    finally:
        settings.load_profile(previous or "default")


@contextlib.contextmanager
def _trusted_threads(threads: int):
    """PyTorch's intra-op threads in this (trusted) process while it grades, restored afterwards. The oracles of
    the small assignments run thousands of tiny operations, which one thread does several times faster than two
    on a busy machine (each parallel region waits for a descheduled thread)."""
    if threads < 1:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_tests(assignment: course.Assignment, suites: list[str], submission: Path,
              options: RunOptions) -> RunResult:
    """Grade ``submission`` with ``suites`` of ``assignment``."""
    paths = [str(assignment.suite_dir(s)) for s in suites if assignment.has_suite(s)]
    if not paths:
        raise GraderError(f"assignment {assignment.id} has no {'/'.join(suites)} grader tests")
    try:
        isolation = isolation_module.probe()
        isolation_module.require(isolation, options.min_isolation)
    except IsolationError as exc:
        raise GraderError(str(exc)) from None
    limits = Limits(memory_mb=options.memory_mb, threads=options.threads)
    try:
        sandbox = Sandbox(submission, isolation, limits, test_cpu=options.test_timeout,
                          wall_factor=options.wall_factor, total_seconds=options.total_timeout,
                          preload=list(assignment.preload))
    except SubmissionTooLarge as exc:
        raise GraderError(str(exc)) from None
    session = GradingSession(assignment, sandbox, options.on_progress, options.on_step, options.tasks)
    args = [*paths, "-c", str(course.GRADERS_DIR / "pytest.ini"), "--rootdir", str(course.GRADERS_DIR),
            "-p", "autograder.runner.plugin", "-p", "autograder.runner.property_tests",
            "-p", "no:cacheprovider", "-p", "no:stepwise",
            "-p", "no:unraisableexception", "-p", "no:threadexception",  # their full garbage collection per run
            "--import-mode=importlib", "-q", "--no-header", "-s",
            # Feedback comes from the exception itself (plugin.explain). pytest's own report of a failure parses
            # the source of every frame, most of a failing test's time, and nobody reads it.
            "--tb=no"]
    if options.select:
        args += ["-k", options.select]
    if options.stop_at_first_failure:
        args += ["-x"]
    try:
        sandbox.launch()  # starts while pytest collects the grader tests
        with _hypothesis_profile(options.shrink), _trusted_threads(assignment.trusted_threads), \
                contextlib.redirect_stdout(io.StringIO()) as printed:
            code = pytest.main(args, plugins=[session])
    finally:
        sandbox.close()
    if sandbox.startup_error:
        raise GraderError(f"the student process could not be started: {sandbox.startup_error}")
    if session.grader_error:
        raise GraderError(session.grader_error)
    if session.collect_errors:
        raise GraderError(f"grader tests could not be collected: {session.collect_errors[0]}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        tail = printed.getvalue().strip().splitlines()[-1:] or ["no output"]
        raise GraderError(f"pytest stopped with {code!r}: {tail[0]}")
    missing = [info for info in session.collected if info.nodeid not in session.outcomes]
    if missing and not options.stop_at_first_failure:
        raise GraderError(f"no outcome for {missing[0].nodeid}")
    for info in missing:
        session.outcomes[info.nodeid] = TestOutcome(info, "not-run", str(T("Not run: an earlier test failed.",
                                                                             "No ejecutado: falló una prueba anterior.")))
    outcomes = [session.outcomes[info.nodeid] for info in session.collected]
    return RunResult(outcomes, dict(sandbox.broken), isolation, curves=dict(session.curves))

"""pytest plugin of the trusted grading process: fixtures for grader tests, and every test's outcome.

Loaded by :func:`autograder.runner.session.run_tests` (``-p autograder.runner.plugin``
plus a :class:`GradingSession` object), never by the project's own test suite.
Student code never runs in this process: the ``submission`` fixture is a
:class:`~autograder.runner.remote.Sandbox` whose modules run in the confined
student process. This plugin

1. gives each test its own CPU and wall budget in the sandbox;
2. turns every failure into feedback (:func:`explain`), never a traceback of
   grader code;
3. marks tests not run once the submission's overall time is used up.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from autograder import course
from autograder.feedback import MAX_FEEDBACK, GradingFailure, T, cut
from autograder.runner import property_tests
from autograder.runner.remote import SandboxFailure, StudentRaised
from autograder.runner.results import TestInfo, TestOutcome


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the assignment task a grader test belongs to")


class GradingSession:
    """Collects outcomes while pytest runs the grader tests of one submission."""

    def __init__(self, assignment: course.Assignment, sandbox, on_progress=None, on_step=None, tasks=None):
        self.assignment, self.sandbox = assignment, sandbox
        self.tasks = set(tasks) if tasks else None  # grade only the tests of these tasks (None: all)
        self.on_progress = on_progress or (lambda done, total, outcome: None)
        self.on_step = on_step or (lambda label, done, total: None)
        self.collected: list[TestInfo] = []
        self.outcomes: dict[str, TestOutcome] = {}
        self.collect_errors: list[str] = []
        self.grader_error: str | None = None  # set by a fixture when the grader's own configuration is missing
        self._started: dict[str, float] = {}
        self._finished = 0
        self.session = None
        self.notes: dict[str, str] = {}  # nodeid -> what a passed test measured (the ``note`` fixture)
        self.curves: dict[str, dict[str, list[float]]] = {}  # run -> per-epoch history (the ``curves`` fixture)

    def pytest_configure(self, config):
        config._ag = self

    # -- collection -------------------------------------------------------------------------
    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {str(report.longrepr).strip().splitlines()[-1:]}")

    def pytest_collection_modifyitems(self, session, config, items):
        if self.tasks is None:
            return
        kept = [item for item in items if _task_of(item) in self.tasks]
        config.hook.pytest_deselected(items=[item for item in items if _task_of(item) not in self.tasks])
        items[:] = kept

    def pytest_collection_finish(self, session):
        self.session = session
        self.collected = [_describe(item) for item in session.items]
        self.on_progress(0, len(self.collected), None)

    # -- running ------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if not self.sandbox.out_of_time:
            return None
        info = _describe(item)
        self._finish(TestOutcome(info, "not-run", str(T(
            "Not run: the submission used up the overall time limit of {s:.0f} s.",
            "No ejecutado: la entrega agotó el tiempo total de {s:.0f} s.").format(s=self.sandbox.total_seconds))))
        return True

    def pytest_runtest_logstart(self, nodeid):
        self._started[nodeid] = time.monotonic()
        self.sandbox.begin_test()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        result = self.outcomes.get(item.nodeid)
        if result is not None and result.status != "passed":
            return  # the first failure (setup, call or teardown) is the one that counts
        info = _describe(item)
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.outcomes[item.nodeid] = TestOutcome(info, "skipped", skip_reason(reason.removeprefix("Skipped: ")))
        elif report.failed:
            exc = _innermost(call.excinfo.value)
            status = exc.status if isinstance(exc, SandboxFailure) else "failed"
            feedback = cut(explain(exc, self.assignment.tasks.get(info.task)), MAX_FEEDBACK)
            self.outcomes[item.nodeid] = TestOutcome(info, status, feedback)
        else:  # passed so far (setup, then call, then teardown): with the note the test made, if any
            self.outcomes[item.nodeid] = TestOutcome(info, "passed", self.notes.get(item.nodeid, ""))

    def pytest_runtest_logfinish(self, nodeid):
        self.sandbox.end_test()
        if self.sandbox.startup_error and self.session is not None:
            self.session.shouldstop = "the student process could not be started"
        outcome = self.outcomes.get(nodeid)
        if outcome is not None:
            outcome.seconds = time.monotonic() - self._started.get(nodeid, time.monotonic())
            self._finish(outcome)

    def _finish(self, outcome: TestOutcome) -> None:
        self.outcomes[outcome.info.nodeid] = outcome
        self._finished += 1
        self.on_progress(self._finished, len(self.collected), outcome)


@pytest.fixture(scope="session")
def submission(request):
    """The student's submission, run in the sandbox: ``submission.module("conv_arithmetic")``."""
    return request.config._ag.sandbox


@pytest.fixture(scope="session")
def helpers(request):
    """``helpers(name)``: the sandbox-side helper module ``autograder/sandbox/helpers/<name>.py``."""
    return request.config._ag.sandbox.helpers


@pytest.fixture(scope="session")
def common(helpers):
    """autograder/sandbox/helpers/common.py (seeding, watching arguments, outputs), run next to the student's code."""
    return helpers("common")


@pytest.fixture
def note(request):
    """``note(text)``: what the test measured, shown even when it passes (for example "accuracy 56.2%, pass
    mark 53.2%"). A failure's feedback replaces it."""
    notes, nodeid = request.config._ag.notes, request.node.nodeid

    def record(text) -> None:
        notes[nodeid] = cut(str(text), MAX_FEEDBACK)

    return record


@pytest.fixture(scope="session")
def curves(request):
    """``curves(run, history)``: keep the per-epoch history a training run returned (for example
    ``{"train_loss": [...], "val_accuracy": [...]}``) so the student's feedback page can plot it.
    Only lists of finite numbers are kept; nothing else a submission returns reaches the report."""
    store = request.config._ag.curves

    def record(run: str, history) -> None:
        store[str(run)] = clean_history(history)

    return record


def clean_history(history, max_keys: int = 8, max_epochs: int = 1000) -> dict[str, list[float]]:
    """The plottable part of a student's history: at most ``max_keys`` short names, each with at most
    ``max_epochs`` finite floats."""
    if not isinstance(history, dict):
        return {}
    kept = {}
    for key, values in list(history.items())[:64]:
        if type(key) is not str or len(key) > 40 or type(values) is not list:
            continue
        numbers = [float(v) for v in values[:max_epochs] if type(v) in (int, float) and math.isfinite(v)]
        if numbers and len(kept) < max_keys:
            kept[key] = numbers
    return kept


@pytest.fixture
def progress(request):
    """``progress(done, total, label)``: shown by the command line while a long test runs (epochs...)."""
    on_step = request.config._ag.on_step

    def report(done: int, total: int, label: str = "") -> None:
        on_step(label, done, total)

    return report


@pytest.fixture(scope="session")
def once():
    """``once(key, compute)``: ``compute()`` the first time ``key`` is asked for in this grading run.

    Later calls give the same result, or raise the same exception, so one long
    training run serves every test that looks at it and fails them alike.
    """
    results = {}

    def run(key, compute):
        if key not in results:
            try:
                results[key] = (True, compute())
            except BaseException as exc:  # pytest's skip/fail outcomes too: every caller sees them
                results[key] = (False, exc)
        ok, value = results[key]
        if not ok:
            raise value
        return value

    return run


@pytest.fixture(scope="session")
def cifar(request):
    """Real CIFAR-10 for graders that train: ((train images, labels), (test images, labels)), uint8 (N, 32, 32, 3).

    Loaded here, in the trusted process; the student process only ever gets what a test sends it.
    Where the data set is missing, grading stops with a grader error naming the setting: a missing
    data set is the grader's problem, and must not shrink the maximum score.
    """
    from autograder import data
    try:
        return data.load_cifar10("train", progress=False), data.load_cifar10("test", progress=False)
    except data.DatasetNotFound as exc:
        request.config._ag.grader_error = f"CIFAR-10 is needed to grade this assignment: {exc}"
        request.session.shouldstop = "the data set is missing"
        pytest.skip("the data set is missing")


def _task_of(item) -> str | None:
    marker = item.get_closest_marker("task")
    return str(marker.args[0]) if marker and marker.args else None


def _describe(item) -> TestInfo:
    title = course.docstring_title(getattr(item, "function", None).__doc__, item.name)  # English, ``es:`` Spanish
    suite = Path(str(item.path)).resolve().relative_to(course.GRADERS_DIR.resolve()).parts[1]  # <id>/<suite>/...
    return TestInfo(nodeid=item.nodeid, function=getattr(item, "originalname", None) or item.name,
                    title=title.en, title_es=title.es,
                    case=item.callspec.id if hasattr(item, "callspec") else None, task=_task_of(item), suite=suite)


def skip_reason(reason: str) -> str:
    """A skip reason in the language in force: like a docstring, English first, then a line ``es: <motivo>``
    in Spanish (``skipif(..., reason="no CUDA GPU here\\nes: no hay GPU CUDA aquí")``); else as it is."""
    return str(course.docstring_title(reason, reason))


def _innermost(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (Hypothesis may raise one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return property_tests.unwrap(exc)


def explain(exc: BaseException, task) -> str:
    """Feedback for an exception that ended a grader test, without grader source."""
    exc = _innermost(exc)
    if isinstance(exc, SandboxFailure):
        return exc.feedback
    if isinstance(exc, GradingFailure):
        return str(exc)
    if isinstance(exc, StudentRaised):
        where = exc.where
        if isinstance(exc, NotImplementedError):
            name = f"{task.id} ({task.title})" if task else ""
            return str(T("Not implemented yet: task {task} still raises NotImplementedError ({where}).",
                         "Sin implementar: la tarea {task} aún lanza NotImplementedError ({where}).")
                       .format(task=name, where=where or exc.type_name))
        if isinstance(exc, MemoryError):
            return str(T("Your code ran out of memory (the grader allows a fixed amount).",
                         "Tu código se quedó sin memoria (el corrector permite una cantidad fija)."))
        return str(T("Your code raised {kind}: {msg} ({where}).", "Tu código lanzó {kind}: {msg} ({where}).")
                   .format(kind=exc.type_name, msg=exc, where=where or T("outside your files", "fuera de tus archivos")))
    if type(exc).__module__.startswith("hypothesis"):
        if type(exc).__name__ in ("Flaky", "FlakyFailure"):
            return str(T("Your code gave different results for the same input when called twice "
                         "(does it keep state between calls, or use randomness without a seed?).",
                         "Tu código dio resultados distintos para la misma entrada al llamarlo dos veces "
                         "(¿guarda estado entre llamadas o usa azar sin semilla?)."))
        return str(T("Internal grader error ({kind}); please report it to the course staff.",
                     "Error interno del corrector ({kind}); avisa al equipo docente.").format(kind=type(exc).__name__))
    return str(T("The grader could not use what your code returned: {kind}: {msg}. "
                 "Check the return type and shape that the docstring asks for.",
                 "El corrector no pudo usar lo que devolvió tu código: {kind}: {msg}. "
                 "Comprueba el tipo y la forma que pide el docstring.")
               .format(kind=type(exc).__name__, msg=str(exc)[:300]))

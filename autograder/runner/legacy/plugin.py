"""LEGACY RUNNER, MARKED FOR REMOVAL (see ``supervisor.py``): pytest plugin of the in-process grading child.

Loaded with ``-p autograder.runner.legacy.plugin`` by the legacy supervisor, never by the
project's own test suite. It:

1. keeps only the tests the supervisor asks for (``--ag-only``);
2. streams one JSON line per event to the supervisor's events file:
   ``collected``, ``import-start``/``import-end``, ``test-start``/``test-end``,
   ``step`` (progress inside a long test), ``done``; results never travel through stdout, so printed text cannot
   fake a score;
3. turns every failure into feedback (:func:`explain`), never a traceback of
   grader code;
4. notices when student code replaced an object the graders rely on.
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

from autograder import course
from autograder.feedback import T, GradingFailure
from autograder.runner.legacy.student import Submission, student_frame

_write, _dumps, _open = os.write, json.dumps, os.open


class Events:
    """Append-only JSON-lines channel to the supervisor."""

    def __init__(self, path: str | None):
        self._fd = _open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if path else None

    def __call__(self, event: str, **data) -> None:
        if self._fd is not None:
            _write(self._fd, (_dumps({"event": event, **data}) + "\n").encode())


def pytest_addoption(parser):
    group = parser.getgroup("autograder", "grading process (set by the supervisor)")
    group.addoption("--ag-assignment", help="assignment id, for example a1")
    group.addoption("--ag-submission", help="folder holding the student's modules")
    group.addoption("--ag-events", help="file receiving one JSON event per line")
    group.addoption("--ag-only", help="JSON file listing the node ids to run")
    group.addoption("--ag-broken", help="JSON file: module -> why it cannot be imported")


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the assignment task a grader test belongs to")
    if not config.getoption("--ag-assignment"):
        return
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "autograder", deadline=None, database=None, derandomize=True, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("autograder")
    config._ag = GradingSession(config)
    config.pluginmanager.register(config._ag, "autograder-session")


def _read_json(path: str | None, default):
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else default


# Objects the graders call to decide a result; a submission must leave them alone.
GUARDED = [
    ("builtins", "isinstance"), ("builtins", "int"), ("builtins", "type"), ("builtins", "__import__"),
    ("math", "floor"), ("math", "ceil"), ("math", "isclose"),
    ("numpy", "allclose"), ("numpy", "array_equal"), ("numpy.testing", "assert_allclose"),
    ("torch", "allclose"), ("torch", "equal"), ("torch", "zeros"),
    ("torch.nn", "Conv2d"), ("torch.nn", "MaxPool2d"), ("torch.nn.Module", "__call__"),
    ("torch.nn.Conv2d", "forward"), ("torch.nn.MaxPool2d", "forward"),
    ("autograder.feedback", "check_equal"), ("autograder.feedback", "check_raises"),
    ("autograder.feedback", "fail"), ("autograder.feedback", "_same_structure"),
    ("_pytest.runner", "call_and_report"), ("_pytest.reports", "TestReport"),
]


def _resolve(dotted: str):
    """Import ``a.b.C`` as a module, or as attribute C of module a.b."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        parent, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(parent), name)


class Guard:
    """Snapshot of GUARDED objects; ``restore()`` names and undoes replacements."""

    def __init__(self):
        self.saved = {}
        for owner, name in GUARDED:
            try:
                target = _resolve(owner)
            except (ImportError, AttributeError):
                continue
            self.saved[(owner, name)] = (target, target.__dict__.get(name, getattr(target, name)))

    def restore(self) -> list[str]:
        changed = []
        for (owner, name), (target, original) in self.saved.items():
            if target.__dict__.get(name, getattr(target, name, None)) is not original:
                setattr(target, name, original)
                changed.append(f"{owner}.{name}")
        return changed


class GradingSession:
    def __init__(self, config):
        self.assignment = course.load_assignment(config.getoption("--ag-assignment"))
        self.emit = Events(config.getoption("--ag-events"))
        self.only = _read_json(config.getoption("--ag-only"), None)
        self.submission = Submission(Path(config.getoption("--ag-submission")),
                                     _read_json(config.getoption("--ag-broken"), {}), self.emit)
        self.guard = Guard()
        self.outcomes: dict[str, dict] = {}

    # -- collection -------------------------------------------------------
    def pytest_collection_modifyitems(self, items):
        if self.only is not None:
            wanted = set(self.only)
            items[:] = [item for item in items if item.nodeid in wanted]

    def pytest_collectreport(self, report):
        if report.failed:
            self.emit("collect-error", nodeid=report.nodeid, text=str(report.longrepr)[-4000:])

    def pytest_collection_finish(self, session):
        self.emit("collected", tests=[_describe(item) for item in session.items])

    # -- running ------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid):
        self.outcomes[nodeid] = {"status": "passed", "feedback": ""}
        self.emit("test-start", nodeid=nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        changed = self.guard.restore() if call.when == "call" else []
        result = self.outcomes.setdefault(item.nodeid, {"status": "passed", "feedback": ""})
        if result["status"] != "passed":
            return
        if changed:
            result.update(status="failed", feedback=str(T(
                "Your code replaced {names}, which the grader uses to check results. "
                "This test scores 0; the originals were restored for the other tests.",
                "Tu código sustituyó {names}, que el corrector usa para comprobar resultados. "
                "Este test puntúa 0; se restauraron los originales para los demás tests.",
            ).format(names=", ".join(changed))))
            report.outcome = "failed"
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            result.update(status="skipped", feedback=reason.removeprefix("Skipped: "))
        elif report.failed:
            task = _task_of(item)
            result.update(status="failed",
                          feedback=explain(call.excinfo.value, self.assignment.tasks.get(task),
                                           self.submission.directory))

    def pytest_runtest_logfinish(self, nodeid):
        self.emit("test-end", nodeid=nodeid, **self.outcomes.get(nodeid, {"status": "passed", "feedback": ""}))

    def pytest_sessionfinish(self, session):
        self.emit("done")


@pytest.fixture(scope="session")
def submission(request) -> Submission:
    """The student's modules: ``submission.module("conv_arithmetic")``."""
    return request.config._ag.submission


@pytest.fixture
def progress(request):
    """``progress(done, total, label)``: shown by the supervisor while a long test runs (epochs...)."""
    emit, nodeid = request.config._ag.emit, request.node.nodeid

    def report(done: int, total: int, label: str = "") -> None:
        emit("step", nodeid=nodeid, done=done, total=total, label=label)

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
def cifar():
    """Real CIFAR-10 for graders that train: ((train images, labels), (test images, labels)), uint8 (N, 32, 32, 3).

    Tests using it are skipped, with the reason, where the data set is not configured.
    """
    from autograder import data
    try:
        return data.load_cifar10("train", progress=False), data.load_cifar10("test", progress=False)
    except data.DatasetNotFound as exc:
        pytest.skip(f"grader configuration: {exc}")


def _task_of(item) -> str | None:
    marker = item.get_closest_marker("task")
    return str(marker.args[0]) if marker and marker.args else None


def _describe(item) -> dict:
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    suite = Path(str(item.path)).resolve().relative_to(course.GRADERS_DIR.resolve()).parts[1]  # <id>/<suite>/...
    return {
        "nodeid": item.nodeid,
        "function": getattr(item, "originalname", None) or item.name,
        "title": doc[0].strip() if doc else item.name,
        "case": item.callspec.id if hasattr(item, "callspec") else None,
        "task": _task_of(item),
        "suite": suite,
    }


def _innermost(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (Hypothesis may raise one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def explain(exc: BaseException, task, submission: Path) -> str:
    """Feedback for an exception that ended a grader test, without grader source."""
    exc = _innermost(exc)
    if isinstance(exc, GradingFailure):
        return str(exc)
    where = student_frame(exc.__traceback__, submission)
    if isinstance(exc, NotImplementedError) and where:
        name = f"{task.id} ({task.title})" if task else ""
        return str(T("Not implemented yet: task {task} still raises NotImplementedError ({where}).",
                     "Sin implementar: la tarea {task} aún lanza NotImplementedError ({where}).")
                   .format(task=name, where=where))
    if isinstance(exc, SystemExit):
        return str(T("Your code called sys.exit({code!r}) while being graded ({where}). Return a value instead.",
                     "Tu código llamó a sys.exit({code!r}) durante la corrección ({where}). Devuelve un valor.")
                   .format(code=exc.code, where=where or "?"))
    if type(exc).__module__.startswith("hypothesis"):
        if type(exc).__name__ in ("Flaky", "FlakyFailure"):
            return str(T("Your code gave different results for the same input when called twice "
                         "(does it keep state between calls, or use randomness without a seed?).",
                         "Tu código dio resultados distintos para la misma entrada al llamarlo dos veces "
                         "(¿guarda estado entre llamadas o usa azar sin semilla?)."))
        return str(T("Internal grader error ({kind}); please report it to the course staff.",
                     "Error interno del corrector ({kind}); avisa al equipo docente.").format(kind=type(exc).__name__))
    if isinstance(exc, MemoryError):
        return str(T("Your code ran out of memory (the grader allows a fixed amount).",
                     "Tu código se quedó sin memoria (el corrector permite una cantidad fija)."))
    if where:
        return str(T("Your code raised {kind}: {msg} ({where}).",
                     "Tu código lanzó {kind}: {msg} ({where}).")
                   .format(kind=type(exc).__name__, msg=exc, where=where))
    return str(T("The grader could not use what your code returned: {kind}: {msg}. "
                 "Check the return type and shape that the docstring asks for.",
                 "El corrector no pudo usar lo que devolvió tu código: {kind}: {msg}. "
                 "Comprueba el tipo y la forma que pide el docstring.")
               .format(kind=type(exc).__name__, msg=exc))

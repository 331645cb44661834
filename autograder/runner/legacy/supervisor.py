"""LEGACY RUNNER, MARKED FOR REMOVAL: the training assignments (A4-A6) only, until they move to the sandbox.

It runs student code in the same process as the grader's assertions, which
the sandboxed engine (``autograder.runner.session``) exists to prevent. An
assignment uses it only with ``[runner] legacy_in_process = true`` in its
``assignment.toml``; nothing else reaches it.

Run grader tests against a submission in a child process that may die.

The supervisor never imports student code. It starts ``pytest`` in a child
process (a fresh temporary working folder, a memory cap, student's bytecode
never written), reads the child's event file, and enforces the per-test and
the overall time limits. When the child dies or hangs, the supervisor
records why for the test (or the module import) that was running, and starts
a new child for the tests still to run. Every collected test ends with
exactly one :class:`TestOutcome`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import course
from autograder.feedback import T
from autograder.runner.results import TestInfo, TestOutcome

POLL_SECONDS = 0.05
STARTUP_SECONDS = 120  # pytest, torch and the grader tests load before any student code runs


from autograder.runner.session import GraderError  # noqa: E402  (one error type for both runners)

@dataclass
class RunOptions:
    test_timeout: float
    total_timeout: float
    memory_mb: int
    language: str = "en"
    on_progress: object = None  # callable(done: int, total: int, outcome: TestOutcome | None)
    on_step: object = None  # callable(label: str, done: int, total: int): progress inside a long test
    select: str | None = None  # a pytest -k expression: grade only the matching tests (None: all)


@dataclass
class _Child:
    """What the supervisor knows about one running child."""

    process: subprocess.Popen
    events_path: Path
    offset: int = 0
    buffer: bytes = b""
    current_test: str | None = None
    current_import: str | None = None
    deadline: float = 0.0
    started: dict = field(default_factory=dict)
    done: bool = False


def run_tests(assignment: course.Assignment, suites: list[str], submission: Path,
              options: RunOptions) -> tuple[list[TestOutcome], dict[str, str]]:
    """Grade ``submission`` with ``suites``; returns outcomes and broken modules."""
    paths = [str(assignment.suite_dir(s)) for s in suites if assignment.has_suite(s)]
    if not paths:
        raise GraderError(f"assignment {assignment.id} has no {'/'.join(suites)} grader tests")
    start = time.monotonic()
    total_deadline = start + options.total_timeout
    collected: list[TestInfo] | None = None
    results: dict[str, TestOutcome] = {}
    broken: dict[str, str] = {}

    with tempfile.TemporaryDirectory(prefix="autograder-") as scratch_name:
        scratch = Path(scratch_name)
        attempt = 0
        while collected is None or len(results) < len(collected):
            attempt += 1
            remaining = None if collected is None else [t.nodeid for t in collected if t.nodeid not in results]
            progress_before = len(results) + len(broken)
            child = _start_child(assignment, paths, submission, scratch, attempt, remaining, broken, options)
            try:
                collected_now = _watch(child, options, total_deadline, results, broken,
                                       collected is None, len(collected or []))
            finally:
                _stop(child.process)
            if collected is None:
                if collected_now is None:
                    raise GraderError(_child_failure(child, scratch))
                collected = collected_now
            if time.monotonic() >= total_deadline:
                break
            if len(results) + len(broken) == progress_before:
                # A child that settles nothing would be restarted forever.
                raise GraderError(_child_failure(child, scratch))
    for info in collected:
        if info.nodeid not in results:
            results[info.nodeid] = TestOutcome(info, "not-run", str(T(
                "Not run: the submission used up the overall time limit of {s:.0f} s.",
                "No ejecutado: la entrega agotó el tiempo total de {s:.0f} s.").format(s=options.total_timeout)))
    return [results[t.nodeid] for t in collected], broken


def _start_child(assignment, paths, submission, scratch, attempt, remaining, broken, options) -> _Child:
    events = scratch / f"events-{attempt}.jsonl"
    events.touch()
    args = [sys.executable, "-m", "pytest", *paths,
            "-c", str(course.GRADERS_DIR / "pytest.ini"), "--rootdir", str(course.GRADERS_DIR),
            "-p", "autograder.runner.legacy.plugin", "-q", "--no-header", "-p", "no:cacheprovider",
            "--import-mode=importlib",
            "--ag-assignment", assignment.id, "--ag-submission", str(Path(submission).resolve()),
            "--ag-events", str(events)]
    if options.select:
        args += ["-k", options.select]
    if remaining is not None:
        only = scratch / f"only-{attempt}.json"
        only.write_text(json.dumps(remaining), encoding="utf-8")
        args += ["--ag-only", str(only)]
    if broken:
        broken_file = scratch / f"broken-{attempt}.json"
        broken_file.write_text(json.dumps(broken), encoding="utf-8")
        args += ["--ag-broken", str(broken_file)]
    workdir = scratch / f"work-{attempt}"
    workdir.mkdir()
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(course.PACKAGE_DIR.parent), os.environ.get("PYTHONPATH", "")]),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "AUTOGRADER_LANG": options.language,
           "HYPOTHESIS_STORAGE_DIRECTORY": str(scratch / "hypothesis")}
    log = open(scratch / f"child-{attempt}.log", "wb")
    process = subprocess.Popen(args, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, **_isolation(options.memory_mb))
    log.close()
    return _Child(process, events, deadline=time.monotonic() + STARTUP_SECONDS)


def _isolation(memory_mb: int) -> dict:
    """Own process group (to kill everything the submission starts) and a memory cap."""
    if os.name != "posix":
        return {}

    def limit():
        os.setsid()
        try:
            import resource
            cap = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (ImportError, ValueError, OSError):
            pass

    return {"preexec_fn": limit}


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _read_events(child: _Child) -> list[dict]:
    with open(child.events_path, "rb") as handle:
        handle.seek(child.offset)
        data = handle.read()
    child.offset += len(data)
    child.buffer += data
    *lines, child.buffer = child.buffer.split(b"\n")
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def _watch(child, options, total_deadline, results, broken, first_run, total) -> list[TestInfo] | None:
    """Follow one child until it ends, hangs or runs out of time; fill ``results``."""
    collected = None
    progress = options.on_progress or (lambda done, total, outcome: None)
    while True:
        exited = child.process.poll() is not None
        for event in _read_events(child):
            kind = event.get("event")
            now = time.monotonic()
            if kind == "collected":
                collected = [TestInfo(**t) for t in event["tests"]]
                if first_run:
                    total = len(collected)
                    progress(len(results), total, None)
                child.deadline = now + options.test_timeout
            elif kind == "import-start":
                child.current_import = event["module"]
                child.deadline = now + options.test_timeout
            elif kind == "import-end":
                child.current_import = None
                if event.get("error"):
                    broken[event["module"]] = event["error"]
                child.deadline = now + options.test_timeout
            elif kind == "test-start":
                child.current_test = event["nodeid"]
                child.started[event["nodeid"]] = now
                child.deadline = now + options.test_timeout
            elif kind == "test-end" and event.get("nodeid") == child.current_test:
                info = _info(collected, child.current_test)
                if info is not None and child.current_test not in results:
                    outcome = TestOutcome(info, event.get("status", "failed"), event.get("feedback", ""),
                                          now - child.started.get(child.current_test, now))
                    results[child.current_test] = outcome
                    progress(len(results), total, outcome)
                child.current_test = None
                child.deadline = now + options.test_timeout
            elif kind == "step" and options.on_step is not None:
                options.on_step(str(event.get("label", "")), int(event.get("done", 0)), int(event.get("total", 0)))
            elif kind == "done":
                child.done = True
        if child.done or exited:
            if not child.done:
                _record_death(child, collected, results, broken, _exit_reason(child.process.returncode), "crashed",
                              progress, total)
            return collected
        now = time.monotonic()
        out_of_total = collected is not None and now >= total_deadline
        if now >= child.deadline or out_of_total:
            overall = out_of_total and now < child.deadline
            _stop(child.process)
            _record_death(child, collected, results, broken, _timeout_reason(options, overall),
                          "timeout", progress, total)
            return collected
        time.sleep(POLL_SECONDS)


def _info(collected, nodeid):
    return next((t for t in collected or [] if t.nodeid == nodeid), None)


def _exit_reason(code) -> T:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        if name == "SIGKILL":
            return T("the grading process was killed (signal SIGKILL), most often for using more memory than allowed",
                     "el proceso de corrección fue terminado (señal SIGKILL), casi siempre por usar más memoria de la permitida")
        return T("the Python process crashed with signal {n}", "el proceso de Python se cayó con la señal {n}").format(n=name)
    return T("the Python process ended abruptly (exit code {c}): os._exit(), a crash or pytest.exit() in the submission",
             "el proceso de Python terminó de golpe (código {c}): os._exit(), un fallo grave o pytest.exit() en la entrega").format(c=code)


def _timeout_reason(options, overall: bool) -> T:
    if overall:
        return T("the submission used up the overall time limit of {s:.0f} s",
                 "la entrega agotó el tiempo total de {s:.0f} s").format(s=options.total_timeout)
    return T("it did not finish within the time limit of {s:.0f} s (an endless loop, or far too slow)",
             "no terminó dentro del tiempo límite de {s:.0f} s (un bucle infinito o algo demasiado lento)").format(s=options.test_timeout)


def _record_death(child, collected, results, broken, reason: T, status: str, progress, total) -> None:
    """Charge an abrupt end to the module being imported, or else to the running test."""
    if child.current_import is not None:
        broken[child.current_import] = str(T(
            "Importing {m}.py failed: {why}. Nothing that needs this module can be graded.",
            "Importar {m}.py falló: {why}. No se puede corregir nada que necesite este módulo.",
        ).format(m=child.current_import, why=reason))
        return
    info = _info(collected, child.current_test)
    if info is not None and child.current_test not in results:
        outcome = TestOutcome(info, status, str(T("This test scores 0: {why}.",
                                                  "Este test puntúa 0: {why}.").format(why=reason)),
                              time.monotonic() - child.started.get(child.current_test, time.monotonic()))
        results[child.current_test] = outcome
        progress(len(results), total, outcome)


def _child_failure(child: _Child, scratch: Path) -> str:
    """One-line reason the grading process failed before any test could run."""
    events = [json.loads(line) for line in child.events_path.read_text().splitlines() if line.strip()]
    errors = [e for e in events if e.get("event") == "collect-error"]
    if errors:
        last = errors[0]["text"].strip().splitlines()[-1]
        return f"grader tests could not be collected ({errors[0]['nodeid']}): {last}"
    logs = sorted(scratch.glob("child-*.log"))
    tail = logs[-1].read_text(errors="replace").strip().splitlines()[-1:] if logs else []
    return f"the grading process stopped before running any test (exit code {child.process.returncode}): " \
           + (tail[0] if tail else "no output")

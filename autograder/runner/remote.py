"""The submission as grader tests see it: proxies that look like the student's modules.

``ca = sandbox.module("conv_arithmetic")`` gives an object whose functions,
when called, run in the student process (:mod:`channel`) and return plain
data decoded by :mod:`autograder.sandbox.wire`. Objects that are not plain
data stay in the student process and come back as :class:`Remote` handles,
which can be called, have their methods called, and be passed back as
arguments. An exception raised by student code comes back as a
:class:`StudentRaised` that is also an instance of the matching built-in
exception (``ValueError``...), so ``check_raises(ValueError, ...)`` works.

The :class:`Sandbox` owns the student process: it starts it on demand,
copies the submission and the sandbox runtime where the process can read
them, charges student CPU and wall time to the test in progress, and after
a crash, a hang or a protocol violation fails that test with a
:class:`SandboxFailure` and starts a fresh process for the next one.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import weakref
from pathlib import Path

from autograder import course
from autograder.feedback import GradingFailure, T
from autograder.runner.channel import Budget, Limits, StudentFailure, StudentProcess, describe_exit
from autograder.runner.isolation import Isolation, share_with_student
from autograder.sandbox import wire

SANDBOX_DIR = course.PACKAGE_DIR / "sandbox"
SUBMISSION_LIMIT = 64 << 20  # bytes of a submission copied for the student process
# Built-in exceptions a student exception may be re-raised as (the most specific one found in its MRO).
EXCEPTIONS = {cls.__name__: cls for cls in (
    NotImplementedError, ValueError, TypeError, IndexError, KeyError, LookupError, AttributeError,
    ZeroDivisionError, OverflowError, FloatingPointError, ArithmeticError, RecursionError, RuntimeError,
    AssertionError, MemoryError, PermissionError, FileNotFoundError, IsADirectoryError, OSError,
    ModuleNotFoundError, ImportError, NameError, UnboundLocalError, StopIteration, UnicodeError,
    KeyboardInterrupt, Exception)}


class SubmissionError(GradingFailure):
    """The submission cannot be used for this test; the message says why."""


class MissingFunction(SubmissionError, AttributeError):
    """A function the grader needs is not in the student's module."""


class SandboxFailure(BaseException):
    """The student process crashed, hung or broke the protocol during this test.

    A ``BaseException``: no grader's ``except Exception`` can mistake it for
    an exception of student code, and Hypothesis does not replay the example.
    """

    def __init__(self, feedback: str, status: str, why: str = ""):
        super().__init__(feedback)
        self.feedback, self.status, self.why = feedback, status, why or feedback


class StudentRaised(Exception):
    """An exception raised by student code; ``where`` is the line of the submission it came from."""

    type_name = "Exception"
    where: str | None = None

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


_raised_classes: dict[type, type] = {}


def student_exception(info: dict) -> StudentRaised:
    """A local exception standing for the one student code raised (``info`` from the worker, untrusted)."""
    bases = info.get("bases") if isinstance(info.get("bases"), list) else []
    base = next((EXCEPTIONS[name] for name in bases if isinstance(name, str) and name in EXCEPTIONS), Exception)
    cls = _raised_classes.get(base)
    if cls is None:
        cls = type(f"Student{base.__name__}", (StudentRaised, base), {})
        _raised_classes[base] = cls
    message = info.get("message") if isinstance(info.get("message"), str) else ""
    exc = cls(message)
    exc.type_name = wire.clean_text(str(info.get("type", base.__name__)), 120)
    exc.where = describe_where(info.get("where"))
    return exc


def describe_where(where) -> str | None:
    """``"file.py, line N, in f: code"`` (in the course's language) from the worker's untrusted description."""
    if not isinstance(where, dict):
        return None
    text = str(T("{file}, line {line}, in {function}", "{file}, línea {line}, en {function}").format(
        file=wire.clean_text(str(where.get("file", "?")), 100), line=wire.clean_text(str(where.get("line", "?")), 20),
        function=wire.clean_text(str(where.get("function", "?")), 100)))
    code = where.get("code")
    if isinstance(code, str) and code:
        text += ": " + code
    return wire.clean_text(text, 300)


class Remote:
    """An object that lives in the student process (a model, an optimizer, a value that is not plain data)."""

    __slots__ = ("_sandbox", "_id", "_generation", "type_name", "__weakref__")

    def __init__(self, sandbox: "Sandbox", handle: int, type_name: str):
        self._sandbox, self._id, self._generation = sandbox, handle, sandbox.generation
        self.type_name = type_name
        weakref.finalize(self, sandbox.release, handle, sandbox.generation)

    def __call__(self, *args, **kwargs):
        return self._sandbox.call({"$": "h", "id": self._id}, None, args, kwargs, owner=self)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteMethod(self, name)

    def get(self, name: str):
        """The value of attribute ``name`` of the remote object."""
        return self._sandbox.get({"$": "h", "id": self._id}, name, owner=self)

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


class RemoteMethod:
    def __init__(self, owner: Remote, name: str):
        self.owner, self.name = owner, name

    def __call__(self, *args, **kwargs):
        owner = self.owner
        return owner._sandbox.call({"$": "h", "id": owner._id}, self.name, args, kwargs, owner=owner)

    def __repr__(self) -> str:
        return f"<method {self.name} of a {self.owner.type_name} object>"


class RemoteFunction:
    """A function of a student module or of a sandbox-side helper module."""

    def __init__(self, sandbox: "Sandbox", tag: str, module: str, name: str):
        self.sandbox, self.tag, self.module, self.name = sandbox, tag, module, name

    @property
    def node(self) -> dict:
        return {"$": self.tag, "m": self.module, "n": self.name}

    def __call__(self, *args, **kwargs):
        if self.tag == "fn":
            self.sandbox.ensure_imported(self.module)
        return self.sandbox.call(self.node, None, args, kwargs)

    def timed(self, *args, **kwargs) -> tuple[object, float]:
        """(result, CPU seconds the student process used for the call, measured from outside)."""
        if self.tag == "fn":
            self.sandbox.ensure_imported(self.module)
        return self.sandbox.call(self.node, None, args, kwargs, timed=True)

    def __repr__(self) -> str:
        return f"<function {self.module}.{self.name}>"


class StudentModule:
    """A student's module; a missing function fails the test with a clear message."""

    def __init__(self, sandbox: "Sandbox", name: str, names: list[str]):
        self._sandbox, self._name, self._names = sandbox, name, set(names)

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("__") or name not in self._names:
            raise MissingFunction(str(T(
                "{file} has no function {name}: it may have been renamed or deleted. "
                "Keep the names and signatures of the template.",
                "{file} no tiene la función {name}: puede que se haya renombrado o borrado. "
                "Conserva los nombres y las firmas de la plantilla.",
            ).format(file=f"{self._name}.py", name=name)))
        return RemoteFunction(self._sandbox, "fn", self._name, name)


class Helpers:
    """A sandbox-side helper module (``autograder/sandbox/helpers/<name>.py``), run next to student code."""

    def __init__(self, sandbox: "Sandbox", name: str):
        self._sandbox, self._name = sandbox, name

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteFunction(self._sandbox, "helper", self._name, name)


class Sandbox:
    """The student process of one grading run, with the per-test time accounting."""

    def __init__(self, submission: Path, isolation: Isolation, limits: Limits, *, test_cpu: float,
                 wall_factor: float, total_seconds: float, extra_read: list[str] = (), preload: list[str] = ()):
        self.source = Path(submission).resolve()
        self.isolation, self.limits = isolation, limits
        self.test_cpu, self.wall_factor = test_cpu, wall_factor
        self.deadline = time.monotonic() + total_seconds
        self.total_seconds = total_seconds
        self.extra_read, self.preload = list(extra_read), list(preload)
        self.root = Path(tempfile.mkdtemp(prefix="autograder-"))
        self.runtime = self.root / "runtime"
        shutil.copytree(SANDBOX_DIR, self.runtime / "sandbox", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        self.directory = self.root / "submission"
        copy_submission(self.source, self.directory)
        share_with_student(isolation, self.root, read=[self.runtime, self.directory])
        self.process: StudentProcess | None = None
        self.generation = 0
        self.imported: set[str] = set()
        self.broken: dict[str, str] = {}
        self.released: list[int] = []
        self._names: dict[str, list[str]] = {}
        self.failure: SandboxFailure | None = None
        self.startup_error: str | None = None  # set when the machine cannot start a student process at all
        self.cpu_left = self.wall_left = float("inf")
        self.test_cpu_limit = self.test_wall_limit = float("inf")

    # -- lifecycle ------------------------------------------------------------------------------
    def begin_test(self, cpu_seconds: float | None = None) -> None:
        """Start charging a new test: fresh CPU and wall budgets, no failure yet."""
        self.test_cpu_limit = cpu_seconds or self.test_cpu
        self.test_wall_limit = self.test_cpu_limit * self.wall_factor
        self.cpu_left, self.wall_left = self.test_cpu_limit, self.test_wall_limit
        self.failure = None

    def end_test(self) -> None:
        """The test is over: nothing of the student tree runs until the next request (see StudentProcess.freeze)."""
        self.failure = None
        if self.process is not None:
            self.process.freeze()

    @property
    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def close(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def launch(self) -> None:
        """Start the student process now, in the background (it imports its preloads while pytest collects)."""
        if self.process is None:
            self.process = self._new_process()
            self.process.launch()

    def _new_process(self) -> StudentProcess:
        scratch = self.root / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        share_with_student(self.isolation, self.root, write=[scratch])
        self.generation += 1
        self.imported.clear()
        self.released.clear()
        return StudentProcess(self.runtime, self.directory, scratch, [self.root], self.isolation,
                              self.limits, self.extra_read, self.preload)

    def _ensure_process(self) -> StudentProcess:
        if self.process is not None and self.process.alive:
            try:
                self.process.wait_ready()
                return self.process
            except StudentFailure as failure:
                self._startup_failed(failure)
        if self.process is not None:
            self.process.stop()
        self.process = self._new_process()
        try:
            self.process.start()
        except StudentFailure as failure:
            self._startup_failed(failure)
        return self.process

    def _startup_failed(self, failure: StudentFailure):
        self.startup_error = failure.reason + (f": {failure.detail}" if failure.detail else "")
        raise SandboxFailure(str(T("Grader error: the student process could not be started.",
                                   "Error del corrector: no se pudo iniciar el proceso del estudiante.")),
                             "failed") from None

    # -- modules -------------------------------------------------------------------------------
    def module(self, name: str) -> StudentModule:
        """The student's module ``name`` (imported now, so an import error fails the caller)."""
        names = self.ensure_imported(name)
        return StudentModule(self, name, names)

    def helpers(self, name: str) -> Helpers:
        return Helpers(self, name)

    def ensure_imported(self, name: str) -> list[str]:
        if name in self.broken:
            raise SubmissionError(self.broken[name])
        process = self._ensure_process()
        if name in self.imported and process is self.process:
            return self._names[name]
        if not (self.directory / f"{name}.py").is_file():
            self.broken[name] = str(T("{file} was not found in the submission folder {dir}.",
                                      "No se encontró {file} en la carpeta de la entrega {dir}.")
                                    .format(file=f"{name}.py", dir=self.source))
            raise SubmissionError(self.broken[name])
        try:
            reply, out = self._request({"op": "import", "module": name}, [])
        except SandboxFailure as failure:
            self.broken[name] = str(T("Importing {m}.py failed: {why}. Nothing that needs this module can be graded.",
                                      "Importar {m}.py falló: {why}. No se puede corregir nada que necesite este "
                                      "módulo.").format(m=name, why=failure.why))
            raise SubmissionError(self.broken[name]) from None
        if "ok" not in reply:
            self.broken[name] = import_failure(name, reply)
            raise SubmissionError(self.broken[name])
        ok = self._result(reply, out)
        names = ok.get("names") if isinstance(ok, dict) and isinstance(ok.get("names"), list) else []
        self._names[name] = [str(n) for n in names if isinstance(n, str)]
        self.imported.add(name)
        return self._names[name]

    # -- calls ---------------------------------------------------------------------------------
    def release(self, handle: int, generation: int) -> None:
        if generation == self.generation:
            self.released.append(handle)

    def _reference(self, value):
        """How trusted objects passed as arguments travel: handles and function references only."""
        if isinstance(value, Remote):
            if value._generation != self.generation:
                raise self._lost()
            return {"$": "h", "id": value._id}
        if isinstance(value, RemoteFunction):
            if value.tag == "fn":
                self.ensure_imported(value.module)
            return value.node
        raise TypeError(f"a {type(value).__name__} cannot be sent to the student process")

    def _lost(self) -> SandboxFailure:
        return SandboxFailure(str(T(
            "An object your code returned earlier was lost when the student process was restarted.",
            "Un objeto que devolvió tu código se perdió al reiniciarse el proceso del estudiante.")), "failed")

    def call(self, target: dict, method: str | None, args, kwargs, owner: Remote | None = None, timed=False):
        if owner is not None and owner._generation != self.generation:
            raise self._lost()
        tree, buffers = wire.encode((list(args), dict(kwargs)), self._reference)
        header = {"op": "call", "target": target, "method": method, "value": tree}
        reply, out = self._request(header, buffers)
        seconds = self.process.last_cpu if timed and self.process else 0.0
        value = self._charged_result(reply, out)
        return (value, seconds) if timed else value

    def get(self, target: dict, name: str, owner: Remote | None = None):
        if owner is not None and owner._generation != self.generation:
            raise self._lost()
        reply, out = self._request({"op": "get", "target": target, "name": name}, [])
        return self._charged_result(reply, out)

    def _charged_result(self, reply: dict, buffers: list):
        """The value of a reply; the CPU time this process spends decoding it is charged to the test in
        progress, like the student's own (a reply of a million values costs what reading it costs)."""
        start = time.thread_time()
        try:
            return self._result(reply, buffers)
        finally:
            self.cpu_left -= time.thread_time() - start

    def _result(self, reply: dict, buffers: list):
        if "ok" in reply:
            try:
                return wire.decode(reply["ok"], buffers, self._handle)
            except wire.ProtocolError as exc:
                raise self._broken_wire(str(exc)) from None
        if isinstance(reply.get("raised"), dict):
            raise student_exception(reply["raised"])
        if "exit" in reply:
            raise SubmissionError(str(T(
                "Your code called sys.exit({code}) while being graded. Return a value instead.",
                "Tu código llamó a sys.exit({code}) durante la corrección. Devuelve un valor.")
                .format(code=wire.clean_text(str(reply["exit"]), 100))))
        if "unsendable" in reply:
            raise GradingFailure(str(T(
                "Your code returned a value that cannot be sent to the grader: {why}.",
                "Tu código devolvió un valor que no se puede enviar al corrector: {why}.")
                .format(why=wire.clean_text(str(reply["unsendable"]), 300))))
        raise self._broken_wire("a reply of unknown kind")

    def _broken_wire(self, why: str) -> SandboxFailure:
        if self.process is not None:
            self.process.stop()
        failure = SandboxFailure(str(T(
            "This test scores 0: the student process sent a reply the grader cannot accept ({why}).",
            "Este test puntúa 0: el proceso del estudiante envió una respuesta que el corrector no acepta ({why}).")
            .format(why=why)), "failed")
        self.failure = failure
        return failure

    def _handle(self, node: dict) -> Remote:
        if node.get("$") != "h" or type(node.get("id")) is not int:
            raise wire.ProtocolError(f"a value of unknown kind {str(node.get('$'))[:20]!r}")
        return Remote(self, node["id"], wire.clean_text(str(node.get("type", "?")), 120))

    def _request(self, header: dict, buffers: list) -> tuple[dict, list]:
        """One round trip, charged to the test in progress; failures cost that test only."""
        if self.failure is not None:
            raise self.failure
        process = self._ensure_process()
        if self.released:
            header["release"], self.released = self.released, []
        budget = Budget(cpu=self.cpu_left, wall=self.wall_left, deadline=self.deadline,
                        cpu_limit=self.test_cpu_limit, wall_limit=self.test_wall_limit)
        start_wall, reading = time.monotonic(), time.thread_time()
        try:
            reply = process.request(header, buffers, budget)
        except StudentFailure as failure:
            why = self._explain(failure)
            self.failure = SandboxFailure(str(T("This test scores 0: {why}.", "Este test puntúa 0: {why}.")
                                              .format(why=why)), _STATUS.get(failure.kind, "crashed"), str(why))
            raise self.failure from None
        finally:
            self.wall_left -= time.monotonic() - start_wall
        self.cpu_left -= process.last_cpu + (time.thread_time() - reading)  # and the reading of its reply here
        return reply

    def _explain(self, failure: StudentFailure) -> T:
        if failure.kind == "timeout":
            if failure.reason == "overall":
                why = T("the submission used up the overall time limit of {s:.0f} s",
                        "la entrega agotó el tiempo total de {s:.0f} s").format(s=self.total_seconds)
            elif failure.reason == "cpu":
                why = T("it did not finish within the time limit of {s:g} s of CPU time (an endless loop, or far "
                        "too slow; reading what it returns counts too)", "no terminó dentro del límite de {s:g} s "
                        "de CPU (un bucle infinito o algo demasiado lento; leer lo que devuelve también cuenta)"
                        ).format(s=self.test_cpu_limit)
            else:
                why = T("it did not finish within {s:g} s of waiting (it stopped answering: blocked, sleeping or "
                        "far too slow)", "no terminó tras {s:g} s de espera (dejó de responder: bloqueado, dormido "
                        "o demasiado lento)").format(s=self.test_wall_limit)
        elif failure.kind == "disk":
            why = T("it wrote more than {mb} MB to its scratch folder", "escribió más de {mb} MB en su carpeta de "
                    "trabajo").format(mb=self.limits.scratch_mb)
        elif failure.kind == "protocol":
            why = T("the student process broke the grading protocol: {r}",
                    "el proceso del estudiante rompió el protocolo de corrección: {r}").format(r=failure.reason)
        else:
            why = crash_reason(self.process.exit if self.process else None, failure.reason, self.limits)
        return why


_STATUS = {"timeout": "timeout", "crashed": "crashed", "disk": "crashed", "protocol": "failed"}


def crash_reason(exit: dict | None, reason: str, limits: Limits) -> T:
    """Why the student process ended, in the course's words."""
    exit = exit or {}
    name = reason.removeprefix("signal ")
    if exit.get("syscall"):
        return T("the student process made the system call {call}, which the sandbox does not allow, and was "
                 "stopped (graded code needs only Python, NumPy and PyTorch)",
                 "el proceso del estudiante hizo la llamada al sistema {call}, que el entorno aislado no permite, "
                 "y se detuvo (el código corregido solo necesita Python, NumPy y PyTorch)").format(call=exit["syscall"])
    if exit.get("memory"):
        return T("the student process and the processes it started used more than {mb} MB of memory together",
                 "el proceso del estudiante y los que inició usaron juntos más de {mb} MB de memoria"
                 ).format(mb=limits.memory_mb)
    if name == "SIGSYS":
        return T("the student process made a system call the sandbox does not allow (signal SIGSYS)",
                 "el proceso del estudiante hizo una llamada al sistema que el entorno aislado no permite "
                 "(señal SIGSYS)")
    if name == "SIGKILL":
        return T("the student process was killed (signal SIGKILL), most often for using more memory than allowed",
                 "el proceso del estudiante fue terminado (señal SIGKILL), casi siempre por usar más memoria de la "
                 "permitida")
    if name == "SIGXCPU":
        return T("the student process used up its CPU time", "el proceso del estudiante agotó su tiempo de CPU")
    if name == "SIGXFSZ":
        return T("the student process wrote a file larger than {mb} MB",
                 "el proceso del estudiante escribió un archivo de más de {mb} MB").format(mb=limits.scratch_mb)
    if reason.startswith("signal "):
        return T("the Python process crashed with signal {n}", "el proceso de Python se cayó con la señal {n}").format(n=name)
    code = exit.get("code")
    return T("the Python process ended abruptly (exit code {c}): os._exit(), a crash or a killed process",
             "el proceso de Python terminó de golpe (código {c}): os._exit(), un fallo grave o un proceso "
             "terminado").format(c=code if code is not None else "?")


def import_failure(module: str, reply: dict) -> str:
    """Feedback for an import that raised (syntax error, exception, sys.exit)."""
    file = f"{module}.py"
    if "exit" in reply:
        return str(T("{file} calls sys.exit({code}) when it is imported. Remove it: a module must only define "
                     "functions.", "{file} llama a sys.exit({code}) al importarse. Elimínalo: un módulo solo debe "
                     "definir funciones.").format(file=file, code=wire.clean_text(str(reply["exit"]), 100)))
    info = reply.get("raised") if isinstance(reply.get("raised"), dict) else {}
    if "SyntaxError" in (info.get("bases") or []):
        return str(T("{file} has a syntax error at line {line}: {msg}. Nothing in it can be graded until it is fixed.",
                     "{file} tiene un error de sintaxis en la línea {line}: {msg}. No se puede corregir nada hasta "
                     "arreglarlo.").format(file=file, line=info.get("line"), msg=wire.clean_text(str(info.get("msg")), 200)))
    if not info:
        return str(T("importing {file} failed: {why}.", "al importar {file} falló: {why}.")
                   .format(file=file, why=wire.clean_text(str(reply.get("unsendable", "?")), 200)))
    exc = student_exception(info)
    return str(T("importing {file} raised {kind}: {msg} ({where}).", "al importar {file} se lanzó {kind}: {msg} ({where}).")
               .format(file=file, kind=exc.type_name, msg=exc, where=exc.where or file))


def copy_submission(source: Path, target: Path) -> None:
    """Copy the regular files of ``source`` to ``target``: no links, no special or hidden files, no caches,
    at most SUBMISSION_LIMIT bytes."""
    target.mkdir(parents=True)
    copied = 0
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__"
                         and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            path = Path(folder, name)
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            copied += path.stat().st_size
            if copied > SUBMISSION_LIMIT:
                raise SubmissionTooLarge(str(T("{folder} holds more than {mb} MB of files",
                                               "{folder} contiene más de {mb} MB de archivos")
                                             .format(folder=source, mb=SUBMISSION_LIMIT >> 20)))
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


class SubmissionTooLarge(Exception):
    """A submission folder too large to be a set of modules (a data set, a virtual environment...)."""

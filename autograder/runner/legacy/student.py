"""LEGACY RUNNER, MARKED FOR REMOVAL (see ``supervisor.py``): importing student modules in the grading process.

Each module is imported once, from the submission folder only, and every
way an import can go wrong (syntax error, exception, ``sys.exit()``, a
missing file) becomes a :class:`SubmissionError` whose message is the
feedback. A process-ending import (``os._exit``, a crash, an endless loop)
is caught one level up by the supervisor, which tells the next grading
process through ``broken`` that the module must not be imported again.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from autograder.feedback import T, GradingFailure


class SubmissionError(GradingFailure):
    """The submission cannot be used for this test; the message says why."""


def student_frame(tb, submission: Path) -> str | None:
    """``"file.py, line N, in f: code"`` for the innermost frame in the submission."""
    where = None
    for frame in traceback.extract_tb(tb):
        try:
            inside = Path(frame.filename).resolve().is_relative_to(submission)
        except (OSError, ValueError):
            inside = False
        if inside:
            where = f"{Path(frame.filename).name}, line {frame.lineno}, in {frame.name}"
            if frame.line and not frame.line.rstrip().endswith(("(", "[", "{", ",")):
                where += f": {frame.line.strip()}"
    return where


class MissingFunction(SubmissionError, AttributeError):
    """A function the grader needs is not in the student's module."""


class StudentModule:
    """A student's module; a missing function fails the test with a clear message."""

    def __init__(self, module, filename: str):
        self._module, self._filename = module, filename

    def __getattr__(self, name: str):
        try:
            return getattr(self._module, name)
        except AttributeError:
            raise MissingFunction(str(T(
                "{file} has no function {name}: it may have been renamed or deleted. "
                "Keep the names and signatures of the template.",
                "{file} no tiene la función {name}: puede que se haya renombrado o borrado. "
                "Conserva los nombres y las firmas de la plantilla.",
            ).format(file=self._filename, name=name))) from None


class Submission:
    """The student's modules, imported on first use and cached (errors too)."""

    def __init__(self, directory: Path, broken: dict[str, str], emit):
        self.directory = Path(directory).resolve()
        self._broken = dict(broken)
        self._emit = emit
        self._modules: dict[str, StudentModule] = {}

    def module(self, name: str) -> StudentModule:
        if name in self._modules:
            return self._modules[name]
        if name in self._broken:
            raise SubmissionError(self._broken[name])
        self._emit("import-start", module=name)
        try:
            loaded = StudentModule(self._import(name), f"{name}.py")
        except SubmissionError as exc:
            self._broken[name] = str(exc)
            self._emit("import-end", module=name, error=str(exc))
            raise
        self._emit("import-end", module=name, error=None)
        self._modules[name] = loaded
        return loaded

    def _import(self, name: str):
        path = self.directory / f"{name}.py"
        if not path.is_file():
            raise SubmissionError(str(T(
                "{file} was not found in the submission folder {dir}.",
                "No se encontró {file} en la carpeta de la entrega {dir}.",
            ).format(file=path.name, dir=self.directory)))
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            self._explain_import_failure(path)
        return module

    def _explain_import_failure(self, path: Path):
        """Re-raise the exception being handled as a SubmissionError that explains it."""
        try:
            raise
        except SyntaxError as exc:
            raise SubmissionError(str(T(
                "{file} has a syntax error at line {line}: {msg}. Nothing in it can be graded until it is fixed.",
                "{file} tiene un error de sintaxis en la línea {line}: {msg}. No se puede corregir nada hasta arreglarlo.",
            ).format(file=path.name, line=exc.lineno, msg=exc.msg))) from None
        except SystemExit as exc:
            raise SubmissionError(str(T(
                "{file} calls sys.exit({code!r}) when it is imported. Remove it: a module must only define functions.",
                "{file} llama a sys.exit({code!r}) al importarse. Elimínalo: un módulo solo debe definir funciones.",
            ).format(file=path.name, code=exc.code))) from None
        except BaseException as exc:  # anything else raised while the module body runs
            where = student_frame(exc.__traceback__, self.directory) or path.name
            raise SubmissionError(str(T(
                "importing {file} raised {kind}: {msg} ({where}).",
                "al importar {file} se lanzó {kind}: {msg} ({where}).",
            ).format(file=path.name, kind=type(exc).__name__, msg=exc, where=where))) from None

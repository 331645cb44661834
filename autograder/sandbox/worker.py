"""The student process: imports the submission's modules and runs calls the grader asks for.

Started by the warden, already confined, as
``python -I -c <bootstrap> <runtime> <request fd> <reply fd> <config JSON>``.
It reads one request frame at a time and answers with one reply frame:

- ``{"op": "import", "module": m}`` -> ``{"ok": {"names": [...]}}``: imports
  ``m.py`` from the submission folder;
- ``{"op": "call", "target": T, "method": name?, "value": (args, kwargs)}``
  -> ``{"ok": value}``: calls a student function, a helper, a handle or a
  handle's method;
- ``{"op": "get", "target": T, "name": a}`` -> ``{"ok": value}``: an attribute;
- any request may carry ``"release": [ids]``: handles the grader dropped.

Every reply may instead be ``{"raised": {...}}`` (student code raised),
``{"exit": code}`` (``sys.exit``) or ``{"unsendable": why}``. Objects that are
not plain data stay here in a table and travel as handles.

Nothing here is trusted: the grader checks every reply. This module imports
only the wire codec and the standard library (plus what student code imports).
"""
from __future__ import annotations

import builtins
import importlib
import importlib.util
import os
import sys
import traceback

from . import wire

MAX_MESSAGE = 256
MAX_REPLY_BYTES = 1 << 30


class Worker:
    def __init__(self, submission: str, max_reply_bytes: int):
        self.submission = os.path.realpath(submission)
        self.max_reply_bytes = max_reply_bytes
        self.modules: dict[str, object] = {}
        self.objects: dict[int, object] = {}
        self.next_id = 1

    # -- handles --------------------------------------------------------------------------------
    def keep(self, value) -> dict:
        handle = self.next_id
        self.next_id += 1
        self.objects[handle] = value
        return {"$": "h", "id": handle, "type": type_name(value)}

    def resolve(self, node):
        tag = node.get("$")
        if tag == "h":
            try:
                return self.objects[node["id"]]
            except (KeyError, TypeError):
                raise LookupError("an object that no longer exists in the student process") from None
        if tag == "fn":
            module = self.modules.get(node.get("m"))
            if module is None:
                raise LookupError(f"module {node.get('m')!r} is not imported")
            return getattr(module, str(node.get("n")))
        if tag == "helper":
            name = str(node.get("m"))
            if not name.isidentifier():
                raise LookupError(f"no helper module {name!r}")
            module = importlib.import_module(f"{__package__}.helpers.{name}")
            return getattr(module, str(node.get("n")))
        raise wire.ProtocolError(f"unknown tag {tag!r}")

    # -- requests ------------------------------------------------------------------------------
    def handle(self, request: dict, buffers: list) -> dict:
        for handle in request.get("release") or []:
            self.objects.pop(handle, None)
        op = request.get("op")
        if op == "import":
            return {"ok": self.import_module(str(request.get("module")))}
        if op == "release":
            return {"ok": None}
        target = wire.decode(request.get("target"), [], self.resolve)
        if op == "get":
            return {"ok": getattr(target, str(request.get("name")))}
        if op == "call":
            args, kwargs = wire.decode(request.get("value"), buffers, self.resolve)
            if request.get("method") is not None:
                target = getattr(target, str(request["method"]))
            return {"ok": target(*args, **kwargs)}
        raise wire.ProtocolError(f"unknown request {op!r}")

    def import_module(self, name: str) -> dict:
        if name in self.modules:
            return {"names": public_names(self.modules[name])}
        path = os.path.join(self.submission, f"{name}.py")
        if not name.isidentifier() or not os.path.isfile(path):
            raise FileNotFoundError(f"{name}.py was not found in the submission")
        if self.submission not in sys.path:
            sys.path.insert(0, self.submission)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        self.modules[name] = module
        return {"names": public_names(module)}

    def answer(self, request: dict, buffers: list) -> tuple[dict, list]:
        """The reply to one request, with its buffers; student exceptions become data."""
        try:
            reply = self.handle(request, buffers)
        except SystemExit as exc:
            return {"exit": short(repr(exc.code))}, []
        except wire.ProtocolError as exc:
            return {"unsendable": short(str(exc))}, []
        except BaseException as exc:  # whatever student code raised (KeyboardInterrupt too)
            return {"raised": self.describe(exc)}, []
        try:
            tree, out = wire.encode(reply["ok"], self.keep, self.max_reply_bytes)
        except (wire.Unsendable, RecursionError) as exc:
            return {"unsendable": short(str(exc) or type(exc).__name__)}, []
        except BaseException as exc:  # a __len__ or __iter__ of student code raised while encoding
            return {"raised": self.describe(exc)}, []
        return {"ok": tree}, out

    def describe(self, exc: BaseException) -> dict:
        """What the grader needs of an exception: types, message, where in the submission."""
        try:
            message = str(exc)
        except BaseException:  # a __str__ that raises
            message = "<the exception's message could not be read>"
        info = {"type": type_name(exc), "bases": builtin_bases(exc), "message": short(message),
                "where": self.where(exc.__traceback__)}
        if isinstance(exc, SyntaxError):
            info.update(line=exc.lineno if isinstance(exc.lineno, int) else None, msg=short(str(exc.msg)),
                        file=os.path.basename(str(exc.filename or "")))
        return info

    def where(self, tb) -> dict | None:
        """``{"file", "line", "function", "code"}`` of the innermost frame in the submission (the trusted side
        words it in the course's language); ``code`` is empty for a line that continues on the next."""
        found = None
        try:
            frames = traceback.extract_tb(tb)
        except BaseException:
            return None
        for frame in frames:
            if os.path.realpath(frame.filename).startswith(self.submission + os.sep):
                code = frame.line or ""
                found = {"file": os.path.basename(frame.filename), "line": frame.lineno, "function": frame.name,
                         "code": "" if code.rstrip().endswith(("(", "[", "{", ",")) else short(code.strip())}
        return found


def public_names(module) -> list[str]:
    return sorted(name for name in vars(module) if not name.startswith("__"))[:2000]


def type_name(value) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", kind.__name__)
    return short(name if module in ("builtins", "__main__") else f"{module}.{name}", 120)


def builtin_bases(exc: BaseException) -> list[str]:
    """Names of the built-in exception classes in the exception's MRO, most specific first."""
    return [cls.__name__ for cls in type(exc).__mro__
            if cls.__module__ == "builtins" and getattr(builtins, cls.__name__, None) is cls][:8]


def short(text: str, limit: int = 2000) -> str:
    return wire.clean_text(text, limit)


def serve(request_fd: int, reply_fd: int, submission: str, max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
    worker = Worker(submission, max_reply_bytes)
    wire.write_frame(reply_fd, {"ready": os.getpid()}, [])
    while True:
        try:
            request, buffers = wire.read_frame(request_fd, 1 << 40)
        except EOFError:
            return
        reply, out = worker.answer(request, buffers)
        reply["seq"] = request.get("seq")
        wire.write_frame(reply_fd, reply, out)


def main(argv: list[str]) -> None:
    """``argv``: request fd, reply fd, submission folder, reply size limit, libraries to import first."""
    request_fd, reply_fd, submission, limit = int(argv[0]), int(argv[1]), argv[2], int(argv[3])
    for library in filter(None, argv[4].split(",")):
        try:
            importlib.import_module(library)  # before any student code: startup time, charged to no test
        except ImportError:
            pass
    sys.argv = ["student"]
    serve(request_fd, reply_fd, submission, limit)

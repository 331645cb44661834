"""Checks on a submission's source text, made before it is imported.

``forbidden_imports`` finds imports of libraries an assignment rules out
(NumPy-only assignments refuse torch & co.), in every form: ``import x``,
``from x import y``, ``__import__("x")`` and ``importlib.import_module("x")``,
at any depth of the module.
"""
from __future__ import annotations

import ast
from pathlib import Path

from autograder.feedback import T
from autograder.runner.remote import SubmissionError


MAX_SOURCE = 2_000_000  # characters: a longer file is left for the import to judge


def _banned(name: str, forbidden) -> str | None:
    return next((b for b in forbidden if name == b or name.startswith(b + ".")), None)


def forbidden_imports(source: str, forbidden) -> list[tuple[int, str]]:
    """(line, library) of every import of a ``forbidden`` library (or submodule) in ``source``.

    Returns [] for a source that does not parse (importing it reports the syntax error) or is
    absurdly long. The source is only parsed, never run: this happens in the trusted process.
    """
    if len(source) > MAX_SOURCE:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("__import__", "import_module")):
            names = [node.args[0].value]
        banned = next((b for b in (_banned(n, forbidden) for n in names) if b), None)
        if banned:
            found.append((node.lineno, banned))
    return sorted(found)


def require_no_imports(path: Path, forbidden, why: T) -> None:
    """Fail the test (SubmissionError) if the file at ``path`` imports a ``forbidden`` library.

    ``why`` is formatted with ``file``, ``lib`` and ``line`` of the first offending import.
    A missing or unreadable file is left for the import to report.
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    found = forbidden_imports(source, forbidden)
    if found:
        line, library = found[0]
        raise SubmissionError(str(why.format(file=path.name, lib=library, line=line)))

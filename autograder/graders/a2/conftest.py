"""Fixtures shared by the A2 graders: the student's module, after checking it is NumPy only."""
import ast

import pytest

from autograder.feedback import T
from autograder.runner.student import SubmissionError

MODULE = "conv_numpy"
# Libraries that would do the assignment's work: a module name and its submodules are refused.
FORBIDDEN = ("torch", "tensorflow", "jax", "scipy.signal", "scipy.ndimage")


def _forbidden(name: str) -> str | None:
    for banned in FORBIDDEN:
        if name == banned or name.startswith(banned + "."):
            return banned
    return None


def forbidden_imports(source: str) -> list[tuple[int, str]]:
    """(line, library) for every import of a forbidden library in ``source`` (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the import itself will report the syntax error
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
        for name in names:
            banned = _forbidden(name)
            if banned:
                found.append((node.lineno, banned))
                break
    return found


@pytest.fixture(scope="session")
def cn(submission):
    """The student's conv_numpy module; refused (every test scores 0) if it imports torch & co."""
    path = submission.directory / f"{MODULE}.py"
    if path.is_file():
        found = forbidden_imports(path.read_text(encoding="utf-8", errors="replace"))
        if found:
            line, library = found[0]
            raise SubmissionError(str(T(
                "{file} imports {lib} (line {line}). A2 is NumPy only: the convolution and the pooling must be "
                "written by hand with NumPy, without torch, tensorflow, jax, scipy.signal or scipy.ndimage. "
                "Every test of this module scores 0 until the import is removed.",
                "{file} importa {lib} (línea {line}). La A2 es solo con NumPy: la convolución y el pooling se "
                "escriben a mano con NumPy, sin torch, tensorflow, jax, scipy.signal ni scipy.ndimage. "
                "Todos los tests de este módulo puntúan 0 hasta que se elimine la importación.",
            ).format(file=path.name, lib=library, line=line)))
    return submission.module(MODULE)

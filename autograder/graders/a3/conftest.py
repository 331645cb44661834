"""Fixtures shared by the A3 graders."""
import ast

import pytest

from autograder.feedback import T, fail

FORBIDDEN = ("torch", "tensorflow", "jax")


def forbidden_imports(source: str) -> list[str]:
    """Deep-learning libraries imported by ``source`` (any ``import`` statement, at any depth)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # submission.module() reports the syntax error itself
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
    return sorted(set(found))


@pytest.fixture(scope="session")
def mlp(submission):
    """The student's mlp_backprop module; importing torch, tensorflow or jax in it scores 0."""
    path = submission.directory / "mlp_backprop.py"
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        source = ""  # submission.module() explains a missing or unreadable file
    found = forbidden_imports(source)
    if found:
        fail(T("mlp_backprop.py imports {names}: A3 must be written with NumPy only, so every test that "
               "uses the module scores 0.",
               "mlp_backprop.py importa {names}: la A3 debe hacerse solo con NumPy, así que todos los tests "
               "que usan el módulo puntúan 0.").format(names=", ".join(found)),
             T("remove the import and write the deltas and updates by hand (delta_k, w_jk, eta), "
               "as in the deck.",
               "elimina el import y escribe a mano los deltas y las actualizaciones (delta_k, w_jk, eta), "
               "como en las transparencias."))
    return submission.module("mlp_backprop")

"""Fixtures shared by the A3 graders."""
import pytest

from autograder.feedback import T
from autograder.sourcecheck import require_no_imports

FORBIDDEN = ("torch", "tensorflow", "jax")
NUMPY_ONLY = T(
    "{file} imports {lib} (line {line}): A3 must be written with NumPy only, so every test that uses the module "
    "scores 0. Remove the import and write the deltas and updates by hand (delta_k, w_jk, eta), as in the deck.",
    "{file} importa {lib} (línea {line}): la A3 debe hacerse solo con NumPy, así que todos los tests que usan el "
    "módulo puntúan 0. Elimina el import y escribe a mano los deltas y las actualizaciones (delta_k, w_jk, eta), "
    "como en las transparencias.",
)


@pytest.fixture(scope="session")
def mlp(submission):
    """The student's mlp_backprop module; importing torch, tensorflow or jax in it scores 0."""
    require_no_imports(submission.directory / "mlp_backprop.py", FORBIDDEN, NUMPY_ONLY)
    return submission.module("mlp_backprop")

"""Fixtures shared by the A2 graders: the student's module, after checking it is NumPy only."""
import pytest

from autograder.feedback import T
from autograder.sourcecheck import require_no_imports

MODULE = "conv_numpy"
# Libraries that would do the assignment's work: a module name and its submodules are refused.
FORBIDDEN = ("torch", "tensorflow", "jax", "scipy.signal", "scipy.ndimage")
NUMPY_ONLY = T(
    "{file} imports {lib} (line {line}). A2 is NumPy only: the convolution and the pooling must be "
    "written by hand with NumPy, without torch, tensorflow, jax, scipy.signal or scipy.ndimage. "
    "Every test of this module scores 0 until the import is removed.",
    "{file} importa {lib} (línea {line}). La A2 es solo con NumPy: la convolución y el pooling se "
    "escriben a mano con NumPy, sin torch, tensorflow, jax, scipy.signal ni scipy.ndimage. "
    "Todos los tests de este módulo puntúan 0 hasta que se elimine la importación.",
)


@pytest.fixture(scope="session")
def cn(submission):
    """The student's conv_numpy module; refused (every test scores 0) if it imports torch & co."""
    require_no_imports(submission.directory / f"{MODULE}.py", FORBIDDEN, NUMPY_ONLY)
    return submission.module(MODULE)

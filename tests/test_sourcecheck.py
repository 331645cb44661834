"""Forbidden imports are found in every form, at any depth."""
from autograder.sourcecheck import forbidden_imports

BANNED = ("torch", "jax", "scipy.signal")


def test_every_import_form_is_found_with_its_line():
    source = ("import numpy as np\n"
              "def f():\n"
              "    from torch import nn\n"
              "    import jax.numpy\n"
              "from scipy import signal\n"
              "m = __import__('torch')\n"
              "import importlib; importlib.import_module('jax')\n")
    assert forbidden_imports(source, BANNED) == [(3, "torch"), (4, "jax"), (5, "scipy.signal"), (6, "torch"), (7, "jax")]


def test_allowed_and_unparsable_sources():
    assert forbidden_imports("import numpy as np\nimport scipy.linalg\nimport torchvision_like\n", BANNED) == []
    assert forbidden_imports("def broken(:\n", BANNED) == []  # the import reports the syntax error itself

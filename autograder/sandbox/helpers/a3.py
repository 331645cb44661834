"""A3: calls of student functions that only the student process can make.

``repeated(function, *args)`` calls ``function`` twice on the very same argument objects (arrays sent over
the wire arrive as new arrays on every call, so the grader cannot do it from its side). Whatever comes back
is checked by the grader against its own answer: a function that modifies its arguments in place gives a
different second result.
"""
import numpy as np


def _snapshot(value):
    """``value`` with its arrays copied, so that a later call cannot change what is reported for an earlier one."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (tuple, list):
        return type(value)(_snapshot(v) for v in value)
    return value


def repeated(function, *args, times: int = 2) -> list:
    """The results of ``times`` calls ``function(*args)`` on the same argument objects, in order."""
    return [_snapshot(function(*args)) for _ in range(times)]

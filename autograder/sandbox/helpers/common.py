"""Helpers any assignment may use: watching what student code does to its arguments."""
import numpy as np


def watch(function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and report what it did to its array arguments.

    Returns ``{"result": ..., "changed": [i, ...], "returned_arguments": [j, ...]}``: the
    positions of the NumPy array arguments whose values changed during the call, and the
    positions in the result (a tuple or list, or the result itself as 0) that are argument
    objects themselves rather than new arrays.
    """
    before = {i: a.copy() for i, a in enumerate(args) if isinstance(a, np.ndarray)}
    result = function(*args, **kwargs)
    changed = [i for i, copy in before.items()
               if args[i].shape != copy.shape or not np.array_equal(args[i], copy, equal_nan=True)]
    items = result if isinstance(result, (tuple, list)) else (result,)
    returned = [j for j, item in enumerate(items) if any(item is a for a in args)]
    return {"result": result, "changed": changed, "returned_arguments": returned}

"""Numerical gradient checks (centred differences) with index-level feedback.

``numerical_gradient(f, x)`` differentiates a scalar function;
``numerical_gradient_array(f, x, dout)`` differentiates ``sum(f(x) * dout)``,
which is what a layer's backward pass computes from the upstream gradient
``dout``. ``check_close`` fails a grader test naming the worst index.
"""
from __future__ import annotations

import numpy as np

from autograder.feedback import T, fail


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f(x) / dx by centred differences; ``f`` returns a scalar. ``x`` is restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = float(f(x))
        x[index] = old - h
        minus = float(f(x))
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x: np.ndarray, dout: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``, shape of ``x``."""
    return numerical_gradient(lambda value: np.sum(f(value) * dout), x, h)


def check_close(got, expected: np.ndarray, *, name: str, call: str, rtol: float = 1e-5, atol: float = 1e-7,
                hint: T | str | None = None) -> None:
    """Fail unless ``got`` has ``expected``'s shape and values, naming the worst index."""
    if not isinstance(got, np.ndarray):
        fail(T("{call}: {name} is a {kind}, expected a NumPy array of shape {shape}.",
               "{call}: {name} es un {kind}; se esperaba un array de NumPy de forma {shape}.")
             .format(call=call, name=name, kind=type(got).__name__, shape=expected.shape), hint)
    if got.shape != expected.shape:
        fail(T("{call}: {name} has shape {got}, expected {exp}.", "{call}: {name} tiene forma {got}; se esperaba {exp}.")
             .format(call=call, name=name, got=got.shape, exp=expected.shape), hint)
    if not np.all(np.isfinite(got)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        fail(T("{call}: {name}{index} is {value} (not finite).", "{call}: {name}{index} vale {value} (no es finito).")
             .format(call=call, name=name, index=list(index), value=got[index]), hint)
    error = np.abs(got - expected) - (atol + rtol * np.abs(expected))
    if np.any(error > 0):
        index = np.unravel_index(int(np.argmax(error)), got.shape)
        index = tuple(int(i) for i in index)
        fail(T("{call}: {name}{index} is {got:.6g}, expected {exp:.6g} ({n} of {total} values differ).",
               "{call}: {name}{index} vale {got:.6g}; se esperaba {exp:.6g} ({n} de {total} valores difieren).")
             .format(call=call, name=name, index=list(index), got=float(got[index]), exp=float(expected[index]),
                     n=int(np.sum(error > 0)), total=got.size), hint)

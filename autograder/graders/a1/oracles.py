"""Hints for A1 that name the likely mistake (shipped with the public graders).

The answer key (PyTorch's own layers) is in ``hidden/oracles.py``, which never ships.
"""
from __future__ import annotations

import math

from autograder.feedback import T

FORMULA = T("o = floor((i + 2p - d*(k - 1) - 1) / s) + 1, per dimension (the decks' o = floor((i + 2p - k) / s) + 1 is d = 1).",
            "o = floor((i + 2p - d*(k - 1) - 1) / s) + 1, por dimensión (la fórmula de las transparencias, o = floor((i + 2p - k) / s) + 1, es el caso d = 1).")


def diagnose_conv(got, i, k, s, p, d) -> T:
    """A hint naming the usual mistake that would give ``got`` (one dimension)."""
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return FORMULA
    mistakes = [
        ((i + p - d * (k - 1) - 1) // s + 1,
         T("the padding p is added on both sides of the input: use i + 2p, not i + p.",
           "el relleno p se añade a ambos lados de la entrada: usa i + 2p, no i + p.")),
        ((i + 2 * p - k) // s + 1,
         T("with dilation d the kernel covers d*(k - 1) + 1 pixels, not k.",
           "con dilatación d el kernel abarca d*(k - 1) + 1 píxeles, no k.")),
        ((i + 2 * p - d * (k - 1)) // s + 1,
         T("the effective kernel is d*(k - 1) + 1: the '- 1' is missing (visible when s > 1).",
           "el kernel efectivo es d*(k - 1) + 1: falta el '- 1' (se nota cuando s > 1).")),
        ((i + 2 * p - d * (k - 1) - 1) // s,
         T("count the first position of the window too: the formula ends in + 1.",
           "cuenta también la primera posición de la ventana: la fórmula termina en + 1.")),
        (math.ceil((i + 2 * p - d * (k - 1) - 1) / s) + 1,
         T("a convolution rounds down (floor): a window that does not fit is not computed.",
           "la convolución redondea hacia abajo (floor): una ventana que no cabe no se calcula.")),
    ]
    for wrong, hint in mistakes:
        if got == wrong:
            return hint
    return FORMULA


def diagnose_pool(got, i, k, s, p, d, ceil_mode) -> T:
    """A hint naming the usual pooling mistake that would give ``got`` (one dimension)."""
    span = i + 2 * p - (d * (k - 1) + 1)  # padded input minus the dilated window
    if isinstance(got, int) and not isinstance(got, bool):
        if ceil_mode and got == span // s + 1:
            return T("with ceil_mode=True the division is rounded up (ceil), then the last window is dropped "
                     "if it would start beyond the input and its left padding.",
                     "con ceil_mode=True la división se redondea hacia arriba (ceil) y se descarta la última ventana "
                     "si empezaría más allá de la entrada y su relleno izquierdo.")
        if not ceil_mode and got == math.ceil(span / s) + 1:
            return T("by default (ceil_mode=False) pooling rounds down, like a convolution.",
                     "por defecto (ceil_mode=False) el pooling redondea hacia abajo, como la convolución.")
        if ceil_mode and got == math.ceil(span / s) + 1:
            return T("in ceil_mode PyTorch drops the last window when (o - 1) * s >= i + p.",
                     "en ceil_mode PyTorch descarta la última ventana cuando (o - 1) * s >= i + p.")
    return T("MaxPool2d uses the convolution formula with stride = kernel_size by default; "
             "ceil_mode=True rounds up instead of down.",
             "MaxPool2d usa la fórmula de la convolución con stride = kernel_size por defecto; "
             "ceil_mode=True redondea hacia arriba en lugar de hacia abajo.")

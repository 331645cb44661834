"""PyTorch as the answer key for A2, and hints that name the likely mistake.

Everything runs in float64 so that a correct NumPy implementation agrees to
about 1e-12; the graders allow 1e-6 (relative) plus 1e-8.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from autograder.feedback import T, describe_call, fail
from autograder.gradcheck import check_close
from autograder.runner.remote import StudentRaised

RTOL, ATOL = 1e-6, 1e-8

CROSS_CORRELATION = T(
    "a convolution layer computes a cross-correlation, without flipping the kernel: "
    "out[n, f, i, j] = b[f] + sum over c, u, v of x_pad[n, c, i*s + u*d, j*s + v*d] * w[f, c, u, v], "
    "where x_pad has p zeros on each side; H' = (H + 2p - d*(HH - 1) - 1) // s + 1 (A1's formula).",
    "una capa convolucional calcula una correlación cruzada, sin voltear el kernel: "
    "out[n, f, i, j] = b[f] + suma en c, u, v de x_pad[n, c, i*s + u*d, j*s + v*d] * w[f, c, u, v], "
    "donde x_pad tiene p ceros a cada lado; H' = (H + 2p - d*(HH - 1) - 1) // s + 1 (la fórmula de la A1).")
POOLING = T("max-pooling takes the maximum of each kh x kw window, channel by channel; the windows start every "
            "s pixels (s = kernel_size when stride is None): H' = (H - kh) // s + 1.",
            "el max-pooling toma el máximo de cada ventana kh x kw, canal a canal; las ventanas empiezan cada s "
            "píxeles (s = kernel_size si stride es None): H' = (H - kh) // s + 1.")
CONV_BACKWARD = T("out depends linearly on x, w and b: db[f] sums dout over n, i, j; dw[f, c, u, v] sums "
                  "dout[n, f, i, j] * x_pad[n, c, i*s + u*d, j*s + v*d]; dx adds dout[n, f, i, j] * w[f, c, u, v] "
                  "back to the same positions of x_pad, then drops the padding.",
                  "out depende linealmente de x, w y b: db[f] suma dout sobre n, i, j; dw[f, c, u, v] suma "
                  "dout[n, f, i, j] * x_pad[n, c, i*s + u*d, j*s + v*d]; dx devuelve dout[n, f, i, j] * w[f, c, u, v] "
                  "a esas mismas posiciones de x_pad y después quita el relleno.")
POOL_BACKWARD = T("the gradient of a maximum goes only to the element that was the maximum of its window (the argmax; "
                  "the first one if several tie); the other elements get 0, and overlapping windows add up.",
                  "el gradiente de un máximo va solo al elemento que fue el máximo de su ventana (el argmax; el "
                  "primero si hay empate); los demás reciben 0 y las ventanas que se solapan se suman.")

PADDING_ZERO = T("this case has padding 0, and a slice such as x_pad[:, :, p:-p] is empty when p = 0 (-0 is 0): "
                 "pad with np.pad (which accepts 0), or slice p:p + H; the same when the backward pass drops the "
                 "padding from dx_pad.",
                 "este caso tiene relleno 0, y un corte como x_pad[:, :, p:-p] está vacío cuando p = 0 (-0 es 0): "
                 "rellena con np.pad (que acepta 0) o corta p:p + H; lo mismo cuando el backward quita el relleno "
                 "de dx_pad.")
STRIDE_FLOOR = T("in this case the stride does not divide H + 2p - d*(HH - 1) - 1: the output size rounds down, "
                 "H' = (H + 2p - d*(HH - 1) - 1) // s + 1, and the last rows or columns that do not fill a window "
                 "are left out (no assert that s divides it, no ceil).",
                 "en este caso el stride no divide H + 2p - d*(HH - 1) - 1: el tamaño de salida se redondea hacia "
                 "abajo, H' = (H + 2p - d*(HH - 1) - 1) // s + 1, y las últimas filas o columnas que no llenan una "
                 "ventana se descartan (sin assert de que s lo divida, sin ceil).")


def special_case_hint(x, w, stride, padding, dilation) -> T | None:
    """The hint for what makes a case special where code written for the usual case breaks: a padding of 0,
    or a stride that does not divide the padded size (the output rounds down). None for an ordinary case."""
    s, p, d = pair(stride), pair(padding), pair(dilation)
    spans = [size + 2 * pi - di * (k - 1) - 1 for size, pi, di, k in zip(x.shape[2:], p, d, w.shape[2:])]
    hints = ([PADDING_ZERO] if 0 in p else []) + ([STRIDE_FLOOR] if any(n % si for n, si in zip(spans, s)) else [])
    if len(hints) == 2:
        return T(f"{PADDING_ZERO.en} Also, {STRIDE_FLOOR.en}", f"{PADDING_ZERO.es} Además, {STRIDE_FLOOR.es}")
    return hints[0] if hints else None


def run_student(function, call: str, crash_hint: T | None, *args, **kwargs):
    """``function(*args, **kwargs)``. When the student's code raises an everyday error (ValueError, IndexError,
    AssertionError, TypeError) on a case that ``crash_hint`` explains, the test fails naming that cause."""
    try:
        return function(*args, **kwargs)
    except StudentRaised as exc:
        if crash_hint is None or isinstance(exc, NotImplementedError) or \
                not isinstance(exc, (ValueError, IndexError, AssertionError, TypeError)):
            raise
        fail(T("{call} raised {kind}: {msg} ({where}).", "{call} lanzó {kind}: {msg} ({where}).").format(
            call=call, kind=exc.type_name, msg=str(exc), where=exc.where or "?"), crash_hint)


def shape_hint(got, expected_shape, x, w, stride, padding, dilation) -> T | None:
    """The special-case hint when ``got`` has the wrong shape in a way that case explains: an empty
    dimension with padding 0, or an output size rounded up where the stride does not divide."""
    if not isinstance(got, np.ndarray) or got.shape == tuple(expected_shape):
        return None
    hint = special_case_hint(x, w, stride, padding, dilation)
    if hint is None:
        return None
    if 0 in got.shape and 0 in pair(padding):
        return hint
    if hint is not PADDING_ZERO and got.ndim == len(expected_shape) and got.shape[2:] != tuple(expected_shape[2:]):
        return hint
    return None


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _t(a):
    return None if a is None else torch.tensor(np.asarray(a, dtype=np.float64))


@torch.no_grad()
def conv(x, w, b, stride=1, padding=0, dilation=1) -> np.ndarray:
    """torch.nn.functional.conv2d in float64, as a NumPy array."""
    return F.conv2d(_t(x), _t(w), _t(b), stride=stride, padding=padding, dilation=dilation).numpy()


@torch.no_grad()
def pool(x, kernel_size, stride=None) -> np.ndarray:
    """torch.nn.functional.max_pool2d in float64."""
    return F.max_pool2d(_t(x), kernel_size, stride).numpy()


def conv_grads(dout, x, w, b, stride=1, padding=0, dilation=1):
    """(dx, dw, db) by torch autograd; db is computed even when b is None."""
    xt, wt = _t(x).requires_grad_(), _t(w).requires_grad_()
    bt = (_t(b) if b is not None else torch.zeros(w.shape[0], dtype=torch.float64)).requires_grad_()
    F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation).backward(_t(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def pool_grad(dout, x, kernel_size, stride=None):
    xt = _t(x).requires_grad_()
    F.max_pool2d(xt, kernel_size, stride).backward(_t(dout))
    return xt.grad.numpy()


def diagnose_conv(got, x, w, b, stride, padding, dilation) -> T:
    """A hint naming the usual mistake that would give ``got``."""
    if not isinstance(got, np.ndarray):
        return CROSS_CORRELATION
    s, p, d = pair(stride), pair(padding), pair(dilation)
    guesses = [
        (lambda: conv(x, w[:, :, ::-1, ::-1].copy(), b, s, p, d),
         T("your result is the true convolution (kernel flipped). A convolution layer computes a cross-correlation: "
           "w[f, c, u, v] multiplies x_pad[n, c, i*s + u*d, j*s + v*d], with no kernel flip.",
           "tu resultado es la convolución matemática (kernel volteado). Una capa convolucional calcula una "
           "correlación cruzada: w[f, c, u, v] multiplica x_pad[n, c, i*s + u*d, j*s + v*d], sin voltear el kernel.")),
        (lambda: conv(x, w, None, s, p, d),
         T("the bias is missing: add b[f] to every position of output channel f (unless b is None).",
           "falta el sesgo: suma b[f] a todas las posiciones del canal de salida f (salvo si b es None).")),
        (lambda: conv(x, w, b, s, 0, d),
         T("the padding was ignored: add p zeros on each side of the height and width before sliding the kernel.",
           "se ignoró el relleno: añade p ceros a cada lado de la altura y la anchura antes de deslizar el kernel.")),
        (lambda: conv(x, w, b, 1, p, d),
         T("the stride was ignored: output position (i, j) starts at (i*s, j*s) of the padded input.",
           "se ignoró el stride: la posición de salida (i, j) empieza en (i*s, j*s) de la entrada con relleno.")),
        (lambda: conv(x, w, b, s, p, 1),
         T("the dilation was ignored: with dilation d the kernel taps are d pixels apart (x_pad[..., i*s + u*d, ...]).",
           "se ignoró la dilatación: con dilatación d las tomas del kernel están separadas d píxeles "
           "(x_pad[..., i*s + u*d, ...]).")),
    ]
    for wrong, hint in guesses:
        try:
            candidate = wrong()
        except RuntimeError:
            continue
        if candidate.shape == got.shape and np.allclose(got, candidate, rtol=RTOL, atol=ATOL):
            return hint
    return CROSS_CORRELATION


def check_conv(function, name, x, w, b, stride=1, padding=0, dilation=1, *, source: str = ""):
    """Call the student's ``function`` and compare it with torch.nn.functional.conv2d."""
    expected = conv(x, w, b, stride, padding, dilation)
    call = describe_call(name, f"x{x.shape}", f"w{w.shape}", None if b is None else f"b{b.shape}",
                         stride=stride, padding=padding, dilation=dilation).replace("'", "")
    got = run_student(function, call, special_case_hint(x, w, stride, padding, dilation), x.copy(), w.copy(),
                      None if b is None else b.copy(), stride=stride, padding=padding, dilation=dilation)
    hint = shape_hint(got, expected.shape, x, w, stride, padding, dilation) or \
        diagnose_conv(got, x, w, b, stride, padding, dilation)
    if source:
        hint = T(source + ". ", source + ". ") + str(hint)
    check_close(got, expected, name="out", call=call, rtol=RTOL, atol=ATOL,
                hint=T("torch.nn.functional.conv2d is the answer key; ", "la clave es torch.nn.functional.conv2d; ")
                + str(hint))
    return got


def check_pool(function, x, kernel_size, stride=None, *, source: str = ""):
    expected = pool(x, kernel_size, stride)
    call = describe_call("maxpool2d", f"x{x.shape}", kernel_size, stride=stride).replace("'", "")
    got = function(x.copy(), kernel_size, stride=stride)
    hint = POOLING if not source else T(source + ". ", source + ". ") + str(POOLING)
    check_close(got, expected, name="out", call=call, rtol=RTOL, atol=ATOL, hint=hint)
    return got


def unpack_grads(got, call):
    """The student's (dx, dw, db), or a clear failure if the result is not a triple."""
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        fail(T("{call} returned {kind}; expected a tuple (dx, dw, db).",
               "{call} devolvió {kind}; se esperaba una tupla (dx, dw, db).")
             .format(call=call, kind=type(got).__name__), CONV_BACKWARD)
    return got

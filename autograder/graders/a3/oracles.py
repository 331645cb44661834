"""PyTorch's autograd as the answer key for A3, and hints in the deck's notation.

The graders may use torch; the student's module may not. Every oracle works
in float64 on copies of its arguments and returns NumPy arrays.
"""
from __future__ import annotations

import numpy as np
import torch

from autograder.feedback import T

NOTATION = T("h_j = f(sum_i w_ij x_i), y_k = f(sum_j w_jk h_j) with a 1 appended to x and to h for the bias rows "
             "(the last rows of W1 and W2).",
             "h_j = f(sum_i w_ij x_i), y_k = f(sum_j w_jk h_j), añadiendo un 1 a x y a h para las filas de sesgo "
             "(las últimas filas de W1 y W2).")
DELTA_K = T("delta_k = (d_k - y_k) y_k (1 - y_k): the error d_k - y_k (desired minus obtained) times f' = y_k (1 - y_k).",
            "delta_k = (d_k - y_k) y_k (1 - y_k): el error d_k - y_k (deseada menos obtenida) por f' = y_k (1 - y_k).")
DELTA_J = T("delta_j = h_j (1 - h_j) sum_k delta_k w_jk, over the hidden units' rows of W2 only (not the bias row), "
            "with the old w_jk.",
            "delta_j = h_j (1 - h_j) sum_k delta_k w_jk, solo con las filas de W2 de las neuronas ocultas (no la de "
            "sesgo) y con los w_jk antiguos.")
UPDATE = T("dw_jk = eta delta_k h_j and dw_ij = eta h_j (1 - h_j) x_i sum_k delta_k w_jk (old w_jk); "
           "the bias rows use h_j = 1 and x_i = 1. This is dw = -eta dE/dw for E = 1/2 sum_k (d_k - y_k)^2.",
           "dw_jk = eta delta_k h_j y dw_ij = eta h_j (1 - h_j) x_i sum_k delta_k w_jk (w_jk antiguos); "
           "las filas de sesgo usan h_j = 1 y x_i = 1. Es dw = -eta dE/dw con E = 1/2 sum_k (d_k - y_k)^2.")
BATCH = T("the batch step adds up (sums, does not average) the increments of every example, all computed with the "
          "weights passed in: dW = -eta dE/dW for E = 1/2 sum over the batch of (d - y)^2.",
          "el paso de batch suma (no promedia) los incrementos de todos los ejemplos, todos calculados con los pesos "
          "recibidos: dW = -eta dE/dW con E = 1/2 suma en el batch de (d - y)^2.")


def _tensor(a) -> torch.Tensor:
    return torch.tensor(np.array(a, dtype=np.float64))


def _outputs(X: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor):
    ones = torch.ones(X.shape[0], 1, dtype=torch.float64)
    H = torch.sigmoid(torch.cat([X, ones], dim=1) @ W1)
    return H, torch.sigmoid(torch.cat([H, ones], dim=1) @ W2)


def forward(x, W1, W2) -> tuple[np.ndarray, np.ndarray]:
    """(h, y) of one example, by torch.sigmoid."""
    with torch.no_grad():
        H, Y = _outputs(_tensor(x).reshape(1, -1), _tensor(W1), _tensor(W2))
    return H[0].numpy(), Y[0].numpy()


def error(X, D, W1, W2) -> float:
    """E = 1/2 sum_n sum_k (d_nk - y_nk)^2 over the rows of X (a single example may be 1-D)."""
    with torch.no_grad():
        _, Y = _outputs(_tensor(X).reshape(-1, np.shape(W1)[0] - 1), _tensor(W1), _tensor(W2))
    return float(0.5 * torch.sum((_tensor(D).reshape(Y.shape) - Y) ** 2))


def update(X, D, W1, W2, eta) -> tuple[np.ndarray, np.ndarray]:
    """W - eta dE/dW by torch.autograd, for one example (1-D x, d) or a batch (rows of X, D)."""
    w1 = _tensor(W1).requires_grad_(True)
    w2 = _tensor(W2).requires_grad_(True)
    _, Y = _outputs(_tensor(X).reshape(-1, w1.shape[0] - 1), w1, w2)
    loss = 0.5 * torch.sum((_tensor(D).reshape(Y.shape) - Y) ** 2)
    loss.backward()
    return (w1 - eta * w1.grad).detach().numpy(), (w2 - eta * w2.grad).detach().numpy()


def diagnose_output_deltas(got, y, d) -> T:
    """The usual mistake behind a wrong delta_k."""
    try:
        got = np.asarray(got, dtype=float)
        if got.shape == y.shape:
            if np.allclose(got, (y - d) * y * (1 - y)):
                return T("the sign is reversed: it is (d_k - y_k), desired minus obtained. ",
                         "el signo está invertido: es (d_k - y_k), deseada menos obtenida. ") + DELTA_K
            if np.allclose(got, (d - y) * y):
                return T("f'(z) = y_k (1 - y_k), not y_k. ", "f'(z) = y_k (1 - y_k), no y_k. ") + DELTA_K
            if np.allclose(got, d - y):
                return T("multiply by the sigmoid's derivative y_k (1 - y_k). ",
                         "multiplica por la derivada de la sigmoide y_k (1 - y_k). ") + DELTA_K
    except (TypeError, ValueError):
        pass
    return DELTA_K


def diagnose_update(got, W, expected) -> T:
    """The usual mistake behind a wrong new weight matrix (W1 or W2)."""
    try:
        got = np.asarray(got, dtype=float)
        if got.shape == W.shape:
            if np.allclose(got[-1], W[-1]) and not np.allclose(expected[-1], W[-1]):
                return T("the bias row (last row) was not updated: its input is a constant 1, so dw = eta delta * 1. ",
                         "la fila de sesgo (la última) no se actualizó: su entrada es un 1 constante, así que "
                         "dw = eta delta * 1. ") + UPDATE
            if np.allclose(got - W, W - expected):
                return T("the step goes the wrong way: w <- w + dw with delta_k = (d_k - y_k) y_k (1 - y_k). ",
                         "el paso va en sentido contrario: w <- w + dw con delta_k = (d_k - y_k) y_k (1 - y_k). ") + UPDATE
    except (TypeError, ValueError):
        pass
    return UPDATE


BIAS_ROWS_FROZEN = T("the bias rows (the last rows of W1 and W2) never changed during training: they are weights like "
                     "the others, with a constant input 1, so every step moves them by eta delta * 1 "
                     "(update the whole matrices, last rows included).",
                     "las filas de sesgo (las últimas de W1 y W2) no cambiaron durante el entrenamiento: son pesos "
                     "como los demás, con una entrada constante 1, así que cada paso las mueve eta delta * 1 "
                     "(actualiza las matrices enteras, últimas filas incluidas).")


def documented_initialisation(n_in: int, n_hidden: int, n_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(W1, W2) as train's docstring prescribes them, before any epoch."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(n_in + 1, n_hidden)), rng.uniform(-1, 1, size=(n_hidden + 1, n_out))


def bias_rows_frozen(trained, start) -> bool:
    """Whether trained weights (W1, W2) kept a bias row of the initialisation ``start`` while their other rows
    moved: a training loop that never updates the biases."""
    try:
        pairs = [(np.asarray(w, dtype=float), s) for w, s in zip(trained[:2], start)]
    except (TypeError, ValueError, IndexError):
        return False
    if any(w.shape != s.shape for w, s in pairs):
        return False
    kept = any(np.array_equal(w[-1], s[-1]) for w, s in pairs)
    moved = all(not np.array_equal(w[:-1], s[:-1]) for w, s in pairs)
    return kept and moved


def diagnose_batch(got, W, expected, n: int) -> T:
    """The usual mistake behind a wrong batch step of ``n`` examples."""
    try:
        got = np.asarray(got, dtype=float)
        if got.shape == W.shape:
            if n > 1 and np.allclose(got - W, (expected - W) / n, rtol=1e-8, atol=1e-12):
                return T("you averaged the increments; the batch step SUMS them. ",
                         "has promediado los incrementos; el paso de batch los SUMA. ") + BATCH
            specific = diagnose_update(got, W, expected)
            if specific is not UPDATE:
                return specific
    except (TypeError, ValueError):
        pass
    return BATCH

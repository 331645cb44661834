"""The graders' own NumPy backpropagation (hidden, never shipped): the answer key of the 1e-10 checks.

Written independently of the solution: explicit loops over i, j, k in the
deck's notation, so it shares no code with what students are given.
"""
from __future__ import annotations

import math

import numpy as np


def f(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def forward(x, W1, W2):
    n_in, n_hidden, n_out = W1.shape[0] - 1, W1.shape[1], W2.shape[1]
    h = np.array([f(sum(W1[i, j] * x[i] for i in range(n_in)) + W1[n_in, j]) for j in range(n_hidden)])
    y = np.array([f(sum(W2[j, k] * h[j] for j in range(n_hidden)) + W2[n_hidden, k]) for k in range(n_out)])
    return h, y


def deltas(x, d, W1, W2):
    h, y = forward(x, W1, W2)
    n_hidden, n_out = W1.shape[1], W2.shape[1]
    delta_k = np.array([(d[k] - y[k]) * y[k] * (1 - y[k]) for k in range(n_out)])
    delta_j = np.array([h[j] * (1 - h[j]) * sum(delta_k[k] * W2[j, k] for k in range(n_out)) for j in range(n_hidden)])
    return h, y, delta_k, delta_j


def increments(x, d, W1, W2, eta):
    """(dW1, dW2) of one example, every increment from the same old weights."""
    h, _, delta_k, delta_j = deltas(x, d, W1, W2)
    x1, h1 = list(x) + [1.0], list(h) + [1.0]
    dW1 = np.array([[eta * h_delta * xi for h_delta in delta_j] for xi in x1])
    dW2 = np.array([[eta * dk * hj for dk in delta_k] for hj in h1])
    return dW1, dW2


def update_example(x, d, W1, W2, eta):
    dW1, dW2 = increments(x, d, W1, W2, eta)
    return W1 + dW1, W2 + dW2


def update_batch(X, D, W1, W2, eta):
    total1, total2 = np.zeros(W1.shape), np.zeros(W2.shape)
    for x, d in zip(X, D):
        dW1, dW2 = increments(x, d, W1, W2, eta)
        total1, total2 = total1 + dW1, total2 + dW2
    return W1 + total1, W2 + total2


def error(X, D, W1, W2) -> float:
    return 0.5 * sum(float(np.sum((d - forward(x, W1, W2)[1]) ** 2)) for x, d in zip(X, D))


def train(X, D, n_hidden, eta, epochs, seed):
    """Full-batch training with the initialisation the docstring prescribes."""
    rng = np.random.default_rng(seed)
    W1 = rng.uniform(-1, 1, size=(X.shape[1] + 1, n_hidden))
    W2 = rng.uniform(-1, 1, size=(n_hidden + 1, D.shape[1]))
    errors = []
    for _ in range(epochs):
        W1, W2 = update_batch(X, D, W1, W2, eta)
        errors.append(error(X, D, W1, W2))
    return W1, W2, errors

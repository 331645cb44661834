"""A3 public graders: a tiny network worked by hand and one step on XOR.

Students run these with ``autograder check a3``; the hidden graders compare
the same functions with the graders' own backpropagation and with autograd
on many random networks, and train on XOR.
"""
import math

import numpy as np
import pytest

from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.a3 import oracles

# The tiny 2-2-1 network of these tests: W1[i, j] = w_ij, W2[j, k] = w_jk, last rows = biases.
W1 = np.array([[0.5, -0.4], [0.3, 0.8], [-0.1, 0.2]])
W2 = np.array([[0.7], [-0.6], [0.05]])
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_D = np.array([[0.0], [1.0], [1.0], [0.0]])


def as_pair(result, call):
    """The two arrays a function must return, or a clear failure."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(T("{call} returned {got!r}; expected a pair of NumPy arrays.",
               "{call} devolvió {got!r}; se esperaba un par de arrays de NumPy.").format(call=call, got=result))
    return result


@pytest.mark.task("3.1")
def test_sigmoid_values(mlp):
    """sigmoid(0) = 0.5 and f(z) = 1 / (1 + exp(-z)) on an array
    es: sigmoid(0) = 0.5 y f(z) = 1 / (1 + exp(-z)) sobre un array
    """
    z = np.array([-2.0, 0.0, 3.0])
    expected = np.array([1 / (1 + math.exp(2.0)), 0.5, 1 / (1 + math.exp(-3.0))])
    hint = T("f(z) = 1 / (1 + exp(-z)), element by element (np.exp works on arrays).",
             "f(z) = 1 / (1 + exp(-z)), elemento a elemento (np.exp funciona con arrays).")
    check_close(np.asarray(mlp.sigmoid(z)), expected, name="f(z)", call="sigmoid(np.array([-2.0, 0.0, 3.0]))",
                rtol=1e-12, atol=1e-12, hint=hint)


@pytest.mark.task("3.1")
def test_forward_tiny_network(mlp):
    """Forward pass of a 2-2-1 network on x = (1, 0): h = f(0.4, -0.2), y = f(0.7 h_1 - 0.6 h_2 + 0.05)
    es: Propagación hacia delante de una red 2-2-1 con x = (1, 0): h = f(0.4, -0.2), y = f(0.7 h_1 - 0.6 h_2 + 0.05)
    """
    x = np.array([1.0, 0.0])
    call = "forward(np.array([1.0, 0.0]), W1=[[0.5, -0.4], [0.3, 0.8], [-0.1, 0.2]], W2=[[0.7], [-0.6], [0.05]])"
    h, y = as_pair(mlp.forward(x, W1.copy(), W2.copy()), call)
    exp_h, exp_y = oracles.forward(x, W1, W2)
    check_close(h, exp_h, name="h", call=call, rtol=1e-10, atol=1e-12, hint=oracles.NOTATION)
    check_close(y, exp_y, name="y", call=call, rtol=1e-10, atol=1e-12, hint=oracles.NOTATION)


@pytest.mark.task("3.2")
def test_deltas_worked_example(mlp):
    """delta_k and delta_j of a worked example (the bias row of W2 is left out of the sum)
    es: delta_k y delta_j de un ejemplo resuelto (la fila de sesgo de W2 queda fuera de la suma)
    """
    y, d = np.array([0.6, 0.3]), np.array([1.0, 0.0])
    call = "output_deltas(np.array([0.6, 0.3]), np.array([1.0, 0.0]))"
    got = mlp.output_deltas(y, d)
    check_close(got, np.array([0.096, -0.063]), name="delta_out", call=call, rtol=1e-10, atol=1e-12,
                hint=oracles.diagnose_output_deltas(got, y, d))
    h, delta_out = np.array([0.5, 0.8]), np.array([0.096, -0.063])
    w2 = np.array([[0.7, -0.2], [-0.6, 0.4], [9.0, 9.0]])
    call = "hidden_deltas(np.array([0.5, 0.8]), np.array([0.096, -0.063]), W2=[[0.7, -0.2], [-0.6, 0.4], [9.0, 9.0]])"
    check_close(mlp.hidden_deltas(h, delta_out, w2), np.array([0.01995, -0.013248]), name="delta_hidden",
                call=call, rtol=1e-10, atol=1e-12, hint=oracles.DELTA_J)


@pytest.mark.task("3.3")
def test_one_update_step_tiny_network(mlp):
    """One step on (x, d) = ((1, 0), 1) with eta = 0.5 equals -eta dE/dw (autograd)
    es: Un paso con (x, d) = ((1, 0), 1) y eta = 0.5 coincide con -eta dE/dw (autograd)
    """
    x, d, eta = np.array([1.0, 0.0]), np.array([1.0]), 0.5
    call = "update_example(np.array([1.0, 0.0]), np.array([1.0]), W1, W2, eta=0.5)"
    got1, got2 = as_pair(mlp.update_example(x, d, W1.copy(), W2.copy(), eta), call)
    exp1, exp2 = oracles.update(x, d, W1, W2, eta)
    check_close(got2, exp2, name="W2_new", call=call, rtol=1e-10, atol=1e-12,
                hint=oracles.diagnose_update(got2, W2, exp2))
    check_close(got1, exp1, name="W1_new", call=call, rtol=1e-10, atol=1e-12,
                hint=oracles.diagnose_update(got1, W1, exp1))


@pytest.mark.task("3.4")
def test_batch_step_on_xor(mlp):
    """One batch step on the 4 XOR examples with eta = 0.5 (sum of the per-example increments)
    es: Un paso por lotes con los 4 ejemplos de XOR y eta = 0.5 (suma de los incrementos de cada ejemplo)
    """
    eta = 0.5
    call = "update_batch(X_xor, D_xor, W1, W2, eta=0.5)"
    got1, got2 = as_pair(mlp.update_batch(XOR_X.copy(), XOR_D.copy(), W1.copy(), W2.copy(), eta), call)
    exp1, exp2 = oracles.update(XOR_X, XOR_D, W1, W2, eta)
    for got, W, exp, name in ((got2, W2, exp2, "W2_new"), (got1, W1, exp1, "W1_new")):
        check_close(got, exp, name=name, call=call, rtol=1e-10, atol=1e-12,
                    hint=oracles.diagnose_batch(got, W, exp, len(XOR_X)))


@pytest.mark.task("3.5")
def test_train_returns_weights_and_error_curve(mlp):
    """train on XOR for 5 epochs: shapes of W1 and W2, every row trained (bias rows too), one error per epoch, the last one is E of the result
    es: train con XOR durante 5 épocas: formas de W1 y W2, todas las filas entrenadas (también las de sesgo), un error por época, el último es el E del resultado
    """
    call = "train(X_xor, D_xor, n_hidden=3, eta=2.0, epochs=5, seed=0)"
    result = mlp.train(XOR_X.copy(), XOR_D.copy(), 3, 2.0, 5, 0)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        fail(T("{call} returned {got!r}; expected (W1, W2, errors).",
               "{call} devolvió {got!r}; se esperaba (W1, W2, errors).").format(call=call, got=result))
    w1, w2, errors = result
    for got, shape, name in ((w1, (3, 3), "W1"), (w2, (4, 1), "W2")):
        check_equal(getattr(got, "shape", None), shape, call=f"{call}: {name}.shape",
                    hint=T("W1 is (n_in + 1, n_hidden) and W2 (n_hidden + 1, n_out): the last rows are the biases.",
                           "W1 es (n_in + 1, n_hidden) y W2 (n_hidden + 1, n_out): las últimas filas son los sesgos."))
    if oracles.bias_rows_frozen((w1, w2), oracles.documented_initialisation(2, 3, 1, 0)):
        fail(T("after {call} a bias row of the returned weights is still the one of the seeded initialisation.",
               "tras {call} una fila de sesgo de los pesos devueltos sigue siendo la de la inicialización con "
               "semilla.").format(call=call), oracles.BIAS_ROWS_FROZEN)
    check_equal(len(errors), 5, call=f"len({call}[2])",
                hint=T("one error per epoch.", "un error por época."))
    expected = oracles.error(XOR_X, XOR_D, w1, w2)
    if not math.isclose(float(errors[-1]), expected, rel_tol=1e-8, abs_tol=1e-12):
        fail(T("{call}: errors[-1] is {got:.6g}, but E = 1/2 sum (d - y)^2 of the returned weights is {exp:.6g}.",
               "{call}: errors[-1] vale {got:.6g}, pero E = 1/2 sum (d - y)^2 de los pesos devueltos vale {exp:.6g}.")
             .format(call=call, got=float(errors[-1]), exp=expected),
             T("errors[e] is the error over the whole training set after the update of epoch e.",
               "errors[e] es el error sobre todo el conjunto de entrenamiento tras la actualización de la época e."))

"""A3 - Backpropagation of a two-layer sigmoid MLP / Retropropagación en un MLP sigmoide de dos capas.

NumPy only: do not import torch (the graders check it). PyTorch computes all
of this with a single ``loss.backward()``; here you write it by hand.

Notation of the course deck (uma-intro-neural-networks-backprop):

    h_j = f(sum_i w_ij x_i)          hidden layer, j = 1..n_hidden
    y_k = f(sum_j w_jk h_j)          output layer, k = 1..n_out
    f(z) = 1 / (1 + exp(-z))         the sigmoid, f' = f (1 - f)
    E = 1/2 sum_k (d_k - y_k)^2      error of one example, d the desired output
    delta_k = (d_k - y_k) y_k (1 - y_k)
    dw_jk = eta delta_k h_j
    dw_ij = eta h_j (1 - h_j) x_i sum_k delta_k w_jk

Biases are weights from an extra input fixed at 1: a 1 is appended to x and
to h, so

    W1 has shape (n_in + 1, n_hidden): W1[i, j] = w_ij, last row = biases
    W2 has shape (n_hidden + 1, n_out): W2[j, k] = w_jk, last row = biases

Every array is a NumPy array of floats; wrong shapes or dtypes raise
ValueError with a message that names the expected shape.
"""
import numpy as np


def check_array(value, name, shape):
    """Raise ValueError unless ``value`` is a float NumPy array of ``shape`` (given helper, not a task).

    ``shape`` is a tuple of ints; ``None`` in it accepts any size there.
    The message spells out the expected shape, e.g.
    "W1 must have shape (n_in + 1, n_hidden) = (3, 2), got (2, 2)".
    """
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array of floats, got {type(value).__name__}")
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{name} must be an array of floats, got dtype {value.dtype} "
                         f"(convert it with .astype(float))")
    if value.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, value.shape)):
        shown = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        named = f"{SHAPE_NAMES[name]} = " if name in SHAPE_NAMES else ""
        raise ValueError(f"{name} must have shape {named}{shown}, got {value.shape}")


SHAPE_NAMES = {
    "x": "(n_in,)", "d": "(n_out,)", "X": "(N, n_in)", "D": "(N, n_out)",
    "W1": "(n_in + 1, n_hidden)", "W2": "(n_hidden + 1, n_out)",
    "h": "(n_hidden,)", "y": "(n_out,)", "delta_out": "(n_out,)",
}


def check_network(W1, W2, n_in=None):
    """Check W1 and W2 and return ``(n_in, n_hidden, n_out)`` (given helper, not a task).

    n_hidden is the number of columns of W1; ``n_in``, when given (the length
    of x), fixes the number of rows of W1 to n_in + 1.
    """
    check_array(W1, "W1", (None, None))
    check_array(W2, "W2", (None, None))
    n_hidden = W1.shape[1]
    if n_in is None:
        n_in = W1.shape[0] - 1
    check_array(W1, "W1", (n_in + 1, n_hidden))
    check_array(W2, "W2", (n_hidden + 1, None))
    if n_in < 1 or n_hidden < 1 or W2.shape[1] < 1:
        raise ValueError(f"empty network: W1 has shape {W1.shape} and W2 {W2.shape}")
    return n_in, n_hidden, W2.shape[1]


# Task 3.1: the sigmoid and the forward pass (sigmoid, forward)
def sigmoid(z):
    """The sigmoid f(z) = 1 / (1 + exp(-z)), element by element.

    Args:
        z: a float or a NumPy array of any shape.

    Returns:
        f(z), same shape as ``z``, values in (0, 1).
    """
    ### BEGIN SOLUTION
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
    ### END SOLUTION


def forward(x, W1, W2):
    """Forward pass of one example: h_j = f(sum_i w_ij x_i), y_k = f(sum_j w_jk h_j).

    The sums include the bias: append a 1 to x (and to h) before multiplying.

    Args:
        x: input, shape (n_in,).
        W1: shape (n_in + 1, n_hidden), last row = hidden biases.
        W2: shape (n_hidden + 1, n_out), last row = output biases.

    Returns:
        (h, y): hidden outputs, shape (n_hidden,); network outputs, shape (n_out,).

    Raises:
        ValueError: wrong shapes or non-float arrays (use ``check_array``
            on x, then ``check_network(W1, W2, n_in=x.shape[0])``).
    """
    ### BEGIN SOLUTION
    check_array(x, "x", (None,))
    check_network(W1, W2, n_in=x.shape[0])
    h = sigmoid(np.append(x, 1.0) @ W1)
    y = sigmoid(np.append(h, 1.0) @ W2)
    return h, y
    ### END SOLUTION


# Task 3.2: the deltas of the output and hidden layers (output_deltas, hidden_deltas)
def output_deltas(y, d):
    """delta_k = (d_k - y_k) y_k (1 - y_k) for every output k.

    Args:
        y: network outputs, shape (n_out,).
        d: desired outputs, shape (n_out,).

    Returns:
        delta_out, shape (n_out,).

    Raises:
        ValueError: if y and d are not float arrays of the same 1-D shape.
    """
    ### BEGIN SOLUTION
    check_array(y, "y", (None,))
    check_array(d, "d", y.shape)
    return (d - y) * y * (1 - y)
    ### END SOLUTION


def hidden_deltas(h, delta_out, W2):
    """delta_j = h_j (1 - h_j) sum_k delta_k w_jk for every hidden unit j.

    The sum runs over the weights w_jk of the hidden units only: the bias row
    of W2 (its last row) has no hidden unit behind it. Use the weights W2 of
    the forward pass (the OLD ones, before any update).

    Args:
        h: hidden outputs, shape (n_hidden,).
        delta_out: output deltas, shape (n_out,).
        W2: shape (n_hidden + 1, n_out).

    Returns:
        delta_hidden, shape (n_hidden,). Then dw_ij = eta x_i delta_j.

    Raises:
        ValueError: wrong shapes or non-float arrays.
    """
    ### BEGIN SOLUTION
    check_array(h, "h", (None,))
    check_array(delta_out, "delta_out", (None,))
    check_array(W2, "W2", (h.shape[0] + 1, delta_out.shape[0]))
    return h * (1 - h) * (W2[:-1] @ delta_out)
    ### END SOLUTION


# Task 3.3: one backpropagation step on one example (update_example)
def update_example(x, d, W1, W2, eta):
    """One backpropagation step on the example (x, d): w <- w + dw.

    dw_jk = eta delta_k h_j and dw_ij = eta h_j (1 - h_j) x_i sum_k delta_k w_jk,
    with h and x extended by a 1 for the bias rows, and the OLD w_jk in the
    hidden deltas (every increment is computed before any weight changes).
    This is gradient descent on E = 1/2 sum_k (d_k - y_k)^2: dw = -eta dE/dw.

    Args:
        x: input, shape (n_in,).
        d: desired output, shape (n_out,).
        W1: shape (n_in + 1, n_hidden).
        W2: shape (n_hidden + 1, n_out).
        eta: learning rate (a float).

    Returns:
        (W1_new, W2_new): NEW arrays with the shapes of W1 and W2. The
        arguments are not modified.

    Raises:
        ValueError: wrong shapes or non-float arrays.
    """
    ### BEGIN SOLUTION
    check_array(x, "x", (None,))
    n_in, n_hidden, n_out = check_network(W1, W2, n_in=x.shape[0])
    check_array(d, "d", (n_out,))
    h, y = forward(x, W1, W2)
    delta_out = output_deltas(y, d)
    W2_new = W2 + eta * np.outer(np.append(h, 1.0), delta_out)
    delta_hidden = hidden_deltas(h, delta_out, W2)  # the old w_jk
    W1_new = W1 + eta * np.outer(np.append(x, 1.0), delta_hidden)
    return W1_new, W2_new
    ### END SOLUTION


# Task 3.4: one step on a batch of examples (update_batch)
def update_batch(X, D, W1, W2, eta):
    """One step on a batch: the SUM of the per-example increments, all with the old weights.

    Every example's increment dw is computed with the same weights W1, W2
    (the ones passed in); then W <- W + sum over the batch of dw. The sum
    (not the mean) makes this gradient descent on the batch error
    E = 1/2 sum_n sum_k (d_nk - y_nk)^2, so dW = -eta dE/dW, and a batch of
    one example gives exactly ``update_example``. (With the mean, eta would
    have to grow with N to take the same step.)

    Args:
        X: inputs, shape (N, n_in), one example per row.
        D: desired outputs, shape (N, n_out).
        W1: shape (n_in + 1, n_hidden).
        W2: shape (n_hidden + 1, n_out).
        eta: learning rate (a float).

    Returns:
        (W1_new, W2_new): new arrays; the arguments are not modified.

    Raises:
        ValueError: wrong shapes or non-float arrays.
    """
    ### BEGIN SOLUTION
    check_array(X, "X", (None, None))
    n_in, n_hidden, n_out = check_network(W1, W2, n_in=X.shape[1])
    check_array(D, "D", (X.shape[0], n_out))
    dW1, dW2 = np.zeros_like(W1), np.zeros_like(W2)
    for x, d in zip(X, D):
        W1_step, W2_step = update_example(x, d, W1, W2, eta)
        dW1 += W1_step - W1
        dW2 += W2_step - W2
    return W1 + dW1, W2 + dW2
    ### END SOLUTION


# Task 3.5: training loop (train)
def train(X, D, n_hidden, eta, epochs, seed):
    """Train the network with full-batch backpropagation from a seeded initialisation.

    Initialisation, in this order (so that a seed always gives the same network):
        rng = np.random.default_rng(seed)
        W1 = rng.uniform(-1, 1, size=(n_in + 1, n_hidden))
        W2 = rng.uniform(-1, 1, size=(n_hidden + 1, n_out))
    Then each epoch is ONE ``update_batch`` step on the whole training set,
    followed by the error of the updated network,
    E = 1/2 sum_n sum_k (d_nk - y_nk)^2 (the sum over all examples).

    Args:
        X: inputs, shape (N, n_in).
        D: desired outputs, shape (N, n_out).
        n_hidden: number of hidden units (int >= 1).
        eta: learning rate (a float).
        epochs: number of epochs (int >= 0).
        seed: seed of ``np.random.default_rng``.

    Returns:
        (W1, W2, errors): the trained weights and a list of ``epochs`` floats,
        errors[e] = E after epoch e. X and D are not modified.

    Raises:
        ValueError: wrong shapes or non-float arrays, n_hidden < 1 or epochs < 0.
    """
    ### BEGIN SOLUTION
    check_array(X, "X", (None, None))
    check_array(D, "D", (X.shape[0], None))
    if n_hidden < 1 or epochs < 0:
        raise ValueError(f"n_hidden must be >= 1 and epochs >= 0, got n_hidden={n_hidden}, epochs={epochs}")
    rng = np.random.default_rng(seed)
    W1 = rng.uniform(-1, 1, size=(X.shape[1] + 1, n_hidden))
    W2 = rng.uniform(-1, 1, size=(n_hidden + 1, D.shape[1]))
    errors = []
    for _ in range(epochs):
        W1, W2 = update_batch(X, D, W1, W2, eta)
        Y = np.array([forward(x, W1, W2)[1] for x in X])
        errors.append(float(0.5 * np.sum((D - Y) ** 2)))
    return W1, W2, errors
    ### END SOLUTION

"""A3 hidden graders: the graders' own backpropagation, finite differences and autograd as answer keys."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.feedback import T, check_equal, check_raises, fail
from autograder.gradcheck import check_close, numerical_gradient
from autograder.graders.a3 import oracles
from autograder.graders.a3.hidden import reference

EXAMPLES = settings(max_examples=50, deadline=None)
TOL = dict(rtol=1e-10, atol=1e-10)
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_D = np.array([[0.0], [1.0], [1.0], [0.0]])
# XOR training budget: the reference solves it (every output on the right side of 0.5, by at least 0.1)
# after 111 epochs with these settings; the grader allows about three times that.
XOR_SETTINGS = dict(n_hidden=3, eta=2.0, epochs=350, seed=0)


@st.composite
def networks(draw, batch=False):
    """(X or x, D or d, W1, W2, eta) with random sizes and values from a drawn seed."""
    n_in, n_hidden, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, n_in))
    D = rng.uniform(size=(n, n_out))
    W1 = rng.normal(size=(n_in + 1, n_hidden))
    W2 = rng.normal(size=(n_hidden + 1, n_out))
    eta = draw(st.floats(0.01, 2.0))
    return (X, D, W1, W2, eta) if batch else (X[0], D[0], W1, W2, eta)


def pair(result, call):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(T("{call} returned {got!r}; expected a pair of NumPy arrays.",
               "{call} devolvió {got!r}; se esperaba un par de arrays de NumPy.").format(call=call, got=result))
    return result


def sizes(W1, W2) -> str:
    return f"n_in={W1.shape[0] - 1}, n_hidden={W1.shape[1]}, n_out={W2.shape[1]}"


def check_update(got, expected, W1, W2, call):
    got1, got2 = pair(got, call)
    check_close(got2, expected[1], name="W2_new", call=call, **TOL, hint=oracles.diagnose_update(got2, W2, expected[1]))
    check_close(got1, expected[0], name="W1_new", call=call, **TOL, hint=oracles.diagnose_update(got1, W1, expected[0]))


@pytest.mark.task("3.1")
@EXAMPLES
@given(net=networks())
def test_forward_matches_reference_on_random_networks(mlp, net):
    """forward equals the graders' own forward pass on random networks (to 1e-10)
    es: forward coincide con la propagación hacia delante del propio corrector en redes aleatorias (hasta 1e-10)
    """
    x, _, W1, W2, _ = net
    call = f"forward(x, W1, W2) ({sizes(W1, W2)})"
    h, y = pair(mlp.forward(x, W1.copy(), W2.copy()), call)
    exp_h, exp_y = reference.forward(x, W1, W2)
    check_close(h, exp_h, name="h", call=call, **TOL, hint=oracles.NOTATION)
    check_close(y, exp_y, name="y", call=call, **TOL, hint=oracles.NOTATION)


def _bad_networks():
    """(description, x, W1, W2) that forward and update_example must reject with ValueError."""
    x, W1, W2 = np.zeros(2), np.zeros((3, 2)), np.zeros((3, 1))
    return [
        ("W1.shape=(2, 2)", x, np.zeros((2, 2)), W2),
        ("W2.shape=(2, 1)", x, W1, np.zeros((2, 1))),
        ("x.shape=(3,), W1.shape=(3, 2)", np.zeros(3), W1, W2),
        ("x.shape=(1, 2)", np.zeros((1, 2)), W1, W2),
        ("W1.dtype=int64", x, np.zeros((3, 2), dtype=np.int64), W2),
        ("x.dtype=int64", np.zeros(2, dtype=np.int64), W1, W2),
    ]


SHAPE_HINT = T("check the arguments first: W1 must be (n_in + 1, n_hidden), W2 (n_hidden + 1, n_out), x (n_in,), "
               "all float arrays; otherwise raise ValueError with a clear message (check_network and check_array "
               "do it for you).",
               "comprueba primero los argumentos: W1 debe ser (n_in + 1, n_hidden), W2 (n_hidden + 1, n_out), "
               "x (n_in,), todos arrays de floats; si no, lanza ValueError con un mensaje claro (check_network y "
               "check_array lo hacen por ti).")


@pytest.mark.task("3.1")
def test_forward_rejects_bad_shapes_and_dtypes(mlp):
    """forward raises ValueError on wrong shapes and non-float arrays, and works on valid ones
    es: forward lanza ValueError con formas incorrectas y arrays no flotantes, y funciona con los válidos
    """
    x, W1, W2 = np.array([0.3, -0.2]), np.array([[0.5, -0.4], [0.3, 0.8], [-0.1, 0.2]]), np.array([[0.7], [-0.6], [0.05]])
    call = "forward(x, W1, W2) (n_in=2, n_hidden=2, n_out=1)"
    h, y = pair(mlp.forward(x.copy(), W1.copy(), W2.copy()), call)
    exp_h, exp_y = reference.forward(x, W1, W2)
    check_close(h, exp_h, name="h", call=call, **TOL, hint=oracles.NOTATION)
    check_close(y, exp_y, name="y", call=call, **TOL, hint=oracles.NOTATION)
    for description, x, W1, W2 in _bad_networks():
        check_raises(ValueError, mlp.forward, x, W1, W2, call=f"forward(x, W1, W2) [{description}]", hint=SHAPE_HINT)


@pytest.mark.task("3.2")
@EXAMPLES
@given(net=networks())
def test_deltas_match_reference_on_random_networks(mlp, net):
    """output_deltas and hidden_deltas equal the graders' own deltas (to 1e-10)
    es: output_deltas y hidden_deltas coinciden con los deltas del propio corrector (hasta 1e-10)
    """
    x, d, W1, W2, _ = net
    h, y, delta_k, delta_j = reference.deltas(x, d, W1, W2)
    got = mlp.output_deltas(y.copy(), d.copy())
    check_close(got, delta_k, name="delta_out", call=f"output_deltas(y, d) (n_out={len(d)})", **TOL,
                hint=oracles.diagnose_output_deltas(got, y, d))
    check_close(mlp.hidden_deltas(h.copy(), delta_k.copy(), W2.copy()), delta_j, name="delta_hidden",
                call=f"hidden_deltas(h, delta_out, W2) ({sizes(W1, W2)})", **TOL, hint=oracles.DELTA_J)


@pytest.mark.task("3.2")
def test_deltas_reject_bad_shapes_and_dtypes(mlp):
    """output_deltas and hidden_deltas raise ValueError on wrong shapes and non-float arrays, and work on valid ones
    es: output_deltas y hidden_deltas lanzan ValueError con formas incorrectas y arrays no flotantes, y funcionan con los válidos
    """
    y, d = np.array([0.6, 0.3]), np.array([1.0, 0.0])
    h, W2 = np.array([0.5, 0.8, 0.1]), np.array([[0.7, -0.2], [-0.6, 0.4], [0.3, 0.1], [9.0, 9.0]])
    expected_k = (d - y) * y * (1 - y)
    check_close(mlp.output_deltas(y.copy(), d.copy()), expected_k, name="delta_out", call="output_deltas(y, d)",
                **TOL, hint=oracles.DELTA_K)
    expected_j = h * (1 - h) * (W2[:-1] @ expected_k)
    check_close(mlp.hidden_deltas(h.copy(), expected_k.copy(), W2.copy()), expected_j, name="delta_hidden",
                call="hidden_deltas(h, delta_out, W2)", **TOL, hint=oracles.DELTA_J)
    hint = T("y and d must be 1-D float arrays of the same shape; h and delta_out 1-D float arrays, and W2 of shape "
             "(len(h) + 1, len(delta_out)); otherwise raise ValueError (check_array does it for you).",
             "y y d deben ser arrays 1-D de floats con la misma forma; h y delta_out arrays 1-D de floats, y W2 de "
             "forma (len(h) + 1, len(delta_out)); si no, lanza ValueError (check_array lo hace por ti).")
    for description, args in [("y.shape=(2,), d.shape=(3,)", (y, np.zeros(3))),
                              ("y.shape=(2, 1), d.shape=(2, 1)", (y[:, None], d[:, None])),
                              ("y.dtype=int64", (y.astype(np.int64), d)),
                              ("d.dtype=int64", (y, d.astype(np.int64)))]:
        check_raises(ValueError, mlp.output_deltas, *args, call=f"output_deltas(y, d) [{description}]", hint=hint)
    for description, args in [("W2.shape=(3, 2) for len(h)=3", (h, expected_k, W2[1:])),
                              ("W2.shape=(2, 2) for len(h)=3", (h, expected_k, W2[2:])),
                              ("W2.shape=(4, 1) for len(delta_out)=2", (h, expected_k, W2[:, :1])),
                              ("h.shape=(3, 1)", (h[:, None], expected_k, W2)),
                              ("delta_out.shape=(2, 1)", (h, expected_k[:, None], W2)),
                              ("h.dtype=int64", (h.astype(np.int64), expected_k, W2))]:
        check_raises(ValueError, mlp.hidden_deltas, *args, call=f"hidden_deltas(h, delta_out, W2) [{description}]",
                     hint=hint)


@pytest.mark.task("3.3")
@EXAMPLES
@given(net=networks())
def test_update_matches_reference_on_random_networks(mlp, net):
    """update_example equals the graders' own backpropagation step (to 1e-10)
    es: update_example coincide con el paso de retropropagación del propio corrector (hasta 1e-10)
    """
    x, d, W1, W2, eta = net
    call = f"update_example(x, d, W1, W2, eta={eta!r}) ({sizes(W1, W2)})"
    check_update(mlp.update_example(x.copy(), d.copy(), W1.copy(), W2.copy(), eta),
                 reference.update_example(x, d, W1, W2, eta), W1, W2, call)


@pytest.mark.task("3.3")
def test_update_is_minus_eta_times_numerical_gradient(mlp):
    """update_example moves every weight by -eta dE/dw (centred finite differences)
    es: update_example mueve cada peso en -eta dE/dw (diferencias finitas centradas)
    """
    rng = np.random.default_rng(3)
    for n_in, n_hidden, n_out in ((2, 2, 1), (3, 4, 2), (1, 3, 3)):
        x, d = rng.normal(size=n_in), rng.uniform(size=n_out)
        W1, W2 = rng.normal(size=(n_in + 1, n_hidden)), rng.normal(size=(n_hidden + 1, n_out))
        eta = 0.7
        grad1 = numerical_gradient(lambda w: reference.error([x], [d], w, W2), W1.copy())
        grad2 = numerical_gradient(lambda w: reference.error([x], [d], W1, w), W2.copy())
        call = f"update_example(x, d, W1, W2, eta=0.7) (n_in={n_in}, n_hidden={n_hidden}, n_out={n_out})"
        got1, got2 = pair(mlp.update_example(x.copy(), d.copy(), W1.copy(), W2.copy(), eta), call)
        hint = T("compared with finite differences of E = 1/2 sum_k (d_k - y_k)^2. ",
                 "comparado con diferencias finitas de E = 1/2 sum_k (d_k - y_k)^2. ")
        for got, W, grad, name in ((got2, W2, grad2, "W2_new"), (got1, W1, grad1, "W1_new")):
            check_close(got, W - eta * grad, name=name, call=call, rtol=1e-6, atol=1e-8,
                        hint=hint + str(oracles.diagnose_update(got, W, W - eta * grad)))


@pytest.mark.task("3.3")
@EXAMPLES
@given(net=networks())
def test_update_is_minus_eta_times_autograd_gradient(mlp, net):
    """update_example equals w - eta dE/dw computed by torch.autograd
    es: update_example coincide con w - eta dE/dw calculado por torch.autograd
    """
    x, d, W1, W2, eta = net
    call = f"update_example(x, d, W1, W2, eta={eta!r}) ({sizes(W1, W2)}) vs torch.autograd"
    check_update(mlp.update_example(x.copy(), d.copy(), W1.copy(), W2.copy(), eta),
                 oracles.update(x, d, W1, W2, eta), W1, W2, call)


def _close(got, expected, rtol=1e-10, atol=1e-10) -> bool:
    """Whether ``got`` (from the student process) has the structure of ``expected`` and its values to tolerance."""
    if isinstance(expected, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_close(g, e, rtol, atol) for g, e in zip(got, expected)))
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=float)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def twice(helpers, function, call, *args) -> list:
    """Two results of ``function(*args)`` called in the student process on the very same argument objects.

    Arrays sent over the wire arrive as new arrays on every call; only this double call shows the grader what
    an in-place modification does: the second result, checked against the grader's own answer, changes.
    """
    results = helpers("a3").repeated(function, *args)
    if not isinstance(results, list) or len(results) != 2:
        fail(T("{call}: the grader could not call the function twice.",
               "{call}: el corrector no pudo llamar dos veces a la función.").format(call=call))
    return results


IN_PLACE = T("return new arrays (W1 + dW1 creates one; W1 += dW1 changes the caller's array).",
             "devuelve arrays nuevos (W1 + dW1 crea uno; W1 += dW1 cambia el array de quien llama).")


def again_on_the_same_arrays(second, expected, call, names, tolerance=TOL, hint=IN_PLACE, why=None):
    """Fail unless the second call on the same argument objects gave the grader's answer too."""
    if not _close(second, expected, **tolerance):
        fail(T("{call} gave the right result, then a different one when called again on the very same arrays: "
               "it modified {names} in place{why}.",
               "{call} dio el resultado correcto y luego otro distinto al llamarla de nuevo con los mismos arrays: "
               "modificó {names}{why}.").format(call=call, names=names, why=why or ""), hint)


@pytest.mark.task("3.3")
def test_update_leaves_its_arguments_unchanged(mlp, helpers):
    """update_example returns new arrays and does not modify x, d, W1 or W2
    es: update_example devuelve arrays nuevos y no modifica x, d, W1 ni W2
    """
    rng = np.random.default_rng(5)
    arrays = (rng.normal(size=3), rng.uniform(size=2), rng.normal(size=(4, 3)), rng.normal(size=(4, 2)))
    call = "update_example(x, d, W1, W2, eta=0.5)"
    expected = reference.update_example(*arrays, 0.5)
    first, second = twice(helpers, mlp.update_example, call, *arrays, 0.5)
    check_update(first, expected, arrays[2], arrays[3], call)
    again_on_the_same_arrays(second, expected, call, "x, d, W1 or W2")


@pytest.mark.task("3.3")
def test_update_rejects_bad_shapes_and_dtypes(mlp):
    """update_example raises ValueError on wrong shapes and non-float arrays, and works on valid ones
    es: update_example lanza ValueError con formas incorrectas y arrays no flotantes, y funciona con los válidos
    """
    rng = np.random.default_rng(21)
    x, d, W1, W2 = rng.normal(size=2), rng.uniform(size=1), rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    check_update(mlp.update_example(x.copy(), d.copy(), W1.copy(), W2.copy(), 0.5),
                 reference.update_example(x, d, W1, W2, 0.5), W1, W2, "update_example(x, d, W1, W2, eta=0.5)")
    for description, x, W1, W2 in _bad_networks():
        check_raises(ValueError, mlp.update_example, x, np.zeros(W2.shape[1]), W1, W2, 0.5,
                     call=f"update_example(x, d, W1, W2, 0.5) [{description}]", hint=SHAPE_HINT)
    check_raises(ValueError, mlp.update_example, np.zeros(2), np.zeros(2), np.zeros((3, 2)), np.zeros((3, 1)), 0.5,
                 call="update_example(x, d, W1, W2, 0.5) [d.shape=(2,), W2.shape=(3, 1)]", hint=SHAPE_HINT)


@pytest.mark.task("3.4")
@EXAMPLES
@given(net=networks(batch=True))
def test_batch_matches_reference_on_random_batches(mlp, net):
    """update_batch equals the graders' sum of per-example increments from the old weights (to 1e-10)
    es: update_batch coincide con la suma del corrector de los incrementos de cada ejemplo desde los pesos anteriores (hasta 1e-10)
    """
    X, D, W1, W2, eta = net
    call = f"update_batch(X, D, W1, W2, eta={eta!r}) (N={len(X)}, {sizes(W1, W2)})"
    got = mlp.update_batch(X.copy(), D.copy(), W1.copy(), W2.copy(), eta)
    expected = reference.update_batch(X, D, W1, W2, eta)
    got1, got2 = pair(got, call)
    for g, W, exp, name in ((got2, W2, expected[1], "W2_new"), (got1, W1, expected[0], "W1_new")):
        check_close(g, exp, name=name, call=call, **TOL, hint=oracles.diagnose_batch(g, W, exp, len(X)))


@pytest.mark.task("3.4")
@EXAMPLES
@given(net=networks(batch=True))
def test_batch_of_one_equals_update_example(mlp, net):
    """update_batch on a batch of one example gives exactly update_example
    es: update_batch con un lote de un solo ejemplo da exactamente lo mismo que update_example
    """
    X, D, W1, W2, eta = net
    call = f"update_batch(X[:1], D[:1], W1, W2, eta={eta!r}) vs the step of update_example(X[0], D[0], ...)"
    expected = reference.update_example(X[0], D[0], W1, W2, eta)  # the graders' own step, not the student's
    check_update(mlp.update_batch(X[:1].copy(), D[:1].copy(), W1.copy(), W2.copy(), eta), expected, W1, W2,
                 call)


@pytest.mark.task("3.4")
def test_batch_is_minus_eta_times_gradient_of_batch_error(mlp):
    """update_batch equals W - eta dE/dW for E summed over the batch (torch.autograd)
    es: update_batch coincide con W - eta dE/dW para E sumado sobre el lote (torch.autograd)
    """
    rng = np.random.default_rng(11)
    for n, n_in, n_hidden, n_out in ((4, 2, 3, 1), (7, 3, 2, 2)):
        X, D = rng.normal(size=(n, n_in)), rng.uniform(size=(n, n_out))
        W1, W2 = rng.normal(size=(n_in + 1, n_hidden)), rng.normal(size=(n_hidden + 1, n_out))
        call = f"update_batch(X, D, W1, W2, eta=0.3) (N={n}, n_in={n_in}, n_hidden={n_hidden}, n_out={n_out})"
        got1, got2 = pair(mlp.update_batch(X.copy(), D.copy(), W1.copy(), W2.copy(), 0.3), call)
        exp1, exp2 = oracles.update(X, D, W1, W2, 0.3)
        check_close(got2, exp2, name="W2_new", call=call, **TOL, hint=oracles.diagnose_batch(got2, W2, exp2, n))
        check_close(got1, exp1, name="W1_new", call=call, **TOL, hint=oracles.diagnose_batch(got1, W1, exp1, n))


@pytest.mark.task("3.4")
def test_batch_checks_shapes_and_leaves_arguments_unchanged(mlp, helpers):
    """update_batch rejects bad shapes and dtypes with ValueError and does not modify its arguments
    es: update_batch rechaza formas y dtypes incorrectos con ValueError y no modifica sus argumentos
    """
    rng = np.random.default_rng(13)
    arrays = (rng.normal(size=(5, 2)), rng.uniform(size=(5, 1)), rng.normal(size=(3, 2)), rng.normal(size=(3, 1)))
    copies = tuple(a.copy() for a in arrays)
    call = "update_batch(X, D, W1, W2, eta=0.5)"
    expected = reference.update_batch(*copies, 0.5)
    first, second = twice(helpers, mlp.update_batch, call, *arrays, 0.5)
    check_update(first, expected, copies[2], copies[3], call)
    again_on_the_same_arrays(second, expected, call, "X, D, W1 or W2")
    X, D, W1, W2 = copies
    for description, args in [("X.shape=(5, 2), D.shape=(4, 1)", (X, D[:4], W1, W2)),
                              ("X.shape=(5, 3), W1.shape=(3, 2)", (rng.normal(size=(5, 3)), D, W1, W2)),
                              ("X.shape=(2,)", (X[0], D[:1], W1, W2)),
                              ("X.dtype=int64", (X.astype(np.int64), D, W1, W2))]:
        check_raises(ValueError, mlp.update_batch, *args, 0.5, call=f"update_batch(X, D, W1, W2, 0.5) [{description}]",
                     hint=T("X must be (N, n_in) and D (N, n_out), float arrays. ",
                            "X debe ser (N, n_in) y D (N, n_out), arrays de floats. ") + SHAPE_HINT)


def trained(mlp, call: str, *args):
    """``mlp.train(*args)``, which must return (W1, W2, errors)."""
    result = mlp.train(*args)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        fail(T("{call} returned {got!r}; expected (W1, W2, errors).",
               "{call} devolvió {got!r}; se esperaba (W1, W2, errors).").format(call=call, got=result))
    return result


TRAIN_HINT = T("initialise with rng = np.random.default_rng(seed), W1 = rng.uniform(-1, 1, size=(n_in + 1, n_hidden)) "
               "then W2 = rng.uniform(-1, 1, size=(n_hidden + 1, n_out)); each epoch is one update_batch on all the "
               "data, then errors gets E = 1/2 sum (d - y)^2 of the updated network.",
               "inicializa con rng = np.random.default_rng(seed), W1 = rng.uniform(-1, 1, size=(n_in + 1, n_hidden)) "
               "y luego W2 = rng.uniform(-1, 1, size=(n_hidden + 1, n_out)); cada época es un update_batch con todos "
               "los datos y después se añade a errors E = 1/2 sum (d - y)^2 de la red actualizada.")
TRAIN_TOL = dict(rtol=1e-8, atol=1e-10)


def check_trained(result, expected, call, start):
    """``result`` of train (W1, W2, errors) against the graders' own training ``expected``, which started from
    the documented initialisation ``start`` (W1, W2)."""
    hint = oracles.BIAS_ROWS_FROZEN if oracles.bias_rows_frozen(result, start) else TRAIN_HINT
    check_close(result[0], expected[0], name="W1", call=call, **TRAIN_TOL, hint=hint)
    check_close(result[1], expected[1], name="W2", call=call, **TRAIN_TOL, hint=hint)
    try:
        errors = np.array([float(e) for e in result[2]])
    except (TypeError, ValueError):
        fail(T("{call}: errors must be a list of floats, got {got!r}.",
               "{call}: errors debe ser una lista de floats; se obtuvo {got!r}.").format(call=call, got=result[2]))
    check_close(errors, np.array(expected[2]), name="errors", call=call, **TRAIN_TOL, hint=TRAIN_HINT)


@pytest.mark.task("3.5")
def test_train_matches_reference_for_a_few_epochs(mlp):
    """train: the documented seeded initialisation, one full-batch step per epoch and E after each epoch
    es: train: la inicialización documentada con semilla, un paso con el lote completo por época y E tras cada época
    """
    rng = np.random.default_rng(17)
    X, D = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    call = "train(X, D, n_hidden=4, eta=0.5, epochs=3, seed=7) [X.shape=(6, 3), D.shape=(6, 2)]"
    result = trained(mlp, call, X.copy(), D.copy(), 4, 0.5, 3, 7)
    check_trained(result, reference.train(X, D, 4, 0.5, 3, 7), call, oracles.documented_initialisation(3, 4, 2, 7))


@pytest.mark.task("3.5")
def test_train_learns_xor(mlp):
    """train learns XOR from a fixed seed: all 4 outputs on the right side of 0.5
    es: train aprende XOR con una semilla fija: las 4 salidas en el lado correcto de 0.5
    """
    s = XOR_SETTINGS
    call = "train(X_xor, D_xor, n_hidden={n_hidden}, eta={eta}, epochs={epochs}, seed={seed})".format(**s)
    result = mlp.train(XOR_X.copy(), XOR_D.copy(), s["n_hidden"], s["eta"], s["epochs"], s["seed"])
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        fail(T("{call} returned {got!r}; expected (W1, W2, errors).",
               "{call} devolvió {got!r}; se esperaba (W1, W2, errors).").format(call=call, got=result))
    outputs = [float(oracles.forward(x, result[0], result[1])[1][0]) for x in XOR_X]
    wrong = [(tuple(x), float(d), round(y, 3))
             for x, d, y in zip(XOR_X.tolist(), XOR_D[:, 0], outputs) if (y > 0.5) != (d > 0.5)]
    if wrong:
        fail(T("after {call} the network still gets XOR wrong on (x, d, y) = {wrong}; outputs {out}.",
               "tras {call} la red aún se equivoca en XOR en (x, d, y) = {wrong}; salidas {out}.")
             .format(call=call, wrong=wrong, out=[round(y, 3) for y in outputs]),
             T("the reference solves it in about a third of these epochs: check the sign of delta_k, "
               "f' = y_k (1 - y_k), the bias rows and that the batch step sums the increments.",
               "la referencia lo resuelve en un tercio de estas épocas: revisa el signo de delta_k, "
               "f' = y_k (1 - y_k), las filas de sesgo y que el paso de batch sume los incrementos."))


def _as_trained(result):
    """(W1, W2, errors as a float array) of a train result, or None if errors is not a sequence of numbers."""
    try:
        return [result[0], result[1], np.array([float(e) for e in result[2]])]
    except (TypeError, ValueError):
        return None


@pytest.mark.task("3.5")
def test_train_is_reproducible_and_leaves_data_unchanged(mlp, helpers):
    """train twice with the same seed on the same X and D gives the graders' training both times
    es: train dos veces con la misma semilla sobre los mismos X y D da las dos veces el entrenamiento del corrector
    """
    call = "train(X_xor, D_xor, n_hidden=2, eta=1.0, epochs=20, seed=4)"
    expected = reference.train(XOR_X, XOR_D, 2, 1.0, 20, 4)
    first, second = twice(helpers, mlp.train, call, XOR_X.copy(), XOR_D.copy(), 2, 1.0, 20, 4)
    for result in (first, second):
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            fail(T("{call} returned {got!r}; expected (W1, W2, errors).",
                   "{call} devolvió {got!r}; se esperaba (W1, W2, errors).").format(call=call, got=result))
    check_trained(first, expected, call, oracles.documented_initialisation(2, 2, 1, 4))
    again_on_the_same_arrays(
        _as_trained(second), _as_trained(expected), call, "X or D",
        tolerance=TRAIN_TOL, why=T(", or it draws random numbers from elsewhere than np.random.default_rng(seed)",
                                   ", o saca números aleatorios de otro sitio que np.random.default_rng(seed)"),
        hint=T("work on new arrays and draw every random number from np.random.default_rng(seed), created inside "
               "train.", "trabaja con arrays nuevos y saca todos los números aleatorios de "
               "np.random.default_rng(seed), creado dentro de train."))


@pytest.mark.task("3.5")
def test_train_checks_its_arguments(mlp):
    """train accepts n_hidden=1 and epochs=0, and raises ValueError for n_hidden=0, epochs=-1 and bad arrays
    es: train acepta n_hidden=1 y epochs=0, y lanza ValueError con n_hidden=0, epochs=-1 y arrays incorrectos
    """
    X, D = XOR_X.copy(), XOR_D.copy()
    call = "train(X_xor, D_xor, n_hidden=1, eta=0.5, epochs=0, seed=2)"
    result = trained(mlp, call, X.copy(), D.copy(), 1, 0.5, 0, 2)
    exp1, exp2, _ = reference.train(X, D, 1, 0.5, 0, 2)
    hint = T("n_hidden = 1 and epochs = 0 are valid: zero epochs return the seeded initial weights and an empty "
             "list of errors.", "n_hidden = 1 y epochs = 0 son válidos: cero épocas devuelven los pesos iniciales "
             "sembrados y una lista de errores vacía.")
    check_close(result[0], exp1, name="W1", call=call, rtol=1e-8, atol=1e-10, hint=hint)
    check_close(result[1], exp2, name="W2", call=call, rtol=1e-8, atol=1e-10, hint=hint)
    check_equal(list(result[2]), [], call=f"{call}[2]", hint=hint)
    hint = T("n_hidden must be >= 1 and epochs >= 0; X (N, n_in) and D (N, n_out) float arrays; otherwise raise "
             "ValueError.", "n_hidden debe ser >= 1 y epochs >= 0; X (N, n_in) y D (N, n_out) arrays de floats; si "
             "no, lanza ValueError.")
    for description, args in [("n_hidden=0", (X, D, 0, 0.5, 3, 0)), ("n_hidden=0, epochs=0", (X, D, 0, 0.5, 0, 0)),
                              ("epochs=-1", (X, D, 2, 0.5, -1, 0)),
                              ("X.shape=(4,)", (X[:, 0].copy(), D, 2, 0.5, 3, 0)),
                              ("D.shape=(3, 1) for 4 examples", (X, D[:3].copy(), 2, 0.5, 3, 0)),
                              ("D.shape=(4,)", (X, D[:, 0].copy(), 2, 0.5, 3, 0)),
                              ("X.dtype=int64", (X.astype(np.int64), D, 2, 0.5, 3, 0))]:
        check_raises(ValueError, mlp.train, *args, call=f"train(X, D, ...) [{description}]", hint=hint)

"""A2 public graders: the worked examples of the course decks and one small comparison with PyTorch per task.

Students run these with ``autograder check a2``; the hidden graders check the
same functions against PyTorch on many random shapes, strides, paddings and
dilations, plus the classic image kernels, numerical gradients and speed.
"""
import numpy as np
import pytest

from autograder.feedback import T, describe_call
from autograder.gradcheck import check_close
from autograder.graders.a2 import oracles

# UMA deck, "Convolved Feature": a 5x5 binary image and a 3x3 kernel give a 3x3 feature map.
DECK_IMAGE = np.array([[1, 1, 1, 0, 0],
                       [0, 1, 1, 1, 0],
                       [0, 0, 1, 1, 1],
                       [0, 0, 1, 1, 0],
                       [0, 1, 1, 0, 0]], dtype=float).reshape(1, 1, 5, 5)
DECK_KERNEL = np.array([[1, 0, 1],
                        [0, 1, 0],
                        [1, 0, 1]], dtype=float).reshape(1, 1, 3, 3)
DECK_FEATURE = np.array([[4, 3, 4],
                         [2, 4, 3],
                         [2, 3, 4]], dtype=float).reshape(1, 1, 3, 3)
DECK_SOURCE = T("UMA deck, 'Convolved Feature': 5x5 image, 3x3 kernel, no padding, stride 1 -> 3x3",
                "transparencias UMA, 'Convolved Feature': imagen 5x5, kernel 3x3, sin relleno, stride 1 -> 3x3")
# UNED deck: 2x2 max-pooling with stride 2 of a 4x4 activation.
POOL_INPUT = np.array([[7, 8, 8, 0],
                       [1, 6, 7, 9],
                       [2, 3, 4, 6],
                       [4, 3, 5, 6]], dtype=float).reshape(1, 1, 4, 4)
POOL_OUTPUT = np.array([[8, 9],
                        [4, 6]], dtype=float).reshape(1, 1, 2, 2)


def small_case(seed=0, size=(7, 6)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2, 3, *size)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)


# (seed, input size, stride, padding): padding 0 first (x_pad[:, :, p:-p] is empty there), then a stride of 2
# that does not divide the padded size (8 + 2 - 3 = 7 rows, 7 + 2 - 2 = 7 columns: the output rounds down),
# then the usual case.
SMALL_CASES = [((7, 6), 1, 0), ((8, 7), 2, 1), ((7, 6), 2, 1)]


def check_small_cases(function, name, seed):
    for number, (size, stride, padding) in enumerate(SMALL_CASES):
        x, w, b = small_case(seed + 10 * number, size)
        oracles.check_conv(function, name, x, w, b, stride=stride, padding=padding)


def _deck_example(function, name):
    call = describe_call(name, "image(1, 1, 5, 5)", "kernel(1, 1, 3, 3)", None).replace("'", "")
    got = oracles.run_student(function, call, oracles.PADDING_ZERO, DECK_IMAGE.copy(), DECK_KERNEL.copy(), None)
    check_close(got, DECK_FEATURE, name="out", call=call,
                hint=T(str(DECK_SOURCE.en) + ". ", str(DECK_SOURCE.es) + ". ") + str(oracles.CROSS_CORRELATION))


@pytest.mark.task("2.1")
def test_loops_convolved_feature_example(cn):
    """conv2d_loops on the deck's 'Convolved Feature' example (5x5 image, 3x3 kernel)
    es: conv2d_loops en el ejemplo 'Convolved Feature' de las transparencias (imagen 5x5, kernel 3x3)
    """
    _deck_example(cn.conv2d_loops, "conv2d_loops")


@pytest.mark.task("2.1")
def test_loops_small_random_matches_torch(cn):
    """conv2d_loops equals torch.nn.functional.conv2d on small batches: padding 0, a stride that does not divide the padded size, padding 1
    es: conv2d_loops coincide con torch.nn.functional.conv2d en lotes pequeños: relleno 0, un paso que no divide el tamaño con relleno, relleno 1
    """
    check_small_cases(cn.conv2d_loops, "conv2d_loops", 0)


@pytest.mark.task("2.2")
def test_vectorized_convolved_feature_example(cn):
    """conv2d on the deck's 'Convolved Feature' example
    es: conv2d en el ejemplo 'Convolved Feature' de las transparencias
    """
    _deck_example(cn.conv2d, "conv2d")


@pytest.mark.task("2.2")
def test_vectorized_small_random_matches_torch(cn):
    """conv2d equals torch.nn.functional.conv2d on small batches: padding 0, a stride that does not divide the padded size, padding 1
    es: conv2d coincide con torch.nn.functional.conv2d en lotes pequeños: relleno 0, un paso que no divide el tamaño con relleno, relleno 1
    """
    check_small_cases(cn.conv2d, "conv2d", 1)


@pytest.mark.task("2.3")
def test_maxpool_deck_example(cn):
    """2x2 max-pooling with stride 2 of the UNED deck's 4x4 example -> [[8, 9], [4, 6]]
    es: Max-pooling 2x2 con paso 2 del ejemplo 4x4 de las transparencias de la UNED -> [[8, 9], [4, 6]]
    """
    got = cn.maxpool2d(POOL_INPUT.copy(), 2)
    check_close(got, POOL_OUTPUT, name="out", call="maxpool2d(x(1, 1, 4, 4), 2)",
                hint=T("UNED deck, 2x2 max-pooling with stride 2. ", "transparencias UNED, max-pooling 2x2 con stride 2. ")
                + str(oracles.POOLING))


@pytest.mark.task("2.3")
def test_maxpool_small_random_matches_torch(cn):
    """maxpool2d equals torch.nn.functional.max_pool2d (3x3 windows, stride 2, overlapping)
    es: maxpool2d coincide con torch.nn.functional.max_pool2d (ventanas 3x3, paso 2, solapadas)
    """
    x = np.random.default_rng(2).normal(size=(2, 3, 9, 8))
    oracles.check_pool(cn.maxpool2d, x, 3, stride=2)


@pytest.mark.task("2.4")
def test_conv_backward_small_matches_torch(cn):
    """conv2d_backward equals torch autograd's dx, dw, db on small batches: padding 0, a stride that does not divide the padded size, padding 1
    es: conv2d_backward coincide con los dx, dw, db de torch autograd en lotes pequeños: relleno 0, un paso que no divide el tamaño con relleno, relleno 1
    """
    for number, (size, stride, padding) in enumerate(SMALL_CASES):
        x, w, b = small_case(3 + 10 * number, size)
        dout = np.random.default_rng(4 + number).normal(size=oracles.conv(x, w, b, stride, padding).shape)
        call = describe_call("conv2d_backward", f"dout{dout.shape}", f"x{x.shape}", f"w{w.shape}", f"b{b.shape}",
                             stride=stride, padding=padding).replace("'", "")
        special = oracles.special_case_hint(x, w, stride, padding, 1)
        got = oracles.unpack_grads(oracles.run_student(cn.conv2d_backward, call, special, dout, x.copy(), w.copy(),
                                                       b.copy(), stride=stride, padding=padding), call)
        for name, g, e in zip(("dx", "dw", "db"), got, oracles.conv_grads(dout, x, w, b, stride, padding)):
            hint = oracles.shape_hint(g, e.shape, x, w, stride, padding, 1) if name == "dx" else None
            check_close(g, e, name=name, call=call, rtol=oracles.RTOL, atol=oracles.ATOL,
                        hint=hint or oracles.CONV_BACKWARD)


@pytest.mark.task("2.5")
def test_maxpool_backward_deck_example(cn):
    """maxpool2d_backward on the UNED 4x4 example routes each gradient to its window's maximum
    es: maxpool2d_backward en el ejemplo 4x4 de la UNED lleva cada gradiente al máximo de su ventana
    """
    dout = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    got = cn.maxpool2d_backward(dout, POOL_INPUT.copy(), 2)
    expected = np.array([[0, 1, 0, 0],
                         [0, 0, 0, 2],
                         [0, 0, 0, 0],
                         [3, 0, 0, 0]], dtype=float).reshape(1, 1, 4, 4)
    # The last window [[4, 6], [5, 6]] has two maxima: PyTorch picks the first (row-major), either is accepted.
    tie_first, tie_second = expected.copy(), expected.copy()
    tie_first[0, 0, 2, 3] = 4.0
    tie_second[0, 0, 3, 3] = 4.0
    call = "maxpool2d_backward(dout=[[1, 2], [3, 4]], x(1, 1, 4, 4), 2)"
    if isinstance(got, np.ndarray) and got.shape == expected.shape and np.allclose(got, tie_second):
        return
    check_close(got, tie_first, name="dx", call=call, hint=oracles.POOL_BACKWARD)

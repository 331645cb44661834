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


def small_case(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)


def _deck_example(function, name):
    got = function(DECK_IMAGE.copy(), DECK_KERNEL.copy(), None)
    check_close(got, DECK_FEATURE, name="out", call=describe_call(name, "image(1, 1, 5, 5)", "kernel(1, 1, 3, 3)",
                                                                   None).replace("'", ""),
                hint=T(str(DECK_SOURCE.en) + ". ", str(DECK_SOURCE.es) + ". ") + str(oracles.CROSS_CORRELATION))


@pytest.mark.task("2.1")
def test_loops_convolved_feature_example(cn):
    """conv2d_loops on the deck's 'Convolved Feature' example (5x5 image, 3x3 kernel)"""
    _deck_example(cn.conv2d_loops, "conv2d_loops")


@pytest.mark.task("2.1")
def test_loops_small_random_matches_torch(cn):
    """conv2d_loops equals torch.nn.functional.conv2d on a small batch (stride 2, padding 1, bias)"""
    x, w, b = small_case(0)
    oracles.check_conv(cn.conv2d_loops, "conv2d_loops", x, w, b, stride=2, padding=1)


@pytest.mark.task("2.2")
def test_vectorized_convolved_feature_example(cn):
    """conv2d on the deck's 'Convolved Feature' example"""
    _deck_example(cn.conv2d, "conv2d")


@pytest.mark.task("2.2")
def test_vectorized_small_random_matches_torch(cn):
    """conv2d equals torch.nn.functional.conv2d on a small batch (stride 2, padding 1, bias)"""
    x, w, b = small_case(1)
    oracles.check_conv(cn.conv2d, "conv2d", x, w, b, stride=2, padding=1)


@pytest.mark.task("2.3")
def test_maxpool_deck_example(cn):
    """2x2 max-pooling with stride 2 of the UNED deck's 4x4 example -> [[8, 9], [4, 6]]"""
    got = cn.maxpool2d(POOL_INPUT.copy(), 2)
    check_close(got, POOL_OUTPUT, name="out", call="maxpool2d(x(1, 1, 4, 4), 2)",
                hint=T("UNED deck, 2x2 max-pooling with stride 2. ", "transparencias UNED, max-pooling 2x2 con stride 2. ")
                + str(oracles.POOLING))


@pytest.mark.task("2.3")
def test_maxpool_small_random_matches_torch(cn):
    """maxpool2d equals torch.nn.functional.max_pool2d (3x3 windows, stride 2, overlapping)"""
    x = np.random.default_rng(2).normal(size=(2, 3, 9, 8))
    oracles.check_pool(cn.maxpool2d, x, 3, stride=2)


@pytest.mark.task("2.4")
def test_conv_backward_small_matches_torch(cn):
    """conv2d_backward equals torch autograd's dx, dw, db on a small batch"""
    x, w, b = small_case(3)
    rng = np.random.default_rng(4)
    dout = rng.normal(size=oracles.conv(x, w, b, 2, 1).shape)
    call = describe_call("conv2d_backward", f"dout{dout.shape}", f"x{x.shape}", f"w{w.shape}", f"b{b.shape}",
                         stride=2, padding=1).replace("'", "")
    got = oracles.unpack_grads(cn.conv2d_backward(dout, x.copy(), w.copy(), b.copy(), stride=2, padding=1), call)
    for name, g, e in zip(("dx", "dw", "db"), got, oracles.conv_grads(dout, x, w, b, 2, 1)):
        check_close(g, e, name=name, call=call, rtol=oracles.RTOL, atol=oracles.ATOL, hint=oracles.CONV_BACKWARD)


@pytest.mark.task("2.5")
def test_maxpool_backward_deck_example(cn):
    """maxpool2d_backward on the UNED 4x4 example routes each gradient to its window's maximum"""
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

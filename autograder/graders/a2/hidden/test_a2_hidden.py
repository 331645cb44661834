"""A2 hidden graders: PyTorch as the answer key on random configurations, classic kernels, gradients, speed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.feedback import T, describe_call, fail
from autograder.gradcheck import check_close, numerical_gradient_array
from autograder.graders.a2 import oracles

LOOP_EXAMPLES = settings(max_examples=30)
EXAMPLES = settings(max_examples=50)
GRAD_EXAMPLES = settings(max_examples=25)


@st.composite
def conv_configs(draw, max_size=7):
    """(x, w, b, stride, padding, dilation) that PyTorch accepts, small enough for a loop implementation."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hw = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    stride = draw(hw)
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    dilation = draw(st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2), st.integers(1, 2))))
    (ph, pw), (dh, dw) = oracles.pair(padding), oracles.pair(dilation)
    h = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, max_size))
    w_ = max(1, dw * (kw - 1) + 1 - 2 * pw) + draw(st.integers(0, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.normal(size=f) if draw(st.booleans()) or draw(st.booleans()) else None
    return rng.normal(size=(n, c, h, w_)), rng.normal(size=(f, c, kh, kw)), bias, stride, padding, dilation


@st.composite
def pool_configs(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    kh, kw = oracles.pair(kernel)
    h, w = kh + draw(st.integers(0, 7)), kw + draw(st.integers(0, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=(n, c, h, w)), kernel, stride


@pytest.mark.task("2.1")
@LOOP_EXAMPLES
@given(config=conv_configs())
def test_loops_agree_with_torch_on_random_configurations(cn, config):
    """conv2d_loops equals torch.nn.functional.conv2d (random shapes, strides, paddings, dilations)
    es: conv2d_loops coincide con torch.nn.functional.conv2d (formas, pasos, rellenos y dilataciones aleatorios)
    """
    x, w, b, s, p, d = config
    oracles.check_conv(cn.conv2d_loops, "conv2d_loops", x, w, b, s, p, d)


@pytest.mark.task("2.2")
@EXAMPLES
@given(config=conv_configs(max_size=10))
def test_vectorized_agrees_with_torch_on_random_configurations(cn, config):
    """conv2d equals torch.nn.functional.conv2d (random shapes, strides, paddings, dilations)
    es: conv2d coincide con torch.nn.functional.conv2d (formas, pasos, rellenos y dilataciones aleatorios)
    """
    x, w, b, s, p, d = config
    oracles.check_conv(cn.conv2d, "conv2d", x, w, b, s, p, d)


def synthetic_image(h=24, w=20):
    """A smooth 3-channel image (blobs and waves in [0, 1]), shape (1, 3, h, w)."""
    i, j = np.mgrid[0:h, 0:w] / max(h, w)
    red = 0.5 + 0.5 * np.sin(6 * i) * np.cos(4 * j)
    green = np.exp(-((i - 0.4) ** 2 + (j - 0.6) ** 2) * 8)
    blue = (i + j) / 2
    return np.stack([red, green, blue])[None]


def per_channel(kernel, channels=3):
    """w of shape (C, C, 3, 3) that filters every channel with ``kernel`` on its own."""
    w = np.zeros((channels, channels) + kernel.shape)
    for c in range(channels):
        w[c, c] = kernel
    return w


KERNELS = {  # the session 4 deck's table
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "edge detection 1": np.array([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], dtype=float),
    "edge detection 2": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
    "edge detection 3": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "box blur": np.ones((3, 3)) / 9,
    "gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16,
}


@pytest.mark.task("2.2")
def test_classic_kernels_on_a_synthetic_image(cn):
    """The deck's classic kernels: identity, box blur, edge detection, Gaussian blur and sharpen
    es: Los kernels clásicos de las transparencias: identidad, desenfoque de caja, detección de bordes, desenfoque gaussiano y realce
    """
    image = synthetic_image()
    same = T("A 3x3 kernel with padding=1 keeps the image size ('same' padding). ",
             "Un kernel 3x3 con padding=1 conserva el tamaño de la imagen (relleno 'same'). ")
    got = cn.conv2d(image.copy(), per_channel(KERNELS["identity"]), None, padding=1)
    check_close(got, image, name="out", call="conv2d(image(1, 3, 24, 20), identity kernel, None, padding=1)",
                hint=same + T("The identity kernel must return the image unchanged. ",
                              "El kernel identidad debe devolver la imagen sin cambios. ") + str(oracles.CROSS_CORRELATION))
    for name in ("gaussian blur", "sharpen"):
        oracles.check_conv(cn.conv2d, "conv2d", image, per_channel(KERNELS[name]), None, padding=1,
                           source=f"{name} kernel")
    # Box blur of an image that repeats every 3 pixels: each 3x3 window holds one copy of the tile, so the
    # output is constant and equal to the image's mean.
    tile = np.array([[0.1, 0.9, 0.4], [0.7, 0.2, 0.5], [0.3, 0.8, 0.6]])
    periodic = np.tile(tile, (5, 6))[None, None]
    got = cn.conv2d(periodic.copy(), KERNELS["box blur"][None, None], None)
    check_close(got, np.full((1, 1, 13, 16), tile.mean()), name="out",
                call="conv2d(periodic image(1, 1, 15, 18), box blur, None)",
                hint=T("the normalized box blur averages each 3x3 window, so it preserves the mean: on an image that "
                       "repeats every 3 pixels every window has the same average. ",
                       "el box blur normalizado promedia cada ventana 3x3, así que conserva la media: en una imagen "
                       "que se repite cada 3 píxeles todas las ventanas tienen la misma media. ")
                + str(oracles.CROSS_CORRELATION))
    # Edge kernels sum to 0: zero response on a constant image, and on a linear ramp too.
    i, j = np.mgrid[0:12, 0:10]
    for flat_name, flat in (("constant image", np.full((12, 10), 0.75)), ("linear ramp 0.3*i + 0.1*j", 0.3 * i + 0.1 * j)):
        for name in ("edge detection 1", "edge detection 2", "edge detection 3"):
            got = cn.conv2d(flat[None, None].astype(float), KERNELS[name][None, None], None)
            check_close(got, np.zeros((1, 1, 10, 8)), name="out", call=f"conv2d({flat_name}, {name} kernel, None)",
                        hint=T("edge kernels add up to 0, so a region without edges gives 0. ",
                               "los kernels de bordes suman 0, así que una zona sin bordes da 0. ")
                        + str(oracles.CROSS_CORRELATION))


def _cpu_per_call(function, *args, enough=0.2, most=50):
    """(CPU seconds per call, last result): calls repeated until they add up to ``enough`` CPU seconds.

    The CPU time is the student process's, measured by the grader from outside, so a busy
    machine does not change the ratio.
    """
    total, calls, result = 0.0, 0, None
    while calls < most and (calls == 0 or total < enough):
        result, seconds = function.timed(*(a.copy() for a in args))
        total, calls = total + seconds, calls + 1
    return max(total / calls, 1e-9), result


@pytest.mark.task("2.2")
def test_vectorized_is_much_faster_than_loops(cn):
    """conv2d is at least 10x faster than conv2d_loops on a (4, 3, 32, 32) batch with 8 filters 3x3
    es: conv2d es al menos 10 veces más rápida que conv2d_loops en un lote (4, 3, 32, 32) con 8 filtros 3x3
    """
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(4, 3, 32, 32)), rng.normal(size=(8, 3, 3, 3)), rng.normal(size=8)
    cn.conv2d(x[:1].copy(), w.copy(), b.copy())  # warm-up
    fast, out_fast = _cpu_per_call(cn.conv2d, x, w, b)
    slow, out_slow = _cpu_per_call(cn.conv2d_loops, x, w, b)
    expected = oracles.conv(x, w, b)  # both timed calls must compute the convolution, not just agree
    for got, name in ((out_fast, "conv2d"), (out_slow, "conv2d_loops")):
        check_close(got, expected, name="out", call=f"{name}(x(4, 3, 32, 32), w(8, 3, 3, 3), b(8,))",
                    rtol=oracles.RTOL, atol=oracles.ATOL,
                    hint=T("the speed is compared only between correct results: torch.nn.functional.conv2d is the "
                           "answer key; ", "solo se comparan velocidades de resultados correctos: la clave es "
                           "torch.nn.functional.conv2d; ") + str(oracles.CROSS_CORRELATION))
    ratio = slow / fast
    if ratio < 10:
        fail(T("conv2d took {fast:.4f} s and conv2d_loops {slow:.4f} s of CPU time per call: conv2d is only "
               "{r:.1f}x faster, expected at least 10x.",
               "conv2d tardó {fast:.4f} s y conv2d_loops {slow:.4f} s de CPU por llamada: conv2d solo es {r:.1f} "
               "veces más rápida; se esperaba al menos 10 veces.").format(fast=fast, slow=slow, r=ratio),
             T("gather all the windows at once (im2col or numpy.lib.stride_tricks.sliding_window_view) and compute "
               "every output with one matrix product (np.tensordot, np.einsum or @); no Python loop over output "
               "positions.",
               "reúne todas las ventanas a la vez (im2col o numpy.lib.stride_tricks.sliding_window_view) y calcula "
               "todas las salidas con un solo producto de matrices (np.tensordot, np.einsum o @); sin bucles de "
               "Python sobre las posiciones de salida."))


@pytest.mark.task("2.3")
@EXAMPLES
@given(config=pool_configs())
def test_maxpool_agrees_with_torch_on_random_configurations(cn, config):
    """maxpool2d equals torch.nn.functional.max_pool2d (random windows and strides, overlapping too)
    es: maxpool2d coincide con torch.nn.functional.max_pool2d (ventanas y pasos aleatorios, también solapadas)
    """
    x, kernel, stride = config
    oracles.check_pool(cn.maxpool2d, x, kernel, stride)


def _conv_backward_call(dout, x, w, b, s, p, d):
    return describe_call("conv2d_backward", f"dout{dout.shape}", f"x{x.shape}", f"w{w.shape}",
                         None if b is None else f"b{b.shape}", stride=s, padding=p, dilation=d).replace("'", "")


@pytest.mark.task("2.4")
@GRAD_EXAMPLES
@given(config=conv_configs(max_size=5), seed=st.integers(0, 2**32 - 1))
def test_conv_backward_agrees_with_autograd(cn, config, seed):
    """conv2d_backward equals torch autograd's dx, dw, db (random configurations)
    es: conv2d_backward coincide con los dx, dw, db de torch autograd (configuraciones aleatorias)
    """
    x, w, b, s, p, d = config
    dout = np.random.default_rng(seed).normal(size=oracles.conv(x, w, b, s, p, d).shape)
    call = _conv_backward_call(dout, x, w, b, s, p, d)
    got = oracles.unpack_grads(cn.conv2d_backward(dout, x.copy(), w.copy(), None if b is None else b.copy(),
                                                  stride=s, padding=p, dilation=d), call)
    for name, g, e in zip(("dx", "dw", "db"), got, oracles.conv_grads(dout, x, w, b, s, p, d)):
        hint = oracles.shape_hint(g, e.shape, x, w, s, p, d) if name == "dx" else None
        check_close(g, e, name=name, call=call, rtol=oracles.RTOL, atol=oracles.ATOL,
                    hint=hint or oracles.CONV_BACKWARD)


@pytest.mark.task("2.4")
def test_conv_backward_numerical_gradient(cn):
    """conv2d_backward matches centred finite differences of the convolution (stride 2, padding 1, dilation 2)
    es: conv2d_backward coincide con las diferencias finitas centradas de la convolución (paso 2, relleno 1, dilatación 2)
    """
    rng = np.random.default_rng(11)
    x, w, b = rng.normal(size=(2, 2, 7, 6)), rng.normal(size=(3, 2, 2, 3)), rng.normal(size=3)
    s, p, d = 2, 1, (2, 1)
    dout = rng.normal(size=oracles.conv(x, w, b, s, p, d).shape)
    expected = (numerical_gradient_array(lambda v: oracles.conv(v, w, b, s, p, d), x.copy(), dout),
                numerical_gradient_array(lambda v: oracles.conv(x, v, b, s, p, d), w.copy(), dout),
                numerical_gradient_array(lambda v: oracles.conv(x, w, v, s, p, d), b.copy(), dout))
    call = _conv_backward_call(dout, x, w, b, s, p, d)
    got = oracles.unpack_grads(cn.conv2d_backward(dout, x.copy(), w.copy(), b.copy(), stride=s, padding=p,
                                                  dilation=d), call)
    for name, g, e in zip(("dx", "dw", "db"), got, expected):
        check_close(g, e, name=name, call=call + " vs numerical gradient", rtol=1e-5, atol=1e-6,
                    hint=oracles.CONV_BACKWARD)


def _pool_backward_call(dout, x, kernel, stride):
    return describe_call("maxpool2d_backward", f"dout{dout.shape}", f"x{x.shape}", kernel,
                         stride=stride).replace("'", "")


@pytest.mark.task("2.5")
@EXAMPLES
@given(config=pool_configs(), seed=st.integers(0, 2**32 - 1))
def test_maxpool_backward_agrees_with_autograd(cn, config, seed):
    """maxpool2d_backward equals torch autograd (random windows and strides, overlapping windows add up)
    es: maxpool2d_backward coincide con torch autograd (ventanas y pasos aleatorios; en ventanas solapadas los gradientes se suman)
    """
    x, kernel, stride = config
    dout = np.random.default_rng(seed).normal(size=oracles.pool(x, kernel, stride).shape)
    got = cn.maxpool2d_backward(dout, x.copy(), kernel, stride=stride)
    check_close(got, oracles.pool_grad(dout, x, kernel, stride), name="dx",
                call=_pool_backward_call(dout, x, kernel, stride), rtol=oracles.RTOL, atol=oracles.ATOL,
                hint=oracles.POOL_BACKWARD)


@pytest.mark.task("2.5")
def test_maxpool_backward_numerical_gradient(cn):
    """maxpool2d_backward matches centred finite differences of max-pooling (3x3 windows, stride 2)
    es: maxpool2d_backward coincide con las diferencias finitas centradas del max-pooling (ventanas 3x3, paso 2)
    """
    rng = np.random.default_rng(12)
    x = rng.permutation(2 * 2 * 7 * 7).reshape(2, 2, 7, 7) / 10.0  # distinct values 0.1 apart: no ties
    dout = rng.normal(size=oracles.pool(x, 3, 2).shape)
    expected = numerical_gradient_array(lambda v: oracles.pool(v, 3, 2), x.copy(), dout)
    got = cn.maxpool2d_backward(dout, x.copy(), 3, stride=2)
    check_close(got, expected, name="dx", call=_pool_backward_call(dout, x, 3, 2) + " vs numerical gradient",
                rtol=1e-5, atol=1e-6, hint=oracles.POOL_BACKWARD)

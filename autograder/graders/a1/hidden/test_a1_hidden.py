"""A1 hidden graders: PyTorch's own layers as the answer key over random configurations."""
import pytest
import torch.nn as nn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder.feedback import T, check_equal, check_raises, describe_call, fail
from autograder.graders.a1 import oracles

EXAMPLES = settings(max_examples=150)
sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
paddings = st.integers(0, 4)
dilations = st.integers(1, 3)


def size_or_pair(values):
    return st.one_of(values, st.tuples(values, values))


def _call_valid(function, args, kwargs, call, layer, expected, hint):
    """Call the student's function on a configuration PyTorch accepts; ValueError there is a mistake."""
    try:
        return function(*args, **kwargs)
    except ValueError as exc:
        fail(T("{call} raised ValueError ({msg}), but {layer} accepts this configuration and gives {e}.",
               "{call} lanzó ValueError ({msg}), pero {layer} acepta esta configuración y da {e}.")
             .format(call=call, msg=exc, layer=layer, e=expected), hint)


def _check_conv(ca, i, k, s, p, d):
    expected = oracles.conv_size(i, k, s, p, d)
    call = describe_call("conv_output_size", i, k, stride=s, padding=p, dilation=d)
    if expected is None:
        check_raises(ValueError, ca.conv_output_size, i, k, stride=s, padding=p, dilation=d, call=call,
                     hint=T("torch.nn.Conv2d rejects this configuration: the dilated kernel d*(k-1)+1 is larger "
                            "than the padded input i + 2p.",
                            "torch.nn.Conv2d rechaza esta configuración: el kernel dilatado d*(k-1)+1 es mayor que "
                            "la entrada con relleno i + 2p."))
        return
    got = _call_valid(ca.conv_output_size, (i, k), dict(stride=s, padding=p, dilation=d), call,
                      "torch.nn.Conv2d", expected, oracles.FORMULA)
    height = got if isinstance(got, int) else (got[0] if isinstance(got, (tuple, list)) and got else None)
    hint = oracles.diagnose_conv(height, *(oracles.pair(x)[0] for x in (i, k, s, p, d)))
    check_equal(got, oracles.as_given(expected, i, k, s, p, d), call=call,
                hint=T("torch.nn.Conv2d gives {e}. ", "torch.nn.Conv2d da {e}. ").format(e=expected) + str(hint))


@pytest.mark.task("1.1")
@EXAMPLES
@given(i=sizes, k=kernels, s=strides, p=paddings, d=st.just(1))
def test_conv_matches_pytorch_without_dilation(ca, i, k, s, p, d):
    """Convolution size equals torch.nn.Conv2d's (random i, k, s, p)"""
    _check_conv(ca, i, k, s, p, d)


@pytest.mark.task("1.1")
@EXAMPLES
@given(i=sizes, k=st.integers(2, 7), s=strides, p=paddings, d=st.integers(2, 3))
def test_conv_matches_pytorch_with_dilation(ca, i, k, s, p, d):
    """Convolution size with dilation equals torch.nn.Conv2d's"""
    _check_conv(ca, i, k, s, p, d)


@pytest.mark.task("1.1")
@EXAMPLES
@given(i=size_or_pair(sizes), k=size_or_pair(kernels), s=size_or_pair(strides), p=size_or_pair(paddings),
       d=size_or_pair(dilations))
def test_conv_pairs_match_pytorch(ca, i, k, s, p, d):
    """Convolution size with (h, w) pairs equals torch.nn.Conv2d's"""
    assume(any(isinstance(x, tuple) for x in (i, k, s, p, d)))
    _check_conv(ca, i, k, s, p, d)


@pytest.mark.task("1.1")
def test_conv_impossible_configurations_raise(ca):
    """Impossible convolutions raise ValueError instead of returning a size"""
    hint = T("check the arguments first and raise ValueError with a clear message; a size of 0 or less is not an answer.",
             "comprueba primero los argumentos y lanza ValueError con un mensaje claro; un tamaño de 0 o menos no es una respuesta.")
    for args, kwargs in [((3, 5), {}), ((4, 7), {"padding": 1}), ((5, 3), {"dilation": 3}),
                         ((8, 3), {"stride": 0}), ((8, 3), {"padding": -1})]:
        check_raises(ValueError, ca.conv_output_size, *args, **kwargs,
                     call=describe_call("conv_output_size", *args, **kwargs), hint=hint)


def _check_pool(ca, i, k, s, p, d, ceil_mode):
    expected = oracles.pool_size(i, k, s, p, d, ceil_mode)
    call = describe_call("pool_output_size", i, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    if expected is None:
        check_raises(ValueError, ca.pool_output_size, i, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode,
                     call=call, hint=T("torch.nn.MaxPool2d rejects this configuration (padding larger than half the "
                                       "kernel, or an empty output).",
                                       "torch.nn.MaxPool2d rechaza esta configuración (relleno mayor que medio kernel "
                                       "o salida vacía)."))
        return
    got = _call_valid(ca.pool_output_size, (i, k), dict(stride=s, padding=p, dilation=d, ceil_mode=ceil_mode),
                      call, "torch.nn.MaxPool2d", expected[0], oracles.diagnose_pool(None, i, k, s or k, p, d, ceil_mode))
    check_equal(got, expected[0], call=call,
                hint=T("torch.nn.MaxPool2d gives {e}. ", "torch.nn.MaxPool2d da {e}. ").format(e=expected[0])
                + str(oracles.diagnose_pool(got, i, k, s or k, p, d, ceil_mode)))


@pytest.mark.task("1.2")
@EXAMPLES
@given(i=sizes, k=kernels, s=st.one_of(st.none(), strides), p=paddings, d=dilations)
def test_pool_matches_pytorch(ca, i, k, s, p, d):
    """Pooling size (floor mode) equals torch.nn.MaxPool2d's"""
    _check_pool(ca, i, k, s, p, d, False)


@pytest.mark.task("1.2")
@EXAMPLES
@given(i=sizes, k=kernels, s=strides, p=paddings, d=dilations)
def test_pool_ceil_mode_matches_pytorch(ca, i, k, s, p, d):
    """Pooling size with ceil_mode=True equals torch.nn.MaxPool2d's"""
    _check_pool(ca, i, k, s, p, d, True)


@pytest.mark.task("1.3")
@settings(max_examples=60)
@given(k=st.integers(0, 5).map(lambda n: 2 * n + 1), d=dilations, i=st.integers(1, 40))
def test_same_padding_keeps_the_size(ca, k, d, i):
    """A stride-1 Conv2d padded with same_padding keeps the input size"""
    p = ca.same_padding(k, dilation=d)
    call = describe_call("same_padding", k, dilation=d)
    if not isinstance(p, int) or isinstance(p, bool) or p < 0:
        fail(T("{call} returned {p!r}; expected a non-negative int.",
               "{call} devolvió {p!r}; se esperaba un int no negativo.").format(call=call, p=p))
    out = oracles.conv_size(i, k, 1, p, d)
    if out != (i, i):
        fail(T("{call} returned {p}, but nn.Conv2d({k}, padding={p}, dilation={d}) turns size {i} into {o}.",
               "{call} devolvió {p}, pero nn.Conv2d({k}, padding={p}, dilation={d}) convierte el tamaño {i} en {o}.")
             .format(call=call, p=p, k=k, d=d, i=i, o=out[0] if out else "an error"),
             T("with s = 1, o = i needs 2p = d*(k - 1).", "con s = 1, o = i exige 2p = d*(k - 1)."))


@pytest.mark.task("1.3")
def test_same_padding_pairs_and_even_kernels(ca):
    """'Same' padding of (h, w) kernels; even kernels raise ValueError"""
    check_equal(ca.same_padding((3, 5)), (1, 2), call=describe_call("same_padding", (3, 5)),
                hint=T("one padding per dimension.", "un relleno por dimensión."))
    for k in (2, 4, (3, 4)):
        check_raises(ValueError, ca.same_padding, k, call=describe_call("same_padding", k),
                     hint=T("an even kernel cannot be centred: d*(k-1) is odd, so no integer p gives o = i.",
                            "un kernel par no se puede centrar: d*(k-1) es impar y ningún p entero da o = i."))


@pytest.mark.task("1.4")
@settings(max_examples=100)
@given(groups=st.integers(1, 4), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       k=size_or_pair(kernels), bias=st.booleans())
def test_conv_parameters_match_pytorch(ca, groups, c_in, c_out, k, bias):
    """Conv2d parameter count equals PyTorch's, with groups and optional bias"""
    c_in, c_out = c_in * groups, c_out * groups
    layer = nn.Conv2d(c_in, c_out, k, groups=groups, bias=bias)
    expected = sum(p.numel() for p in layer.parameters())
    check_equal(ca.conv2d_num_params(c_in, c_out, k, groups=groups, bias=bias), expected,
                call=describe_call("conv2d_num_params", c_in, c_out, k, groups=groups, bias=bias),
                hint=T("(k_h*k_w*c_in/groups + 1)*c_out; each filter sees only c_in/groups channels, and there is "
                       "no +1 when bias=False.",
                       "(k_h*k_w*c_in/groups + 1)*c_out; cada filtro ve solo c_in/groups canales, y no hay +1 "
                       "cuando bias=False."))


@pytest.mark.task("1.4")
@settings(max_examples=60)
@given(n_in=st.integers(1, 500), n_out=st.integers(1, 50), bias=st.booleans())
def test_linear_parameters_match_pytorch(ca, n_in, n_out, bias):
    """Linear parameter count equals PyTorch's, with optional bias"""
    expected = sum(p.numel() for p in nn.Linear(n_in, n_out, bias=bias).parameters())
    check_equal(ca.linear_num_params(n_in, n_out, bias=bias), expected,
                call=describe_call("linear_num_params", n_in, n_out, bias=bias),
                hint=T("(n_in + 1)*n_out, without the +1 when bias=False.",
                       "(n_in + 1)*n_out, sin el +1 cuando bias=False."))


@st.composite
def sequentials(draw):
    """A random valid Conv2d/MaxPool2d/ReLU stack, then Flatten and Linear layers."""
    channels, h, w = draw(st.integers(1, 4)), draw(st.integers(8, 40)), draw(st.integers(8, 40))
    layers, c = [], channels
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            out = draw(st.integers(1, 8))
            layers.append(nn.Conv2d(c, out, draw(size_or_pair(st.integers(1, 5))), stride=draw(st.integers(1, 2)),
                                    padding=draw(st.integers(0, 2)), dilation=draw(st.integers(1, 2))))
            layers.append(nn.ReLU())
            c = out
        else:
            k = draw(st.integers(1, 3))
            layers.append(nn.MaxPool2d(k, stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, k // 2)),
                                       ceil_mode=draw(st.booleans())))
    model = nn.Sequential(*layers, nn.Flatten())
    try:
        features = oracles.trace(model, (channels, h, w))[-1][0]
    except RuntimeError:
        assume(False)
    hidden = draw(st.integers(1, 20))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(features, hidden), nn.Sigmoid(),
                         nn.Linear(hidden, 10)), (channels, h, w)


@pytest.mark.task("1.5")
@settings(max_examples=60)
@given(case=sequentials())
def test_trace_matches_pytorch(ca, case):
    """trace_shapes equals the shapes PyTorch produces, on random networks"""
    model, input_shape = case
    expected = oracles.trace(model, input_shape)
    got = ca.trace_shapes(model, input_shape)
    call = f"trace_shapes({model}, {input_shape})"
    if isinstance(got, (list, tuple)) and len(got) == len(expected):
        for index, (g, e) in enumerate(zip(got, expected)):
            check_equal(g, e, call=f"layer {index} ({type(model[index]).__name__}) of " + call,
                        hint=T("the first wrong layer is shown; conv and pooling layers use your own formulas "
                               "with the layer's kernel_size, stride, padding and dilation.",
                               "se muestra la primera capa incorrecta; las capas de convolución y pooling usan tus "
                               "fórmulas con kernel_size, stride, padding y dilation de la capa."))
    check_equal(got, expected, call=call,
                hint=T("one entry per layer of the Sequential.", "una entrada por capa del Sequential."))


@pytest.mark.task("1.5")
def test_trace_does_not_run_the_model(ca):
    """trace_shapes reads the layers' attributes and never runs them"""
    model = oracles.lenet()

    def refuse(*args, **kwargs):
        raise RuntimeError("the layer was run")

    for layer in model:
        layer.forward = refuse
    try:
        got = ca.trace_shapes(model, (3, 32, 32))
    except RuntimeError as exc:
        if "the layer was run" not in str(exc):
            raise
        fail(T("trace_shapes ran the model (it called a layer).", "trace_shapes ejecutó el modelo (llamó a una capa)."),
             T("compute every shape from the layer's attributes (kernel_size, stride, ...) with your own functions.",
               "calcula cada forma a partir de los atributos de la capa (kernel_size, stride, ...) con tus funciones."))
    check_equal(got[-1] if got else got, (10,), call="trace_shapes(lenet, (3, 32, 32))[-1]")


@pytest.mark.task("1.5")
def test_trace_rejects_inconsistent_networks(ca):
    """trace_shapes raises ValueError for a channel or feature mismatch"""
    cases = [
        (nn.Sequential(nn.Conv2d(1, 6, 5)), "a Conv2d expecting 1 channel on a 3-channel image"),
        (nn.Sequential(nn.Conv2d(3, 6, 5), nn.Flatten(), nn.Linear(100, 10)), "Linear(100) after 6*28*28 features"),
        (nn.Sequential(nn.Conv2d(3, 6, 40)), "a 40x40 kernel on a 32x32 image"),
    ]
    for model, what in cases:
        check_raises(ValueError, ca.trace_shapes, model, (3, 32, 32), call=f"trace_shapes({what})",
                     hint=T("check that each layer's in_channels / in_features match the previous shape.",
                            "comprueba que in_channels / in_features de cada capa coinciden con la forma anterior."))

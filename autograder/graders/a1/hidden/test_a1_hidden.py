"""A1 hidden graders: PyTorch's own layers as the answer key over random configurations."""
import pytest
import torch
import torch.nn as nn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder.feedback import T, check_equal, check_raises, describe_call, fail
from autograder.graders.a1 import oracles as hints
from autograder.graders.a1.hidden import oracles

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
    """Convolution size equals torch.nn.Conv2d's (random i, k, s, p)
    es: El tamaño de la convolución coincide con el de torch.nn.Conv2d (i, k, s, p aleatorios)
    """
    _check_conv(ca, i, k, s, p, d)


@pytest.mark.task("1.1")
@EXAMPLES
@given(i=sizes, k=st.integers(2, 7), s=strides, p=paddings, d=st.integers(2, 3))
def test_conv_matches_pytorch_with_dilation(ca, i, k, s, p, d):
    """Convolution size with dilation equals torch.nn.Conv2d's
    es: El tamaño de la convolución con dilatación coincide con el de torch.nn.Conv2d
    """
    _check_conv(ca, i, k, s, p, d)


@pytest.mark.task("1.1")
@EXAMPLES
@given(i=size_or_pair(sizes), k=size_or_pair(kernels), s=size_or_pair(strides), p=size_or_pair(paddings),
       d=size_or_pair(dilations))
def test_conv_pairs_match_pytorch(ca, i, k, s, p, d):
    """Convolution size with (h, w) pairs equals torch.nn.Conv2d's
    es: El tamaño de la convolución con pares (h, w) coincide con el de torch.nn.Conv2d
    """
    assume(any(isinstance(x, tuple) for x in (i, k, s, p, d)))
    _check_conv(ca, i, k, s, p, d)


REFUSES_EVERYTHING = T("valid configurations first: a function that refuses everything scores nothing here.",
                       "primero las configuraciones válidas: una función que lo rechaza todo no puntúa aquí.")


def _check_valid_first(function, name, cases, oracle, diagnose=None):
    """The same function must get valid configurations right before its error cases can score. A wrong size
    gets the hint ``diagnose(got, *args, **kwargs)`` names (the formula's usual mistakes), not "refuses everything"."""
    for args, kwargs in cases:
        expected = oracle(*args, **kwargs)
        got = function(*args, **kwargs)
        number = isinstance(got, int) and not isinstance(got, bool) and got > 0
        hint = diagnose(got, *args, **kwargs) if diagnose and number else REFUSES_EVERYTHING
        check_equal(got, expected, call=describe_call(name, *args, **kwargs), hint=hint)


def _conv_mistake(got, i, k, stride=1, padding=0, dilation=1) -> T:
    return hints.diagnose_conv(got, i, k, stride, padding, dilation)


def _impossible_conv_hint(i, k, stride=1, padding=0, dilation=1) -> T:
    """Why this convolution is impossible, when its dilation is what makes it so (the kernel's span)."""
    if isinstance(k, int) and isinstance(dilation, int) and dilation > 1 and k <= i + 2 * padding:
        span = dilation * (k - 1) + 1
        return T("with dilation {d} a {k}-pixel kernel spans d*(k - 1) + 1 = {n} pixels, more than the {i} of the "
                 "padded input: use that span, not k, in the formula and in the check.",
                 "con dilatación {d} un kernel de {k} píxeles abarca d*(k - 1) + 1 = {n} píxeles, más que los {i} de "
                 "la entrada con relleno: usa ese tamaño, no k, en la fórmula y en la comprobación.").format(
            d=dilation, k=k, n=span, i=i + 2 * padding)
    return IMPOSSIBLE_HINT


IMPOSSIBLE_HINT = T("check the arguments first and raise ValueError with a clear message; a size of 0 or less is not "
                    "an answer.", "comprueba primero los argumentos y lanza ValueError con un mensaje claro; un tamaño "
                    "de 0 o menos no es una respuesta.")


@pytest.mark.task("1.1")
def test_conv_impossible_configurations_raise(ca):
    """Impossible convolutions (a kernel or dilation of 0 too) raise ValueError; the valid ones next to them do not
    es: Las convoluciones imposibles (también con un kernel o una dilatación de 0) lanzan ValueError; las válidas de al lado no
    """
    _check_valid_first(ca.conv_output_size, "conv_output_size",
                       [((3, 3), {}), ((4, 7), {"padding": 2}), ((5, 3), {"dilation": 2}), ((8, 1), {"stride": 8}),
                        ((1, 1), {})],
                       lambda i, k, stride=1, padding=0, dilation=1: oracles.conv_size(i, k, stride, padding, dilation)[0],
                       _conv_mistake)
    for args, kwargs in [((3, 5), {}), ((4, 7), {"padding": 1}), ((5, 3), {"dilation": 3}),
                         ((8, 3), {"stride": 0}), ((8, 3), {"padding": -1}), ((8, 0), {}), ((8, 3), {"dilation": 0}),
                         ((0, 1), {}), ((0, 3), {"padding": 2}), ((8, (3, 0)), {})]:
        check_raises(ValueError, ca.conv_output_size, *args, **kwargs,
                     call=describe_call("conv_output_size", *args, **kwargs),
                     hint=_impossible_conv_hint(*args, **kwargs))


@pytest.mark.task("1.2")
def test_pool_impossible_configurations_raise(ca):
    """Impossible poolings (a kernel, stride or dilation of 0, too much padding) raise ValueError; valid ones do not
    es: Las agrupaciones imposibles (kernel, paso o dilatación de 0, demasiado relleno) lanzan ValueError; las válidas no
    """
    _check_valid_first(ca.pool_output_size, "pool_output_size",
                       [((2, 2), {}), ((5, 4), {"padding": 2}), ((6, 1), {"stride": 6}), ((7, 2), {"dilation": 3})],
                       lambda i, k, stride=None, padding=0, dilation=1: oracles.pool_size(i, k, stride, padding,
                                                                                          dilation)[0])
    for args, kwargs in [((8, 0), {}), ((8, 0), {"stride": 1}), ((8, 2), {"stride": 0}), ((8, 3), {"dilation": 0}),
                         ((8, 3), {"padding": 2}), ((8, 2), {"padding": -1}), ((0, 1), {}), ((0, 2), {"padding": 1}),
                         ((2, 3), {})]:
        check_raises(ValueError, ca.pool_output_size, *args, **kwargs,
                     call=describe_call("pool_output_size", *args, **kwargs), hint=IMPOSSIBLE_HINT)


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
    """Pooling size (floor mode) equals torch.nn.MaxPool2d's
    es: El tamaño de la agrupación (modo floor) coincide con el de torch.nn.MaxPool2d
    """
    _check_pool(ca, i, k, s, p, d, False)


@pytest.mark.task("1.2")
@EXAMPLES
@given(i=sizes, k=kernels, s=strides, p=paddings, d=dilations)
def test_pool_ceil_mode_matches_pytorch(ca, i, k, s, p, d):
    """Pooling size with ceil_mode=True equals torch.nn.MaxPool2d's
    es: El tamaño de la agrupación con ceil_mode=True coincide con el de torch.nn.MaxPool2d
    """
    _check_pool(ca, i, k, s, p, d, True)


@pytest.mark.task("1.3")
@settings(max_examples=60)
@given(k=st.integers(0, 5).map(lambda n: 2 * n + 1), d=dilations, i=st.integers(1, 40))
def test_same_padding_keeps_the_size(ca, k, d, i):
    """A stride-1 Conv2d padded with same_padding keeps the input size
    es: Una Conv2d de paso 1 con el relleno de same_padding conserva el tamaño de la entrada
    """
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
    """'Same' padding of (h, w) kernels; even kernels raise ValueError
    es: Relleno 'same' de kernels (h, w); los kernels de tamaño par lanzan ValueError
    """
    check_equal(ca.same_padding((3, 5)), (1, 2), call=describe_call("same_padding", (3, 5)),
                hint=T("one padding per dimension.", "un relleno por dimensión."))
    for k in (2, 4, (3, 4)):
        check_raises(ValueError, ca.same_padding, k, call=describe_call("same_padding", k),
                     hint=T("an even kernel cannot be centred: d*(k-1) is odd, so no integer p gives o = i.",
                            "un kernel par no se puede centrar: d*(k-1) es impar y ningún p entero da o = i."))
    for args, kwargs in (((-1,), {}), ((3,), {"dilation": 0}), (((3, 5),), {"dilation": (1, 0)})):
        check_raises(ValueError, ca.same_padding, *args, **kwargs, call=describe_call("same_padding", *args, **kwargs),
                     hint=T("kernel sizes and dilations are >= 1.", "los tamaños de kernel y las dilataciones son >= 1."))


@pytest.mark.task("1.4")
@settings(max_examples=100)
@given(groups=st.integers(1, 4), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       k=size_or_pair(kernels), bias=st.booleans())
def test_conv_parameters_match_pytorch(ca, groups, c_in, c_out, k, bias):
    """Conv2d parameter count equals PyTorch's, with groups and optional bias
    es: El número de parámetros de Conv2d coincide con el de PyTorch, con groups y sesgo opcional
    """
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
def test_parameter_counts_reject_impossible_layers(ca):
    """conv2d_num_params and linear_num_params raise ValueError for sizes below 1 or channels not divisible by groups
    es: conv2d_num_params y linear_num_params lanzan ValueError con tamaños menores que 1 o canales no divisibles entre groups
    """
    check_equal(ca.conv2d_num_params(4, 8, 3, groups=2), 152, call=describe_call("conv2d_num_params", 4, 8, 3, groups=2),
                hint=T("valid layers first: (3*3*4/2 + 1)*8 = 152.", "primero las capas válidas: (3*3*4/2 + 1)*8 = 152."))
    check_equal(ca.linear_num_params(1, 1), 2, call=describe_call("linear_num_params", 1, 1))
    hint = T("torch.nn.Conv2d and torch.nn.Linear refuse these layers: sizes and groups must be >= 1, and groups must "
             "divide both in_channels and out_channels.",
             "torch.nn.Conv2d y torch.nn.Linear rechazan estas capas: los tamaños y groups deben ser >= 1, y groups "
             "debe dividir in_channels y out_channels.")
    for args, kwargs in [((0, 6, 3), {}), ((3, 0, 3), {}), ((3, 6, 0), {}), ((3, 6, (3, 0)), {}), ((3, 6, 3), {"groups": 0}),
                         ((4, 6, 3), {"groups": 4}), ((6, 4, 3), {"groups": 4})]:
        check_raises(ValueError, ca.conv2d_num_params, *args, **kwargs,
                     call=describe_call("conv2d_num_params", *args, **kwargs), hint=hint)
    for args in ((0, 5), (5, 0)):
        check_raises(ValueError, ca.linear_num_params, *args, call=describe_call("linear_num_params", *args), hint=hint)


@pytest.mark.task("1.4")
@settings(max_examples=60)
@given(n_in=st.integers(1, 500), n_out=st.integers(1, 50), bias=st.booleans())
def test_linear_parameters_match_pytorch(ca, n_in, n_out, bias):
    """Linear parameter count equals PyTorch's, with optional bias
    es: El número de parámetros de Linear coincide con el de PyTorch, con sesgo opcional
    """
    expected = sum(p.numel() for p in nn.Linear(n_in, n_out, bias=bias).parameters())
    check_equal(ca.linear_num_params(n_in, n_out, bias=bias), expected,
                call=describe_call("linear_num_params", n_in, n_out, bias=bias),
                hint=T("(n_in + 1)*n_out, without the +1 when bias=False.",
                       "(n_in + 1)*n_out, sin el +1 cuando bias=False."))


@st.composite
def sequentials(draw):
    """A random valid Conv2d/MaxPool2d/ReLU stack, then Flatten and Linear layers: (description, input shape)."""
    channels, h, w = draw(st.integers(1, 4)), draw(st.integers(8, 40)), draw(st.integers(8, 40))
    layers, c = [], channels
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            out = draw(st.integers(1, 8))
            layers.append(["Conv2d", dict(in_channels=c, out_channels=out, kernel_size=draw(size_or_pair(st.integers(1, 5))),
                                          stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 2)),
                                          dilation=draw(st.integers(1, 2)))])
            layers.append(["ReLU", {}])
            c = out
        else:
            k = draw(st.integers(1, 3))
            layers.append(["MaxPool2d", dict(kernel_size=k, stride=draw(st.integers(1, 3)),
                                             padding=draw(st.integers(0, k // 2)), ceil_mode=draw(st.booleans()))])
    try:
        features = oracles.trace(oracles.nets.build(layers + [["Flatten", {}]]), (channels, h, w))[-1][0]
    except RuntimeError:
        assume(False)
    hidden = draw(st.integers(1, 20))
    return layers + [["Flatten", {}], ["Linear", dict(in_features=features, out_features=hidden)], ["Sigmoid", {}],
                     ["Linear", dict(in_features=hidden, out_features=10)]], (channels, h, w)


@pytest.mark.task("1.5")
@settings(max_examples=60)
@given(case=sequentials())
def test_trace_matches_pytorch(ca, nets, case):
    """trace_shapes equals the shapes PyTorch produces, on random networks
    es: trace_shapes coincide con las formas que produce PyTorch, en redes aleatorias
    """
    spec, input_shape = case
    model = oracles.nets.build(spec)
    expected = oracles.trace(model, input_shape)
    got = ca.trace_shapes(nets.build(spec), input_shape)
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


def _still_misleading(net, spec, input_shape) -> bool:
    """Whether every layer of ``net`` (a ``nets.misleading(spec)`` handle) still gives, when the grader runs it,
    the output that a misleading layer built here gives: a trace_shapes that repaired the layers is caught."""
    ours = oracles.nets.misleading(spec)
    shapes = [tuple(input_shape)] + oracles.trace(oracles.nets.build(spec), input_shape)
    for index, layer in enumerate(ours):
        x = torch.zeros(1, *shapes[index])
        with torch.no_grad():
            expected = tuple(layer(x).shape)
        theirs = net.get(str(index))
        for run in (theirs, theirs.forward):
            out = run(x)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
                return False
    return True


RAN_THE_MODEL = T("trace_shapes ran the model: the layers of this network were built so that running them gives "
                  "other shapes than their attributes say, and trace_shapes returned the shapes running gives.",
                  "trace_shapes ejecutó el modelo: las capas de esta red se construyeron para que al ejecutarlas den "
                  "formas distintas de las que dicen sus atributos, y trace_shapes devolvió las formas de la ejecución.")
FROM_ATTRIBUTES = T("compute every shape from the layer's attributes (kernel_size, stride, ...) with your own functions.",
                    "calcula cada forma a partir de los atributos de la capa (kernel_size, stride, ...) con tus funciones.")


@pytest.mark.task("1.5")
def test_trace_does_not_run_the_model(ca, nets):
    """trace_shapes reads the layers' attributes and never runs them
    es: trace_shapes lee los atributos de las capas y nunca las ejecuta
    """
    spec, input_shape = oracles.nets.LENET, (3, 32, 32)
    expected = oracles.trace(oracles.nets.build(spec), input_shape)  # what the attributes say
    when_run = oracles.trace(oracles.nets.misleading(spec), input_shape)  # what running this network gives
    net = nets.misleading(spec)
    got = ca.trace_shapes(net, input_shape)
    call = "trace_shapes(lenet, (3, 32, 32))"
    if isinstance(got, (list, tuple)) and [tuple(g) if isinstance(g, (list, tuple)) else g for g in got] == when_run:
        fail(RAN_THE_MODEL, FROM_ATTRIBUTES)
    check_equal(got, expected, call=call,
                hint=T("these layers give other shapes when they are run than their attributes say: if a shape "
                       "comes from running a layer, it is wrong here. ",
                       "estas capas dan otras formas al ejecutarse que las que dicen sus atributos: si una forma "
                       "sale de ejecutar una capa, aquí es incorrecta. ") + str(FROM_ATTRIBUTES))
    if not _still_misleading(net, spec, input_shape):
        fail(T("{call} changed the layers of the network it was given (their forward or hooks).",
               "{call} modificó las capas de la red que recibió (su forward o sus hooks).").format(call=call),
             FROM_ATTRIBUTES)


@pytest.mark.task("1.5")
def test_trace_rejects_inconsistent_networks(ca, nets):
    """trace_shapes raises ValueError for a channel or feature mismatch, an unsupported or misplaced layer
    es: trace_shapes lanza ValueError ante canales o características que no encajan y ante una capa no admitida o mal colocada
    """
    cases = [
        ([["Conv2d", dict(in_channels=1, out_channels=6, kernel_size=5)]], "a Conv2d expecting 1 channel on a 3-channel image"),
        ([["Conv2d", dict(in_channels=3, out_channels=6, kernel_size=5)], ["Flatten", {}],
          ["Linear", dict(in_features=100, out_features=10)]], "Linear(100) after 6*28*28 features"),
        ([["Conv2d", dict(in_channels=3, out_channels=6, kernel_size=40)]], "a 40x40 kernel on a 32x32 image"),
        ([["Conv2d", dict(in_channels=3, out_channels=6, kernel_size=3, padding="same")]], "padding='same' (a string)"),
        ([["Flatten", {}], ["MaxPool2d", dict(kernel_size=2)]], "a MaxPool2d after Flatten"),
        ([["AvgPool2d", dict(kernel_size=2)]], "an AvgPool2d, which trace_shapes does not support"),
    ]
    got = ca.trace_shapes(nets.build(), (3, 32, 32))
    check_equal(got[-1:] if isinstance(got, (list, tuple)) else got, [(10,)], call="trace_shapes(lenet, (3, 32, 32))[-1:]",
                hint=T("valid networks first: a function that refuses everything scores nothing here.",
                       "primero las redes válidas: una función que lo rechaza todo no puntúa aquí."))
    for spec, what in cases:
        check_raises(ValueError, ca.trace_shapes, nets.build(spec), (3, 32, 32), call=f"trace_shapes({what})",
                     hint=T("check that each layer's in_channels / in_features match the previous shape, and raise "
                            "ValueError for a layer you cannot trace.",
                            "comprueba que in_channels / in_features de cada capa coinciden con la forma anterior, y "
                            "lanza ValueError para una capa que no sepas trazar."))

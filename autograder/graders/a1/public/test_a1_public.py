"""A1 public graders: the worked examples of the course decks.

Students run these with ``autograder check a1``; the hidden graders check
the same functions against PyTorch over many random configurations.
"""
import pytest

from autograder.feedback import T, check_equal, describe_call
from autograder.graders.a1.oracles import FORMULA, diagnose_conv, diagnose_pool


@pytest.mark.task("1.1")
def test_conv_deck_examples(ca):
    """Convolution sizes of the decks' worked examples
    es: Tamaños de convolución de los ejemplos resueltos de las transparencias
    """
    cases = [  # (args, expected, where the example comes from)
        ((10, 3), 8, "UNED: 10x10 image, 3x3 kernel -> 8x8"),
        ((32, 5), 28, "PUC: CIFAR-10 32x32x3, 6 filters 5x5, stride 1 -> 28x28x6"),
        (((480, 640), 3, 1, 1), (480, 640), "UNED: 640x480, 32 filters 3x3, stride 1, padding 1 -> 640x480x32"),
    ]
    for args, expected, source in cases:
        got = ca.conv_output_size(*args)
        i, k, s, p = (args + (1, 0))[:4]
        hint = diagnose_conv(first(got), first(i), first(k), s, p, 1)
        check_equal(got, expected, call=describe_call("conv_output_size", *args), hint=f"{source}. {hint}")


def first(value):
    """The height of an (h, w) pair, or the value itself."""
    return value[0] if isinstance(value, (tuple, list)) and value else value


@pytest.mark.task("1.1")
def test_conv_height_width_pairs(ca):
    """Convolution sizes with different (h, w) kernels and strides, and with dilation
    es: Tamaños de convolución con kernels y pasos (h, w) distintos, y con dilatación
    """
    check_equal(ca.conv_output_size((32, 28), (5, 3)), (28, 26),
                call=describe_call("conv_output_size", (32, 28), (5, 3)),
                hint=T("each dimension uses its own pair element: height with height, width with width.",
                       "cada dimensión usa su elemento del par: altura con altura, anchura con anchura."))
    check_equal(ca.conv_output_size((9, 10), 3, stride=(2, 1)), (4, 8),
                call=describe_call("conv_output_size", (9, 10), 3, stride=(2, 1)), hint=FORMULA)
    got = ca.conv_output_size(7, 3, dilation=2)  # the 3x3 kernel spans 5 pixels
    check_equal(got, 3, call=describe_call("conv_output_size", 7, 3, dilation=2),
                hint=diagnose_conv(first(got), 7, 3, 1, 0, 2))


@pytest.mark.task("1.2")
def test_pool_deck_example(ca):
    """2x2 max-pooling of the UNED example: 640x480x32 -> 320x240x32
    es: Max-pooling 2x2 del ejemplo de la UNED: 640x480x32 -> 320x240x32
    """
    got = ca.pool_output_size((480, 640), 2)
    check_equal(got, (240, 320), call=describe_call("pool_output_size", (480, 640), 2),
                hint=diagnose_pool(None, 480, 2, 2, 0, 1, False))
    got = ca.pool_output_size(28, 2)
    check_equal(got, 14, call=describe_call("pool_output_size", 28, 2),
                hint=diagnose_pool(got, 28, 2, 2, 0, 1, False))


@pytest.mark.task("1.3")
def test_same_padding_common_kernels(ca):
    """'Same' padding of 3x3 and 5x5 kernels
    es: Relleno 'same' de kernels 3x3 y 5x5
    """
    for k, expected in ((3, 1), (5, 2)):
        check_equal(ca.same_padding(k), expected, call=describe_call("same_padding", k),
                    hint=T("at stride 1, o = i needs 2p = k - 1.", "con stride 1, o = i exige 2p = k - 1."))


@pytest.mark.task("1.4")
def test_lenet_layer_parameters(ca):
    """Parameters of the LeNet layers (conv 456 and 2416, FC 48120)
    es: Parámetros de las capas de LeNet (conv 456 y 2416, FC 48120)
    """
    hint = T("a Conv2d has (k_h*k_w*c_in + 1)*c_out parameters: one k_h x k_w x c_in filter and one bias per output channel.",
             "una Conv2d tiene (k_h*k_w*c_in + 1)*c_out parámetros: un filtro k_h x k_w x c_in y un sesgo por canal de salida.")
    check_equal(ca.conv2d_num_params(3, 6, 5), 456, call=describe_call("conv2d_num_params", 3, 6, 5), hint=hint)
    check_equal(ca.conv2d_num_params(6, 16, 5), 2416, call=describe_call("conv2d_num_params", 6, 16, 5), hint=hint)
    check_equal(ca.linear_num_params(400, 120), 48120, call=describe_call("linear_num_params", 400, 120),
                hint=T("a Linear layer has (n_in + 1)*n_out parameters (the +1 is the bias).",
                       "una capa Linear tiene (n_in + 1)*n_out parámetros (el +1 es el sesgo)."))


@pytest.mark.task("1.5")
def test_lenet_trace(ca, nets):
    """Shape trace of LeNet on CIFAR-10, ending in 400 = 16*5*5 features
    es: Traza de formas de LeNet en CIFAR-10, que termina en 400 = 16*5*5 características
    """
    expected = [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5),
                (400,), (120,), (120,), (84,), (84,), (10,)]
    got = ca.trace_shapes(nets.build(), (3, 32, 32))
    check_equal(got, expected, call="trace_shapes(lenet, (3, 32, 32))",
                hint=T("one shape per layer, without the batch dimension: (C, H, W) for images, (F,) after Flatten.",
                       "una forma por capa, sin la dimensión del batch: (C, H, W) para imágenes, (F,) tras Flatten."))

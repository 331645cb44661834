"""A1 - Convolution arithmetic / Aritmética de la convolución.

Shapes of convolutional networks computed by hand, without running a layer.
Every function mirrors the PyTorch layer it describes (``torch.nn.Conv2d``,
``torch.nn.MaxPool2d``, ``torch.nn.Linear``), so PyTorch itself is the answer
key.

Sizes may be a single int (same value for height and width) or an ``(h, w)``
pair, exactly like the arguments of ``torch.nn.Conv2d``. When every size
argument is an int the result is an int; when any of them is a pair the
result is an ``(h, w)`` tuple.

Notation of the course decks: i input size, k kernel size, p padding,
s stride, d dilation, o output size.
"""
import math

import torch.nn as nn


def as_pair(value, name):
    """Return ``value`` as an ``(h, w)`` tuple of ints (given helper, not a task).

    Args:
        value: an int or a pair of ints.
        name: the argument's name, used in the error message.

    Raises:
        TypeError: if ``value`` is not an int or a pair of ints.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got a bool")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return (value[0], value[1])
    raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")


def _per_dimension(function, *args):
    """Apply ``function`` to the height and the width (given helper, not a task).

    Returns an int when every argument is an int, else an ``(h, w)`` tuple.
    """
    names = ("input_size", "kernel_size", "stride", "padding", "dilation")
    pairs = [as_pair(a, n) for a, n in zip(args, names)]
    out = tuple(function(*(p[dim] for p in pairs)) for dim in (0, 1))
    if all(isinstance(a, int) for a in args):
        return out[0]
    return out


# Task 1.1: output size of a convolution (conv_output_size)
def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """Spatial output size of ``torch.nn.Conv2d``.

    o = floor((i + 2p - d*(k - 1) - 1) / s) + 1   (decks: d = 1 gives
    o = floor((i + 2p - k) / s) + 1)

    Args:
        input_size: i, an int or an (h, w) pair.
        kernel_size: k, an int or an (h, w) pair.
        stride: s >= 1, an int or an (h, w) pair.
        padding: p >= 0, an int or an (h, w) pair (zeros on each side).
        dilation: d >= 1, an int or an (h, w) pair.

    Returns:
        o: an int, or an (h, w) tuple when any argument is a pair.

    Raises:
        ValueError: if i, k, s or d is smaller than 1, p is negative, or the
            dilated kernel d*(k-1)+1 is larger than the padded input i + 2p.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


# Task 1.2: output size of max-pooling (pool_output_size)
def pool_output_size(input_size, kernel_size, stride=None, padding=0, dilation=1,
                     ceil_mode=False):
    """Spatial output size of ``torch.nn.MaxPool2d``.

    o = floor((i + 2p - d*(k - 1) - 1) / s) + 1, with ceil instead of floor
    when ``ceil_mode`` is true; in that case, as in PyTorch, the last window
    must start inside the input or the left padding, otherwise it is dropped
    (o is reduced by one when (o - 1) * s >= i + p).

    Args:
        input_size: i, an int or an (h, w) pair.
        kernel_size: k, an int or an (h, w) pair.
        stride: s, defaults to ``kernel_size`` when None (as PyTorch).
        padding: p, an int or an (h, w) pair, at most k / 2.
        dilation: d >= 1, an int or an (h, w) pair.
        ceil_mode: round up instead of down.

    Returns:
        o: an int, or an (h, w) tuple when any argument is a pair.

    Raises:
        ValueError: if i, k, s or d is smaller than 1, p is negative or larger
            than k / 2, or the output would be empty.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


# Task 1.3: "same" padding (same_padding)
def same_padding(kernel_size, dilation=1):
    """Padding that keeps the spatial size at stride 1 ("same" convolution).

    With s = 1, o = i requires 2p = d*(k - 1), so p = d*(k - 1) / 2.

    Args:
        kernel_size: k, an odd int or an (h, w) pair of odd ints.
        dilation: d >= 1, an int or an (h, w) pair.

    Returns:
        p: an int, or an (h, w) tuple when any argument is a pair.

    Raises:
        ValueError: if a kernel size is even or smaller than 1, or d < 1.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


# Task 1.4: parameters of Conv2d and Linear layers (conv2d_num_params, linear_num_params)
def conv2d_num_params(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """Number of learnable parameters of ``torch.nn.Conv2d``.

    (k_h * k_w * c_in / groups + 1) * c_out, without the +1 when bias=False.

    Args:
        in_channels: c_in >= 1, divisible by ``groups``.
        out_channels: c_out >= 1, divisible by ``groups``.
        kernel_size: k, an int or an (h, w) pair.
        groups: number of channel groups (1 = ordinary convolution).
        bias: whether the layer has one bias per output channel.

    Returns:
        The number of parameters, an int.

    Raises:
        ValueError: if a size is smaller than 1 or the channels are not
            divisible by ``groups``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def linear_num_params(in_features, out_features, bias=True):
    """Number of learnable parameters of ``torch.nn.Linear``: (n_in + 1) * n_out.

    Args:
        in_features: n_in >= 1.
        out_features: n_out >= 1.
        bias: whether the layer has one bias per output.

    Returns:
        The number of parameters, an int.

    Raises:
        ValueError: if a size is smaller than 1.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


# Task 1.5: shape trace of an nn.Sequential (trace_shapes)
SHAPE_PRESERVING = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.Dropout, nn.Identity,
                    nn.Softmax, nn.BatchNorm2d)


def trace_shapes(model, input_shape):
    """Shape after every layer of ``model``, computed without running it.

    Supports Conv2d, MaxPool2d, Flatten (default arguments), Linear and the
    layers of ``SHAPE_PRESERVING``. The batch dimension is left out.

    Args:
        model: an ``nn.Sequential``.
        input_shape: (C, H, W) of one input image.

    Returns:
        A list with one tuple per layer: (C, H, W) after Conv2d/MaxPool2d and
        shape-preserving layers on images, (F,) after Flatten and Linear.
        For LeNet on CIFAR-10 the Flatten entry is (400,) = 16 * 5 * 5.

    Raises:
        ValueError: for an unsupported layer, a channel or feature count that
            does not match the previous layer, or an impossible layer.
    """
    # YOUR CODE HERE
    raise NotImplementedError()

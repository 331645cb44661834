"""A2 - Manual convolution and max-pooling / Convolución y max-pooling a mano.

NumPy only: this module must not import torch, tensorflow, jax,
scipy.signal or scipy.ndimage (the graders check the source and score 0
otherwise). PyTorch is the answer key: every function mirrors
``torch.nn.functional.conv2d`` or ``torch.nn.functional.max_pool2d``.

Shapes (CS231n notation), batched NCHW arrays:
    x    (N, C, H, W)    N images, C channels, height H, width W
    w    (F, C, HH, WW)  F filters of C channels, HH x WW each
    b    (F,)            one bias per filter (or None)
    out  (N, F, H', W')  H' = (H + 2p - d*(HH - 1) - 1) // s + 1 (A1's formula)

A convolution layer computes a cross-correlation, as PyTorch does: the
kernel is NOT flipped.
    out[n, f, i, j] = b[f] + sum_{c, u, v} x_pad[n, c, i*s + u*d, j*s + v*d] * w[f, c, u, v]
where x_pad is x with p zeros added on each side of the height and width.

stride, padding, dilation and kernel_size are an int or an (h, w) pair,
as in PyTorch.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def as_pair(value, name):
    """Return ``value`` as an ``(h, w)`` tuple of ints (given helper, not a task).

    Raises:
        ValueError: if ``value`` is not an int or a pair of ints.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")


def check_conv_inputs(x, w, b, stride=1, padding=0, dilation=1):
    """Validate the arguments of a convolution (given helper, not a task).

    Returns:
        (x, w, b, (sh, sw), (ph, pw), (dh, dw)): x, w and b as float arrays
        (b may be None) and the hyper-parameters as (h, w) pairs.

    Raises:
        ValueError: with a clear message if x is not 4-D (N, C, H, W), w is
            not 4-D (F, C, HH, WW), their channels differ, b is not (F,),
            stride or dilation is smaller than 1, padding is negative, or the
            dilated kernel is larger than the padded input.
    """
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must have 4 dimensions (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"w must have 4 dimensions (F, C, HH, WW), got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channel mismatch: x has C = {x.shape[1]} channels but w expects {w.shape[1]}")
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (w.shape[0],):
            raise ValueError(f"b must have shape (F,) = ({w.shape[0]},), got {b.shape}")
    s, p, d = as_pair(stride, "stride"), as_pair(padding, "padding"), as_pair(dilation, "dilation")
    if min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"invalid stride {stride}, padding {padding} or dilation {dilation}")
    for dim, name in ((0, "height"), (1, "width")):
        size, k = x.shape[2 + dim] + 2 * p[dim], d[dim] * (w.shape[2 + dim] - 1) + 1
        if k > size:
            raise ValueError(f"the dilated kernel {name} {k} is larger than the padded input {name} {size}")
    return x, w, b, s, p, d


def check_pool_inputs(x, kernel_size, stride=None):
    """Validate the arguments of a max-pooling (given helper, not a task).

    Returns:
        (x, (kh, kw), (sh, sw)): x as an array and the kernel and stride as
        (h, w) pairs (stride None means stride = kernel_size).

    Raises:
        ValueError: if x is not 4-D (N, C, H, W), the kernel or stride is
            smaller than 1, or the window is larger than the input.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have 4 dimensions (N, C, H, W), got shape {x.shape}")
    k = as_pair(kernel_size, "kernel_size")
    s = k if stride is None else as_pair(stride, "stride")
    if min(k) < 1 or min(s) < 1:
        raise ValueError(f"invalid kernel_size {kernel_size} or stride {stride}")
    if k[0] > x.shape[2] or k[1] > x.shape[3]:
        raise ValueError(f"the pooling window {k} is larger than the input {x.shape[2:]}")
    return x, k, s


# Task 2.1: convolution with explicit loops (conv2d_loops)
def conv2d_loops(x, w, b, stride=1, padding=0, dilation=1):
    """Cross-correlation of ``torch.nn.functional.conv2d``, with explicit loops.

    Args:
        x: input, shape (N, C, H, W).
        w: filters, shape (F, C, HH, WW).
        b: biases, shape (F,), or None for no bias.
        stride: s, an int or an (h, w) pair.
        padding: p, zeros added on each side, an int or an (h, w) pair.
        dilation: d, spacing between kernel taps, an int or an (h, w) pair.

    Returns:
        out: shape (N, F, H', W') with H' = (H + 2p - d*(HH - 1) - 1) // s + 1
        (and the same for W').
    """
    x, w, b, (sh, sw), (ph, pw), (dh, dw) = check_conv_inputs(x, w, b, stride, padding, dilation)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * ph - dh * (HH - 1) - 1) // sh + 1
    W_out = (W + 2 * pw - dw * (WW - 1) - 1) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    r, c = i * sh, j * sw
                    patch = xp[n, :, r:r + dh * (HH - 1) + 1:dh, c:c + dw * (WW - 1) + 1:dw]
                    out[n, f, i, j] = np.sum(patch * w[f])
            if b is not None:
                out[n, f] += b[f]
    return out
    ### END SOLUTION


# Task 2.2: vectorized convolution (conv2d)
def conv2d(x, w, b, stride=1, padding=0, dilation=1):
    """Cross-correlation of ``torch.nn.functional.conv2d``, vectorized.

    Same arguments and result as ``conv2d_loops``, without Python loops over
    the output positions: use im2col or
    ``numpy.lib.stride_tricks.sliding_window_view`` and one matrix product.

    Args:
        x: input, shape (N, C, H, W).
        w: filters, shape (F, C, HH, WW).
        b: biases, shape (F,), or None.
        stride, padding, dilation: ints or (h, w) pairs.

    Returns:
        out: shape (N, F, H', W').
    """
    x, w, b, (sh, sw), (ph, pw), (dh, dw) = check_conv_inputs(x, w, b, stride, padding, dilation)
    ### BEGIN SOLUTION
    F, _, HH, WW = w.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    span = (dh * (HH - 1) + 1, dw * (WW - 1) + 1)
    windows = sliding_window_view(x_padded, span, axis=(2, 3))      # (N, C, Hp-.., Wp-.., span_h, span_w)
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]                  # (N, C, H', W', HH, WW)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))      # (N, H', W', F)
    out = out.transpose(0, 3, 1, 2)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out)
    ### END SOLUTION


# Task 2.3: max-pooling (maxpool2d)
def maxpool2d(x, kernel_size, stride=None):
    """Max-pooling of ``torch.nn.functional.max_pool2d`` (no padding).

    Args:
        x: input, shape (N, C, H, W).
        kernel_size: window size, an int or an (h, w) pair.
        stride: an int or an (h, w) pair; None means stride = kernel_size.

    Returns:
        out: shape (N, C, H', W') with H' = (H - kh) // sh + 1, the maximum of
        each window, channel by channel.
    """
    x, (kh, kw), (sh, sw) = check_pool_inputs(x, kernel_size, stride)
    ### BEGIN SOLUTION
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.max(axis=(4, 5))
    ### END SOLUTION


# Task 2.4: backward pass of the convolution (conv2d_backward)
def conv2d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    """Gradients of the convolution (advanced).

    Args:
        dout: upstream gradient dL/dout, shape (N, F, H', W').
        x, w, b, stride, padding, dilation: the forward pass's inputs.

    Returns:
        (dx, dw, db): dL/dx of shape (N, C, H, W), dL/dw of shape
        (F, C, HH, WW) and dL/db of shape (F,) (computed even if b is None).
    """
    x, w, b, (sh, sw), (ph, pw), (dh, dw) = check_conv_inputs(x, w, b, stride, padding, dilation)
    dout = np.asarray(dout, dtype=np.float64)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    views = sliding_window_view(x_pad, (dh * (HH - 1) + 1, dw * (WW - 1) + 1), axis=(2, 3))
    views = views[:, :, ::sh, ::sw, ::dh, ::dw]                      # (N, C, H', W', HH, WW)
    H_out, W_out = views.shape[2], views.shape[3]
    db = dout.sum(axis=(0, 2, 3))
    dw_ = np.tensordot(dout, views, axes=([0, 2, 3], [0, 2, 3]))     # (F, C, HH, WW)
    dx_pad = np.zeros_like(x_pad)
    for u in range(HH):
        for v in range(WW):
            r, c = u * dh, v * dw
            contribution = np.tensordot(dout, w[:, :, u, v], axes=([1], [0]))   # (N, H', W', C)
            dx_pad[:, :, r:r + sh * (H_out - 1) + 1:sh, c:c + sw * (W_out - 1) + 1:sw] += \
                contribution.transpose(0, 3, 1, 2)
    dx = dx_pad[:, :, ph:ph + H, pw:pw + W]
    return dx, dw_, db
    ### END SOLUTION


# Task 2.5: backward pass of max-pooling (maxpool2d_backward)
def maxpool2d_backward(dout, x, kernel_size, stride=None):
    """Gradient of max-pooling (advanced): each window's gradient goes to its maximum.

    Args:
        dout: upstream gradient, shape (N, C, H', W').
        x: the forward pass's input, shape (N, C, H, W).
        kernel_size, stride: as in ``maxpool2d``.

    Returns:
        dx: shape (N, C, H, W). dout[n, c, i, j] is added to the position of
        the maximum of window (i, j) (the first one in row-major order if
        several elements tie, like PyTorch); every other element gets 0.
        Overlapping windows (stride < kernel_size) add up.
    """
    x, (kh, kw), (sh, sw) = check_pool_inputs(x, kernel_size, stride)
    dout = np.asarray(dout, dtype=np.float64)
    ### BEGIN SOLUTION
    N, C, H_out, W_out = dout.shape
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    winner = np.argmax(windows.reshape(N, C, H_out, W_out, kh * kw), axis=-1)   # first maximum
    dx = np.zeros(x.shape)
    for k in range(kh * kw):
        u, v = divmod(k, kw)
        routed = np.where(winner == k, dout, 0.0)
        dx[:, :, u:u + sh * (H_out - 1) + 1:sh, v:v + sw * (W_out - 1) + 1:sw] += routed
    return dx
    ### END SOLUTION

"""Public functions for the convolution family beyond Conv1D/Conv2D: transposed, depthwise and
separable convolutions, with Keras's arguments ('valid'/'same' padding, int-or-tuple sizes).

Transposed convolutions build the `conv{r}d_transpose` op (graphc.ops.conv_family), with
Keras 3's output sizes: 'valid' gives (n - 1) * stride + max(extent, stride), 'same' n * stride,
and `output_padding` (< stride) sets the extra length on the right.

Depthwise and separable convolutions are composed from the forward convolution: the depthwise
kernel (*k, cin, multiplier) becomes a block-diagonal (*k, cin, cin * multiplier) kernel, so one
GEMM does the work at cin times the FLOPs of a per-channel kernel; a separable convolution folds
its pointwise (1 x 1) kernel into that one, which costs a full convolution's FLOPs per pixel
(cin * filters per tap) and never stores the depthwise output.

Example:
    y = gc.conv_family_api.conv_transpose(x, k, strides=2, padding="same")
"""

from __future__ import annotations

import numpy as np

from graphc.api import as_node, reshape
from graphc.api import sum as reduce_sum
from graphc.ir import Node, ShapeError, user_site
from graphc.nn_api import as_tuple, conv
from graphc.ops import make_node
from graphc.ops.leaves import constant_node


def keras_transpose_padding(kernel, stride, dilation, padding, output_padding):
    """Keras 3's (left, right) padding of the stride-dilated input (as its JAX backend), as
    the forward convolution's (before, after) pads and the zeros added past its last window."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(extent, stride) - extent if output_padding is None else output_padding
        left, right = extent - 1, extent - 1 + extra
    else:
        pad_len = (stride + extent - 2 if output_padding is None
                   else extent + extent % 2 - 2 + output_padding)
        left = min(pad_len // 2 + pad_len % 2, extent - 1)
        right = pad_len - left
    return (extent - 1 - left, max(extent - 1 - right, 0)), max(right - (extent - 1), 0)


def conv_transpose(x, kernel, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                   rank=2) -> Node:
    """Transposed convolution as Keras Conv{rank}DTranspose: x (batch, *spatial, cin),
    kernel (*kernel_size, filters, cin); output_padding None or one int (< stride) per axis."""
    x, kernel = as_node(x), as_node(kernel)
    what = f"conv{rank}d_transpose"
    if x.ndim != rank + 2 or kernel.ndim != rank + 2:
        raise ShapeError(
            f"{what}: input (batch, *spatial, channels) and kernel (*kernel_size, filters, "
            f"in_channels) must be {rank + 2}-d, got {x.shape} and {kernel.shape} "
            f"(at {user_site()})")
    strides = as_tuple(strides, rank, "strides")
    dilation = as_tuple(dilation_rate, rank, "dilation_rate")
    if padding not in ("valid", "same"):
        raise ValueError(f"{what}: padding must be 'valid' or 'same'. Received: "
                         f"padding={padding!r} (at {user_site()})")
    extras = (None,) * rank if output_padding is None else tuple(
        (output_padding,) * rank if np.isscalar(output_padding) else output_padding)
    pads = [keras_transpose_padding(k, s, d, padding, e)
            for k, s, d, e in zip(kernel.shape[:rank], strides, dilation, extras)]
    attrs = {"strides": strides, "dilation": dilation, "padding": tuple(p for p, _ in pads),
             "output_padding": tuple(e for _, e in pads)}
    return make_node(what, [x, kernel], attrs)


def block_diagonal(depthwise_kernel, rank: int) -> Node:
    """(*k, cin, m) -> (*k, cin, cin * m), zero except output channels c * m .. c * m + m - 1
    of input channel c (Keras's depthwise channel order)."""
    k = as_node(depthwise_kernel)
    taps, cin, multiplier = k.shape[:rank], k.shape[rank], k.shape[rank + 1]
    eye = constant_node(np.eye(cin, dtype=k.dtype)[:, :, None])
    spread = reshape(k, taps + (1, cin, multiplier)) * eye
    return reshape(spread, taps + (cin, cin * multiplier))


def depthwise_conv(x, depthwise_kernel, strides=1, padding="valid", dilation_rate=1,
                   rank=2) -> Node:
    """Depthwise convolution as Keras DepthwiseConv{rank}D: kernel (*k, cin, depth_multiplier),
    output channels cin * depth_multiplier."""
    kernel = check_depthwise(x, depthwise_kernel, rank, f"depthwise_conv{rank}d")
    return conv(x, block_diagonal(kernel, rank), strides, padding, dilation_rate, rank=rank)


def separable_conv(x, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   dilation_rate=1, rank=2) -> Node:
    """Separable convolution as Keras SeparableConv{rank}D: the depthwise kernel (*k, cin, m)
    then the pointwise kernel (*1, cin * m, filters), folded into one (*k, cin, filters)."""
    what = f"separable_conv{rank}d"
    kernel, pointwise = check_depthwise(x, depthwise_kernel, rank, what), as_node(pointwise_kernel)
    cin, multiplier = kernel.shape[rank:]
    if pointwise.shape[:rank] != (1,) * rank or pointwise.shape[rank] != cin * multiplier:
        raise ShapeError(
            f"{what}: pointwise kernel must be {(1,) * rank + (cin * multiplier,)} + (filters,), "
            f"got {pointwise.shape} (at {user_site()})")
    mixing = reshape(pointwise, (1,) * rank + (cin, multiplier, pointwise.shape[-1]))
    folded = reduce_sum(reshape(kernel, kernel.shape + (1,)) * mixing, axis=rank + 1)
    return conv(x, folded, strides, padding, dilation_rate, rank=rank)


def check_depthwise(x, depthwise_kernel, rank, what) -> Node:
    x, kernel = as_node(x), as_node(depthwise_kernel)
    if kernel.ndim != rank + 2 or None in kernel.shape:
        raise ShapeError(f"{what}: depthwise kernel must be (*kernel_size, in_channels, "
                         f"depth_multiplier), static, got {kernel.shape} (at {user_site()})")
    if x.ndim != rank + 2 or x.shape[-1] != kernel.shape[rank]:
        raise ShapeError(f"{what}: input must be (batch, *spatial, {kernel.shape[rank]}) for "
                         f"kernel {kernel.shape}, got {x.shape} (at {user_site()})")
    return kernel

"""Public functions for the convolution family beyond Conv1D/Conv2D: transposed, depthwise and
separable convolutions, with Keras's arguments ('valid'/'same' padding, int-or-tuple sizes).

Transposed convolutions build the `conv{r}d_transpose` op (graphc.ops.conv_family), with
Keras 3's output sizes: 'valid' gives (n - 1) * stride + max(extent, stride), 'same' n * stride,
and `output_padding` (< stride) sets the extra length on the right.

Depthwise convolutions build the `depthwise_conv{r}d` op (direct loops over windows, 2 FLOPs
per output element and tap); a separable convolution is that op and then its pointwise kernel
as a 1 x 1 convolution (one GEMM), as Keras computes it.

Example:
    from graphc.conv_family_api import conv_transpose
    y = conv_transpose(x, k, strides=2, padding="same")  # twice the rows and cols of x
"""

from __future__ import annotations

import numpy as np

from graphc.api import as_node
from graphc.ir import Node, ShapeError, user_site
from graphc.nn_api import as_tuple, conv, spatial_padding
from graphc.ops import make_node


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


def depthwise_conv(x, depthwise_kernel, strides=1, padding="valid", dilation_rate=1,
                   rank=2) -> Node:
    """Depthwise convolution as Keras DepthwiseConv{rank}D: kernel (*k, cin, depth_multiplier),
    output channel c * depth_multiplier + m from input channel c alone."""
    what = f"depthwise_conv{rank}d"
    x, kernel = check_depthwise(x, depthwise_kernel, rank, what)
    strides = as_tuple(strides, rank, "strides")
    dilation = as_tuple(dilation_rate, rank, "dilation_rate")
    pads = spatial_padding(x, padding, kernel.shape[:rank], strides, dilation, what)
    return make_node(what, [x, kernel], {"strides": strides, "dilation": dilation,
                                         "padding": pads})


def separable_conv(x, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   dilation_rate=1, rank=2) -> Node:
    """Separable convolution as Keras SeparableConv{rank}D: the depthwise kernel (*k, cin, m),
    then the pointwise kernel (*1, cin * m, filters) as a 1 x 1 convolution (a GEMM)."""
    what = f"separable_conv{rank}d"
    _, kernel = check_depthwise(x, depthwise_kernel, rank, what)
    pointwise = as_node(pointwise_kernel)
    cin, multiplier = kernel.shape[rank:]
    if pointwise.shape[:rank] != (1,) * rank or pointwise.shape[rank:-1] != (cin * multiplier,):
        raise ShapeError(
            f"{what}: pointwise kernel must be {(1,) * rank + (cin * multiplier,)} + (filters,), "
            f"got {pointwise.shape} (at {user_site()})")
    depthwise = depthwise_conv(x, kernel, strides, padding, dilation_rate, rank)
    return conv(depthwise, pointwise, rank=rank)


def check_depthwise(x, depthwise_kernel, rank, what) -> Node:
    x, kernel = as_node(x), as_node(depthwise_kernel)
    if kernel.ndim != rank + 2 or None in kernel.shape:
        raise ShapeError(f"{what}: depthwise kernel must be (*kernel_size, in_channels, "
                         f"depth_multiplier), static, got {kernel.shape} (at {user_site()})")
    if x.ndim != rank + 2 or x.shape[-1] != kernel.shape[rank]:
        raise ShapeError(f"{what}: input must be (batch, *spatial, {kernel.shape[rank]}) for "
                         f"kernel {kernel.shape}, got {x.shape} (at {user_site()})")
    return x, kernel

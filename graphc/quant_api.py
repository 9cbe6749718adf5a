"""Public functions for int8 inference: gc.quantized_matmul and gc.quantized_conv (the ops of
graphc/ops/quant.py and quant_conv.py).

Example:
    from graphc.ops import quant
    w_q, scale = quant.quantize_kernel(w)              # int8 [K, N], float32 [N]
    y = gc.quantized_matmul(x, gc.shared(quant.pack_weights(w_q)), gc.shared(scale), bias,
                            activation="relu")
"""

from __future__ import annotations

from graphc.api import as_node
from graphc.ir import Node, ShapeError, user_site
from graphc.nn_api import as_tuple, spatial_padding
from graphc.ops import make_node


def quantized_matmul(x, packed_kernel, kernel_scale, bias=None, activation="linear",
                     input_scale=None) -> Node:
    """act(x @ w + bias) with int8 weights (packed by graphc.ops.quant.pack_weights, scales per
    output channel) and x quantized to int8 per row by its abs-max (or by the static
    `input_scale`); int32 sums. Not differentiable. activation: 'linear' or 'relu'."""
    inputs = [x, packed_kernel, kernel_scale] + ([] if bias is None else [bias])
    scale = None if input_scale is None else float(input_scale)
    return make_node("quantized_matmul", inputs, {"activation": activation, "input_scale": scale})


def quantized_conv(x, packed_kernel, kernel_scale, bias=None, *, kernel_size, strides=1,
                   padding="valid", dilation_rate=1, activation="linear",
                   input_scale=None, pool_size=None) -> Node:
    """Conv1D/Conv2D (channels_last, Keras padding names) on an int8 kernel of shape
    (*kernel_size, cin, filters) packed as a (prod(kernel_size) * cin, filters) matrix by
    graphc.ops.quant.pack_weights; each window quantized to int8 by its abs-max (or by the
    static `input_scale`). Not differentiable. activation: 'linear' or 'relu'. pool_size: a max
    pooling of the result fused in (strides = pool_size, no padding; what the compiler makes of
    a max pooling of this op's result)."""
    x = as_node(x)
    rank = len(kernel_size)
    strides = as_tuple(strides, rank, "strides")
    dilation = as_tuple(dilation_rate, rank, "dilation_rate")
    if x.ndim != rank + 2:
        raise ShapeError(f"quantized_conv{rank}d: input must be {rank + 2}-d (batch, *spatial, "
                         f"channels), got shape {x.shape} (at {user_site()})")
    pads = spatial_padding(x, padding, tuple(kernel_size), strides, dilation,
                           f"quantized_conv{rank}d")
    inputs = [x, packed_kernel, kernel_scale] + ([] if bias is None else [bias])
    attrs = {"kernel_size": tuple(kernel_size), "strides": strides, "dilation": dilation,
             "padding": pads, "activation": activation,
             "input_scale": None if input_scale is None else float(input_scale),
             "pool": None if pool_size is None else as_tuple(pool_size, rank, "pool_size")}
    return make_node(f"quantized_conv{rank}d", inputs, attrs)

"""keras.ops' convolution and pooling (channels last, 1-D and 2-D), on graphc's conv and pool
ops."""

from __future__ import annotations

import graphc as gc
from frontend.ops.convert import float_operand, operands
from frontend.ops.dispatch import op
from graphc.ir import user_site

CONVS = {1: gc.conv1d, 2: gc.conv2d}
POOLS = {
    ("max", 1): gc.max_pool1d,
    ("max", 2): gc.max_pool2d,
    ("avg", 1): gc.avg_pool1d,
    ("avg", 2): gc.avg_pool2d,
}


def _spatial_rank(x, data_format, fn: str) -> int:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"ops.{fn}: graphc computes channels_last only. Received: "
            f"data_format={data_format!r}; transpose to channels last (at {user_site()})"
        )
    rank = x.ndim - 2
    if rank not in (1, 2):
        raise ValueError(
            f"ops.{fn}: graphc has 1-D and 2-D versions; received inputs of shape {x.shape} "
            f"(at {user_site()})"
        )
    return rank


@op("conv", tensors=("inputs", "kernel"))
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (N = 1 or 2): inputs (batch, *spatial, cin), kernel (*k, cin, cout)."""
    x, k = operands(inputs, kernel)
    rank = _spatial_rank(x, data_format, "conv")
    return CONVS[rank](x, k, strides=strides, padding=padding, dilation_rate=dilation_rate)


def _pool(kind, inputs, pool_size, strides, padding, data_format, fn):
    x = float_operand(inputs)
    rank = _spatial_rank(x, data_format, fn)
    return POOLS[(kind, rank)](x, pool_size, strides, padding)


@op("max_pool", tensors=("inputs",))
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over the 1 or 2 spatial axes."""
    return _pool("max", inputs, pool_size, strides, padding, data_format, "max_pool")


@op("average_pool", tensors=("inputs",))
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over the 1 or 2 spatial axes ('same' padding left out of the mean)."""
    return _pool("avg", inputs, pool_size, strides, padding, data_format, "average_pool")

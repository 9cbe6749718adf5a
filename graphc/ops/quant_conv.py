"""quantized_conv1d / quantized_conv2d: a convolution (channels_last, explicit padding, as
conv1d/conv2d of graphc/ops/conv.py) on int8 weights. Each output pixel's window, as one
im2col row ordered (*kernel, cin) like the kernel's rows, is one row of quantized_matmul
(graphc/ops/quant.py): it gets its own abs-max scale (or the static one), int32 sums against
the packed int8 kernel, then dequantize + bias + relu/linear. With `pool` (a window size, set
by passes/quant_pool.py for a max pooling whose windows tile the result: strides = pool size,
no padding) the op is that max pooling of the result, so the pre-pooling image is never stored.
"""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import Shaped, defop, dims_keep_batch
from graphc.ops.cases import In, case
from graphc.ops.conv import check_geometry, check_input, pad_spatial, spatial_output, windows
from graphc.ops.pooling import impl_max_pool
from graphc.ops.quant import (
    infer_quantized_matmul,
    packed_case,
    quantized_matmul_reference,
)


def infer_quantized_conv(rank):
    def infer(inputs, *, kernel_size, strides, dilation, padding, activation="linear",
              input_scale=None, pool=None):
        x = inputs[0]
        check_input(x, rank)
        check_geometry(rank, kernel_size, strides, dilation, padding)
        if x.shape[-1] is None:
            raise ShapeError("the input channels must be known")
        rows = Shaped((None, math.prod(kernel_size) * x.shape[-1]), x.dtype)
        shape, dtype = infer_quantized_matmul([rows, *inputs[1:]], activation=activation,
                                              input_scale=input_scale)
        out = spatial_output(x.shape, kernel_size, strides, dilation, padding)
        if pool is not None:
            out = pooled_size(out, pool, rank)
        return (x.shape[0],) + out + (shape[-1],), dtype
    return infer


def pooled_size(out, pool, rank) -> tuple:
    """The spatial size after a max pooling of window `pool` with strides = pool, no padding."""
    if len(pool) != rank or any(not isinstance(p, int) or p < 1 for p in pool):
        raise ShapeError(f"pool must be {rank} positive ints, got {pool!r}")
    if any(o is not None and o < p for o, p in zip(out, pool)):
        raise ShapeError(f"pool {tuple(pool)} is larger than the convolution's output {out}")
    return tuple(None if o is None else o // p for o, p in zip(out, pool))


def impl_quantized_conv(x, packed, kernel_scale, bias=None, *, kernel_size, strides, dilation,
                        padding, activation="linear", input_scale=None, pool=None):
    rank = len(kernel_size)
    cols = windows(pad_spatial(x, padding), kernel_size, strides, dilation)
    rows = np.moveaxis(cols, rank + 1, -1).reshape(-1, math.prod(kernel_size) * x.shape[-1])
    y = quantized_matmul_reference(rows, packed, kernel_scale, bias, activation=activation,
                                   input_scale=input_scale)
    y = y.reshape(cols.shape[:rank + 1] + (kernel_scale.shape[0],))
    if pool is None:
        return y
    return impl_max_pool(y, pool_size=tuple(pool), strides=tuple(pool),
                         padding=((0, 0),) * rank)


def flops_quantized_conv(node, shape_of) -> int:
    window = math.prod(node.attr("kernel_size")) * shape_of(node.inputs[0])[-1]
    return 2 * math.prod(shape_of(node)) * window * math.prod(node.attr("pool") or ())


CASES = {
    1: [case(In((2, 7, 2)), packed_case(6, 4), In((4,), "positive"), In((4,)),
             kernel_size=(3,), strides=(2,), dilation=(1,), padding=((1, 2),), grad=False),
        case(In((3, 9, 5)), packed_case(10, 17), In((17,), "positive"), kernel_size=(2,),
             strides=(1,), dilation=(1,), padding=((0, 0),), pool=(3,), grad=False)],
    2: [case(In((2, 5, 4, 3)), packed_case(12, 5, "normal"), In((5,), "positive"), In((5,)),
             kernel_size=(2, 2), strides=(1, 2), dilation=(1, 1), padding=((0, 1), (1, 0)),
             activation="relu", grad=False),
        case(In((1, 6, 6, 2)), packed_case(18, 17), In((17,), "positive"), kernel_size=(3, 3),
             strides=(1, 1), dilation=(2, 1), padding=((0, 0), (0, 0)), input_scale=30.0,
             grad=False),
        case(In((2, 7, 8, 3)), packed_case(27, 7), In((7,), "positive"), In((7,)),
             kernel_size=(3, 3), strides=(1, 1), dilation=(1, 1), padding=((1, 1), (1, 1)),
             activation="relu", pool=(2, 3), grad=False)],
}

for _rank in (1, 2):
    defop(
        f"quantized_conv{_rank}d",
        infer=infer_quantized_conv(_rank),
        impl=impl_quantized_conv,
        fusion="opaque",
        dims=dims_keep_batch,
        flops=flops_quantized_conv,
        cases=CASES[_rank],
        doc=f"Conv{_rank}D on int8 weights (packed), each window quantized per output pixel "
            f"(and, with `pool`, max-pooled).",
    )

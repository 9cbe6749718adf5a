"""ONNX emitters for graphc's int8 ops, gc.quantized_matmul and gc.quantized_conv1d/2d, so an
exported quantized model stays int8 (graphc/ops/quant.py defines the scheme).

ONNX's DynamicQuantizeLinear quantizes a whole tensor to uint8 with one asymmetric scale, while
graphc quantizes each row (a Dense input row, a convolution window) symmetrically by its
abs-max. The emitters therefore write graphc's steps as ONNX ops, each the same IEEE operation
as the interpreter's: s = 127 / (ReduceMax(Abs(x)) + 1e-7) per row, q = Cast<int8>(Clip(Round(
x * s), -127, 127)) (Round is half to even, as numpy.rint), MatMulInteger(q, w) for exact int32
sums, then Cast(acc) * ((1 / s) * (1 / kernel_scale)) + bias and Relu. The int8 kernel is the
packed weight unpacked by Transpose, Reshape and Slice, which onnxruntime folds at load.
A convolution's per-window scales have no ONNX op: the windows are gathered first by a Conv with
a 0/1 kernel (each output channel copies one (kernel position, input channel); exact: one
product by 1, the others by 0), then quantized as the rows of a quantized_matmul.
"""

from __future__ import annotations

import math

import numpy as np

from graphc.onnx.builder import OnnxBuilder, elem_type
from graphc.onnx.emit_nn import (
    channels_first_op,
    to_channels_first,
    to_channels_last,
    window_attrs,
)
from graphc.ops import quant

INT8, INT32 = 3, 6  # ONNX TensorProto element types


def unpacked_kernel(b: OnnxBuilder, packed: str, packed_shape: tuple, k: int, n: int) -> str:
    """The int8 [K, N] matrix from its packed layout [K/4, N padded, 4] (graphc.ops.quant)."""
    groups, width, group = packed_shape
    rows = b.add("Reshape", [b.transpose(packed, [0, 2, 1]), b.ints([groups * group, width])])
    return b.add("Slice", [rows, b.ints([0, 0]), b.ints([k, n])])


def row_scale(b: OnnxBuilder, x: str, dtype: str, input_scale) -> str:
    """127 / (max |row| + EPSILON), one per row (keepdims), or the static input scale [1, 1]."""
    if input_scale is not None:
        return b.const(np.full((1, 1), input_scale, dtype), hint=f"{b.label}/input_scale")
    amax = b.reduce("ReduceMax", b.add("Abs", [x]), [-1], keepdims=True)
    return b.add("Div", [b.scalar(quant.QMAX, dtype),
                         b.add("Add", [amax, b.scalar(quant.EPSILON, dtype)])])


def multiplier(b: OnnxBuilder, s: str, kernel_scale: str) -> str:
    """(1 / s) * (1 / kernel_scale) per row and column, each product rounded once as in graphc.
    Written as Reciprocals and a MatMul of [rows, 1] by [1, N] (a product with no sum), as
    onnxruntime would rewrite the Mul forms: Mul(Div(1, a), b) becomes Div(b, a), and
    Cast(MatMulInteger) * Mul(a, b) becomes MatMulIntegerToFloat, which reads one scale for
    all rows (wrong for per-row scales; onnxruntime 1.32)."""
    column = b.add("Reshape", [b.add("Reciprocal", [kernel_scale]), b.ints([1, -1])])
    return b.add("MatMul", [b.add("Reciprocal", [s]), column])


def quantized_rows(b, rows: str, dtype: str, weights: str, ins: list, attrs: dict) -> str:
    """act(dequantize(q(rows) @ weights) + bias) with the scheme's roundings (module doc)."""
    s = row_scale(b, rows, dtype, attrs["input_scale"])
    scaled = b.add("Round", [b.add("Mul", [rows, s])])
    limit = (b.scalar(-quant.QMAX, dtype), b.scalar(quant.QMAX, dtype))
    q = b.add("Cast", [b.add("Clip", [scaled, *limit])], to=INT8)
    acc = b.add("Cast", [b.add("MatMulInteger", [q, weights])], to=elem_type(dtype))
    out = b.add("Mul", [acc, multiplier(b, s, ins[2])])
    if len(ins) > 3:
        out = b.add("Add", [out, ins[3]])
    return b.add("Relu", [out]) if attrs["activation"] == "relu" else out


def node_attrs(node) -> dict:
    return {"input_scale": node.attr("input_scale"), "activation": node.attr("activation")}


def emit_quantized_matmul(b, node, ins):
    k, n = node.inputs[0].shape[-1], node.shape[-1]
    weights = unpacked_kernel(b, ins[1], node.inputs[1].shape, k, n)
    return quantized_rows(b, ins[0], node.dtype, weights, ins, node_attrs(node))


def window_kernel(kernel_size: tuple, channels: int, dtype: str) -> np.ndarray:
    """The 0/1 ONNX Conv kernel [prod(kernel) * cin, cin, *kernel] whose output channel
    (position, c) copies input channel c at that kernel position: im2col rows in graphc's
    (*kernel, cin) order."""
    positions = list(np.ndindex(*kernel_size))
    w = np.zeros((len(positions) * channels, channels, *kernel_size), dtype)
    for p, position in enumerate(positions):
        for c in range(channels):
            w[p * channels + c, c][position] = 1
    return w


def emit_quantized_conv(b, node, ins):
    kernel_size = tuple(node.attr("kernel_size"))
    rank, channels = len(kernel_size), node.inputs[0].shape[-1]
    ones = b.const(window_kernel(kernel_size, channels, node.dtype), hint=f"{b.label}/windows")
    attrs = window_attrs(node, rank)
    rows = channels_first_op(b, node, ins[0], "Conv", [ones], kernel_shape=list(kernel_size),
                             **attrs)
    k, n = math.prod(kernel_size) * channels, node.shape[-1]
    weights = unpacked_kernel(b, ins[1], node.inputs[1].shape, k, n)
    out = quantized_rows(b, rows, node.dtype, weights, ins, node_attrs(node))
    pool = node.attr("pool")
    if pool is None:
        return out
    # passes/quant_pool.py fused a max pooling of windows `pool` (strides = pool, no padding)
    pooled = b.add("MaxPool", [to_channels_first(b, out, rank)], kernel_shape=list(pool),
                   strides=list(pool))
    return to_channels_last(b, pooled, rank)


EMITTERS = {
    "quantized_matmul": emit_quantized_matmul,
    "quantized_conv1d": emit_quantized_conv,
    "quantized_conv2d": emit_quantized_conv,
}

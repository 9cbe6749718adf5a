"""ONNX emitters for graphc's network ops: convolutions, pooling, layer normalization and the
attention softmax.

graphc is channels-last (batch, *spatial, channels) with kernels (*kernel, in, out); ONNX is
channels-first with kernels (out, in, *kernel). Each convolution and pooling is therefore
written between two Transposes (onnxruntime folds the kernel's into its initializer).
"""

from __future__ import annotations

import numpy as np

from graphc.onnx.builder import OnnxBuilder

LARGE_NEGATIVE = -1e9  # a score that softmax turns into 0 (graphc's masked_softmax uses the same)


def to_channels_first(b: OnnxBuilder, x: str, rank: int) -> str:
    return b.transpose(x, [0, rank + 1, *range(1, rank + 1)])


def to_channels_last(b: OnnxBuilder, x: str, rank: int) -> str:
    return b.transpose(x, [0, *range(2, rank + 2), 1])


def window_attrs(node, rank: int) -> dict:
    """strides, dilations and pads (all begins, then all ends) as ONNX attributes."""
    padding = node.attr("padding")
    attrs = {
        "strides": list(node.attr("strides")),
        "pads": [lo for lo, _ in padding] + [hi for _, hi in padding],
    }
    if node.attr("dilation") is not None:
        attrs["dilations"] = list(node.attr("dilation"))
    return attrs


def channels_first_op(b, node, x, op_type, extra_inputs=(), **attrs):
    rank = node.ndim - 2
    inner = b.add(op_type, [to_channels_first(b, x, rank), *extra_inputs], **attrs)
    return to_channels_last(b, inner, rank)


def emit_conv(b, node, ins):
    """Conv1D/2D: kernel (*k, in, out) -> (out, in, *k)."""
    rank = node.ndim - 2
    w = b.transpose(ins[1], [rank + 1, rank, *range(rank)])
    return channels_first_op(b, node, ins[0], "Conv", [w], **window_attrs(node, rank))


def emit_conv_transpose(b, node, ins):
    """Conv1D/2DTranspose: kernel (*k, out, in) -> ONNX's (in, out, *k)."""
    rank = node.ndim - 2
    w = b.transpose(ins[1], [rank + 1, rank, *range(rank)])
    attrs = window_attrs(node, rank)
    attrs["output_padding"] = list(node.attr("output_padding"))
    return channels_first_op(b, node, ins[0], "ConvTranspose", [w], **attrs)


def emit_depthwise(b, node, ins):
    """DepthwiseConv: kernel (*k, in, multiplier) -> (in * multiplier, 1, *k), one group per
    input channel (graphc's output channel c * multiplier + m is ONNX's too)."""
    rank = node.ndim - 2
    *kernel, channels, multiplier = node.inputs[1].shape
    flat = b.add("Reshape", [ins[1], b.ints([*kernel, 1, channels * multiplier])])
    w = b.transpose(flat, [rank + 1, rank, *range(rank)])
    return channels_first_op(b, node, ins[0], "Conv", [w], group=channels,
                             **window_attrs(node, rank))


def pooling(op_type: str, **fixed):
    def emit(b, node, ins):
        rank = node.ndim - 2
        attrs = window_attrs(node, rank)
        attrs["kernel_shape"] = list(node.attr("pool_size"))
        return channels_first_op(b, node, ins[0], op_type, **attrs, **fixed)

    return emit


def emit_layer_norm(b, node, ins):
    """(x - mean) / sqrt(var + eps) over the last axis; graphc applies gamma and beta after."""
    epsilon = float(node.attr("epsilon"))
    if b.opset >= 17:
        size = node.shape[-1]
        ones = b.const(np.ones(size, node.dtype), hint=f"{b.label}/ones")
        zeros = b.const(np.zeros(size, node.dtype), hint=f"{b.label}/zeros")
        return b.add("LayerNormalization", [ins[0], ones, zeros], axis=-1, epsilon=epsilon)
    centered = b.add("Sub", [ins[0], b.reduce("ReduceMean", ins[0], [-1], keepdims=True)])
    variance = b.reduce("ReduceMean", b.add("Mul", [centered, centered]), [-1], keepdims=True)
    spread = b.add("Sqrt", [b.add("Add", [variance, b.scalar(epsilon, node.dtype)])])
    return b.add("Div", [centered, spread])


def emit_masked_softmax(b, node, ins):
    """softmax(x * scale) over keys, masked keys (and, if causal, those above the diagonal)
    scoring -1e9: ~0 where some key counts, uniform on a row with none (Keras's rule) or, with
    keyless_rows="zeros", 0 wherever a key does not count."""
    scores = b.add("Mul", [ins[0], b.scalar(node.attr("scale"), node.dtype)])
    valid = masked_positions(b, node, ins)
    if valid is None:
        return b.add("Softmax", [scores], axis=-1)
    kept = b.add("Where", [valid, scores, b.scalar(LARGE_NEGATIVE, node.dtype)])
    weights = b.add("Softmax", [kept], axis=-1)
    if node.attr("keyless_rows", "uniform") == "uniform":
        return weights
    return b.add("Where", [valid, weights, b.scalar(0, node.dtype)])


def masked_positions(b, node, ins):
    """A boolean tensor broadcasting against the scores, or None when every key counts."""
    valid = b.add("Cast", [ins[1]], to=9) if len(ins) > 1 else None  # 9: BOOL
    if node.attr("causal"):
        rows, cols = node.shape[-2:]
        lower = b.const(np.tril(np.ones((rows, cols), bool)), hint=f"{b.label}/causal")
        valid = lower if valid is None else b.add("And", [valid, lower])
    return valid


EMITTERS = {
    "conv1d": emit_conv, "conv2d": emit_conv,
    "conv1d_transpose": emit_conv_transpose, "conv2d_transpose": emit_conv_transpose,
    "depthwise_conv1d": emit_depthwise, "depthwise_conv2d": emit_depthwise,
    "max_pool1d": pooling("MaxPool"), "max_pool2d": pooling("MaxPool"),
    "avg_pool1d": pooling("AveragePool", count_include_pad=0),
    "avg_pool2d": pooling("AveragePool", count_include_pad=0),
    "layer_norm": emit_layer_norm, "masked_softmax": emit_masked_softmax,
}

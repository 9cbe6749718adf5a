"""ONNX emitters for graphc's elementwise ops, activations, reductions, softmax and matmul.

Each emitter takes (builder, graphc node, ONNX names of the node's inputs) and returns the
ONNX name of the node's value. Binary ops broadcast the same way in both (NumPy's rules).
"""

from __future__ import annotations

import math

import numpy as np

from graphc.onnx.builder import OnnxBuilder, elem_type

# graphc op -> ONNX op of the same meaning, on the same inputs
DIRECT = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "abs": "Abs", "neg": "Neg", "exp": "Exp",
    "log": "Log", "sqrt": "Sqrt", "sin": "Sin", "cos": "Cos", "tanh": "Tanh",
    "sigmoid": "Sigmoid", "relu": "Relu", "erf": "Erf", "sign": "Sign",
    "softplus": "Softplus", "softsign": "Softsign", "equal": "Equal", "greater": "Greater",
    "greater_equal": "GreaterOrEqual", "less": "Less", "less_equal": "LessOrEqual",
    "logical_and": "And", "logical_or": "Or", "logical_not": "Not", "where": "Where",
    "stop_gradient": "Identity",
}

# Keras's SELU constants, which are also ONNX Selu's defaults (stated so a change shows)
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def direct(op_type: str):
    def emit(b: OnnxBuilder, node, ins):
        return b.add(op_type, ins)

    return emit


def emit_not_equal(b, node, ins):
    return b.add("Not", [b.add("Equal", ins)])


def emit_square(b, node, ins):
    return b.add("Mul", [ins[0], ins[0]])


def emit_expm1(b, node, ins):
    return b.add("Sub", [b.add("Exp", ins), b.scalar(1, node.dtype)])


def emit_log1p(b, node, ins):
    return b.add("Log", [b.add("Add", [ins[0], b.scalar(1, node.dtype)])])


def emit_elu(b, node, ins):
    return b.add("Elu", ins, alpha=float(node.attr("alpha", 1.0)))


def emit_selu(b, node, ins):
    return b.add("Selu", ins, alpha=SELU_ALPHA, gamma=SELU_SCALE)


def emit_hard_sigmoid(b, node, ins):
    return b.add("HardSigmoid", ins, alpha=1 / 6, beta=0.5)  # clip(x / 6 + 1/2, 0, 1)


def emit_gelu(b, node, ins):
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation, written out (Gelu is opset 20)."""
    x, dtype = ins[0], node.dtype
    if node.attr("approximate"):
        cube = b.add("Mul", [b.add("Mul", [x, x]), x])
        inner = b.add("Add", [x, b.add("Mul", [cube, b.scalar(0.044715, dtype)])])
        curve = b.add("Tanh", [b.add("Mul", [inner, b.scalar(math.sqrt(2 / math.pi), dtype)])])
    else:
        curve = b.add("Erf", [b.add("Mul", [x, b.scalar(1 / math.sqrt(2), dtype)])])
    half_x = b.add("Mul", [x, b.scalar(0.5, dtype)])
    return b.add("Mul", [half_x, b.add("Add", [curve, b.scalar(1, dtype)])])


def emit_clip(b, node, ins):
    lo, hi = node.attr("lo"), node.attr("hi")
    bounds = [b.scalar(v, node.dtype) if v is not None else "" for v in (lo, hi)]
    return b.add("Clip", [ins[0], *bounds])


def emit_cast(b, node, ins):
    return b.add("Cast", ins, to=elem_type(node.attr("dtype")))


def emit_size(b, node, ins):
    """The product of the input's sizes on `axis`, read at run time."""
    axes = node.attr("axis")
    ndim = node.inputs[0].ndim
    axes = range(ndim) if axes is None else [a % ndim for a in np.atleast_1d(axes)]
    sizes = b.add("Gather", [b.add("Shape", ins), b.ints(axes)], axis=0)
    product = b.reduce("ReduceProd", sizes, [0], keepdims=False)
    return b.add("Cast", [product], to=elem_type(node.dtype))


def reduction(op_type: str):
    def emit(b, node, ins):
        axis = node.attr("axis")
        axes = None if axis is None else list(np.atleast_1d(axis))
        return b.reduce(op_type, ins[0], axes, node.attr("keepdims", False))

    return emit


def arg_reduction(op_type: str):
    def emit(b, node, ins):
        axis, x = node.attr("axis"), ins[0]
        if axis is None:  # over the flattened input, as NumPy
            x, axis = b.add("Reshape", [x, b.ints([-1])]), 0
        keep = int(bool(node.attr("keepdims", False)))
        return b.add(op_type, [x], axis=int(axis), keepdims=keep)

    return emit


def emit_matmul(b, node, ins):
    ins = list(ins)
    for flag, k in (("transpose_a", 0), ("transpose_b", 1)):
        if node.attr(flag):
            rank = node.inputs[k].ndim
            perm = list(range(rank - 2)) + [rank - 1, rank - 2]
            ins[k] = b.transpose(ins[k], perm)
    return b.add("MatMul", ins)


def emit_softmax(b, node, ins):
    return b.add("Softmax", ins, axis=int(node.attr("axis")))


def emit_log_softmax(b, node, ins):
    return b.add("LogSoftmax", ins, axis=int(node.attr("axis")))


EMITTERS = {
    **{op: direct(onnx_op) for op, onnx_op in DIRECT.items()},
    "not_equal": emit_not_equal, "square": emit_square, "expm1": emit_expm1,
    "log1p": emit_log1p, "elu": emit_elu, "selu": emit_selu, "hard_sigmoid": emit_hard_sigmoid,
    "gelu": emit_gelu, "clip": emit_clip, "cast": emit_cast, "size": emit_size,
    "sum": reduction("ReduceSum"), "mean": reduction("ReduceMean"),
    "max": reduction("ReduceMax"), "min": reduction("ReduceMin"),
    "argmax": arg_reduction("ArgMax"), "argmin": arg_reduction("ArgMin"),
    "matmul": emit_matmul, "softmax": emit_softmax, "log_softmax": emit_log_softmax,
}

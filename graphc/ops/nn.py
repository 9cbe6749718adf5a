"""Matrix products and neural-network ops: matmul (2-D and batched, with transposes),
softmax, log_softmax, one_hot."""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import (
    broadcast_shapes,
    call,
    defop,
    dims_equal,
    normalize_axes,
    require_float,
    same_dtype,
)
from graphc.ops.elementwise import unbroadcast

# ---- matmul ------------------------------------------------------------------------------------


def matrix_dims(x, transposed):
    rows, cols = x.shape[-2], x.shape[-1]
    return (cols, rows) if transposed else (rows, cols)


def infer_matmul(inputs, *, transpose_a, transpose_b):
    a, b = inputs
    dtype = require_float(same_dtype(inputs))
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError("matmul needs inputs of 2 or more dimensions (gc.matmul reshapes vectors)")
    m, k = matrix_dims(a, transpose_a)
    k2, n = matrix_dims(b, transpose_b)
    if not dims_equal(k, k2):
        raise ShapeError(f"inner dimensions {k} and {k2} differ")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return batch + (m, n), dtype


def impl_matmul(a, b, *, transpose_a, transpose_b):
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def vjp_matmul(g, node):
    a, b = node.inputs
    ta, tb = node.attr("transpose_a"), node.attr("transpose_b")
    mm = lambda x, y, tx, ty: call("matmul", x, y, transpose_a=tx, transpose_b=ty)  # noqa: E731
    ga = mm(b, g, tb, True) if ta else mm(g, b, False, not tb)
    gb = mm(g, a, True, ta) if tb else mm(a, g, not ta, False)
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


defop(
    "matmul",
    infer=infer_matmul,
    impl=impl_matmul,
    vjp=vjp_matmul,
    kind="matmul",
    doc="op(a) @ op(b) over the last two axes, op = transpose when the flag is set.",
)

# ---- softmax and log_softmax ------------------------------------------------------------------


def infer_softmax(inputs, *, axis):
    normalize_axes(axis, inputs[0].ndim)
    return inputs[0].shape, require_float(inputs[0].dtype)


def impl_softmax(x, *, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


def impl_log_softmax(x, *, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).astype(x.dtype)


def vjp_softmax(g, node):
    axis = node.attr("axis")
    return (node * (g - call("sum", g * node, axis=axis, keepdims=True)),)


def vjp_log_softmax(g, node):
    axis = node.attr("axis")
    return (g - call("exp", node) * call("sum", g, axis=axis, keepdims=True),)


defop("softmax", infer=infer_softmax, impl=impl_softmax, vjp=vjp_softmax, kind="nn")
defop("log_softmax", infer=infer_softmax, impl=impl_log_softmax, vjp=vjp_log_softmax, kind="nn")

# ---- one_hot -----------------------------------------------------------------------------------


def infer_one_hot(inputs, *, depth, dtype):
    if inputs[0].dtype not in ("int32", "int64"):
        raise DtypeError(f"one_hot needs integer class indices, got {inputs[0].dtype}")
    return inputs[0].shape + (depth,), dtype


def impl_one_hot(x, *, depth, dtype):
    return (x[..., None] == np.arange(depth)).astype(dtype)


defop(
    "one_hot",
    infer=infer_one_hot,
    impl=impl_one_hot,
    kind="elementwise",
    doc="Indices outside [0, depth) give an all-zero row, as in Keras.",
)

"""Matrix products and neural-network ops: matmul (2-D and batched, with transposes),
softmax, log_softmax, one_hot."""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import (
    broadcast_shapes,
    call,
    defop,
    dims_equal,
    dims_like_input,
    normalize_axes,
    require_float,
    same_dtype,
)
from graphc.ops.cases import M34, F, In, case
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


def dims_matmul(node, ins, syms):
    """Batch axes broadcast, the inner sizes unify, rows and columns come from a and b."""
    a, b = ins
    ta, tb = node.attr("transpose_a"), node.attr("transpose_b")
    syms.unify(a[-2] if ta else a[-1], b[-1] if tb else b[-2], node)
    a, b = [syms.norm(d) for d in a], [syms.norm(d) for d in b]
    m = a[-1] if ta else a[-2]
    n = b[-2] if tb else b[-1]
    return syms.broadcast([a[:-2], b[:-2]], node) + [m, n]


def flops_matmul(node, shape_of) -> int:
    a = shape_of(node.inputs[0])
    inner = a[-2] if node.attr("transpose_a") else a[-1]
    return 2 * math.prod(shape_of(node)) * inner


def matmul_case(a, b, ta, tb):
    return case(F(a), F(b), transpose_a=ta, transpose_b=tb)


defop(
    "matmul",
    infer=infer_matmul,
    impl=impl_matmul,
    vjp=vjp_matmul,
    fusion="dense",
    dims=dims_matmul,
    flops=flops_matmul,
    cases=[
        matmul_case((3, 4), (4, 5), False, False),
        matmul_case((4, 3), (4, 5), True, False),
        matmul_case((3, 4), (5, 4), False, True),
        matmul_case((4, 3), (5, 4), True, True),
        matmul_case((2, 3, 4), (4, 5), False, False),
    ],
    doc="op(a) @ op(b) over the last two axes, op = transpose when the flag is set.",
)

# ---- softmax and log_softmax ------------------------------------------------------------------


def infer_softmax(inputs, *, axis):
    (axis,) = normalize_axes(axis, inputs[0].ndim)
    if inputs[0].shape[axis] == 0:  # static sizes here, run-time ones in passes.symbols
        raise ShapeError(f"over an empty axis: the input has shape {inputs[0].shape}, and the "
                         f"max it subtracts has no value there (as in NumPy)")
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


# Both are expanded into reductions and elementwise ops before fusion (passes/fuse.py).
defop("softmax", infer=infer_softmax, impl=impl_softmax, vjp=vjp_softmax, fusion="opaque",
      dims=dims_like_input(0), cases=[case(M34, axis=-1), case(M34, axis=0)])
defop("log_softmax", infer=infer_softmax, impl=impl_log_softmax, vjp=vjp_log_softmax,
      fusion="opaque", dims=dims_like_input(0),
      cases=[case(M34, axis=-1), case(F((2, 3, 4)), axis=1)])

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
    fusion="opaque",  # a new trailing axis: not elementwise in the loop sense
    dims=lambda node, ins, syms: list(ins[0]) + [None],
    cases=[case(In((4,), "int", "int64", high=6), depth=5, dtype="float32", grad=False)],
    doc="Indices outside [0, depth) give an all-zero row, as in Keras.",
)

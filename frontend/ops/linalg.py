"""keras.ops' products and norms: matmul, dot, einsum, tensordot, outer, vdot, norm."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.ops.convert import axis_tuple, float_operand, operands
from frontend.ops.dispatch import op
from graphc.ir import user_site

BINARY = ("x1", "x2")


@op("matmul", tensors=BINARY)
def matmul(x1, x2):
    """x1 @ x2 as numpy.matmul (batched over leading axes; vectors as NumPy treats them)."""
    return gc.matmul(*operands(x1, x2))


@op("einsum", tensors=(), tensor_lists=("operands",))
def einsum(subscripts, *operands_):
    """numpy.einsum for one or two operands, lowered to transposes and one batched matmul
    (graphc.einsum; repeated indices within one operand are refused)."""
    return gc.einsum(subscripts, *operands(*operands_))


@op("dot", tensors=BINARY)
def dot(x1, x2):
    """numpy.dot: a product for scalars, the last axis of x1 with the second-to-last of x2."""
    a, b = operands(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return gc.matmul(a, b)
    return tensordot.graph_function(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


def _contracted_axes(a, b, axes):
    if isinstance(axes, (int, np.integer)):
        return list(range(a.ndim - axes, a.ndim)), list(range(axes))
    first, second = axes
    first = [first] if isinstance(first, (int, np.integer)) else list(first)
    second = [second] if isinstance(second, (int, np.integer)) else list(second)
    return [f % a.ndim for f in first], [s % b.ndim for s in second]


def _as_matrix(x, moved_last: list, rows_first: bool):
    """`x` with the `moved_last` axes flattened into one (last or first), the rest in another."""
    free = [i for i in range(x.ndim) if i not in moved_last]
    order = free + moved_last if rows_first else moved_last + free
    dims = [x.shape[i] for i in free]
    inner = int(np.prod([x.shape[i] for i in moved_last])) if moved_last else 1
    if any(d is None for d in dims[1:]) or any(x.shape[i] is None for i in moved_last):
        raise ValueError(
            f"ops.tensordot: only the first free axis of {x.shape} may be known only at run "
            f"time (at {user_site()})"
        )
    outer = -1
    shape = (outer, inner) if rows_first else (inner, outer)
    return gc.reshape(gc.transpose(x, order), shape), dims


@op("tensordot", tensors=BINARY)
def tensordot(x1, x2, axes=2):
    """Sum of products over `axes` (an int: the last/first ones; or two lists), as NumPy."""
    a, b = operands(x1, x2)
    axes_a, axes_b = _contracted_axes(a, b, axes)
    left, free_a = _as_matrix(a, axes_a, rows_first=True)
    right, free_b = _as_matrix(b, axes_b, rows_first=False)
    out = gc.matmul(left, right)
    shape = tuple(-1 if d is None else d for d in free_a + free_b)
    return gc.reshape(out, shape)


@op("outer", tensors=BINARY)
def outer(x1, x2):
    """The outer product of the flattened x1 and x2."""
    a, b = operands(x1, x2)
    return gc.reshape(a, (-1, 1)) * gc.reshape(b, (1, -1))


@op("vdot", tensors=BINARY)
def vdot(x1, x2):
    """The dot product of the flattened x1 and x2."""
    a, b = operands(x1, x2)
    return gc.sum(gc.reshape(a, (-1,)) * gc.reshape(b, (-1,)))


@op("norm")
def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 (Keras's name)
    """Vector norms (ord None/2, 1, inf, -inf, 0 or any p) and the Frobenius matrix norm
    ('fro', or None over two axes); other matrix norms are refused."""
    x = float_operand(x)
    axes = axis_tuple(axis, x.ndim)
    over_matrix = (axes is None and x.ndim == 2) or (axes is not None and len(axes) == 2)
    if over_matrix and ord not in (None, "fro"):
        raise ValueError(
            f"ops.norm: graphc computes the matrix norm 'fro' only (the others need SVD or "
            f"per-axis maxima). Received: ord={ord!r} (at {user_site()})"
        )
    if ord in (None, "fro", 2):
        return gc.sqrt(gc.sum(gc.square(x), axis=axes, keepdims=keepdims))
    if ord == np.inf:
        return gc.max(gc.abs(x), axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return gc.min(gc.abs(x), axis=axes, keepdims=keepdims)
    if ord == 0:
        return gc.sum(gc.cast(gc.not_equal(x, 0.0), x.dtype), axis=axes, keepdims=keepdims)
    if ord == 1:
        return gc.sum(gc.abs(x), axis=axes, keepdims=keepdims)
    powered = gc.sum(gc.abs(x) ** float(ord), axis=axes, keepdims=keepdims)
    return powered ** (1.0 / float(ord))

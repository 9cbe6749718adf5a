"""keras.ops' tensor creation: ones, zeros, full, eye, identity, arange, linspace (static
shapes) and the `_like` forms, which follow their model's shape even when a size (the batch)
is known only at run time."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.ops.convert import RuntimeSize, standard_array, to_node
from frontend.ops.dispatch import op
from graphc.ir import user_site
from graphc.ops import make_node


def _shape_tuple(shape) -> tuple:
    return (shape,) if isinstance(shape, (int, np.integer, RuntimeSize)) else tuple(shape)


def static_shape(shape, fn: str) -> tuple:
    """`shape` with each run-time size (RuntimeSize) as 1; a ValueError for anything that is not
    a non-negative int."""
    shape = tuple(1 if isinstance(d, RuntimeSize) else d for d in _shape_tuple(shape))
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in shape):
        raise ValueError(
            f"{fn}: shape must hold non-negative ints, or sizes from ops.shape(x) of a graph "
            f"tensor; None is not a size. Received: shape={shape!r} (at {user_site()})"
        )
    return shape


def filled(shape, value, dtype, fn: str):
    """A node of `shape` filled with `value`; run-time sizes (RuntimeSize) in `shape` take
    their length from the tensor they were read from."""
    dtype = gc.ir.normalize_dtype(dtype or backend.floatx())
    out = gc.constant(np.full(static_shape(shape, fn), value, dtype=dtype))
    for i, size in enumerate(_shape_tuple(shape)):
        if isinstance(size, RuntimeSize):
            source = size.source
            index = tuple(slice(None) if a == size.axis else 0 for a in range(source.ndim))
            placed = [1] * len(_shape_tuple(shape))
            placed[i] = -1
            column = gc.reshape(gc.cast(source[index], dtype), placed)
            out = make_node("broadcast_like", [out, out + column])  # only column's shape counts
    return out


def _constant(array, dtype):
    return gc.constant(standard_array(array, dtype or backend.floatx()))


@op("zeros", tensors=())
def zeros(shape, dtype=None):
    """A tensor of zeros."""
    return filled(shape, 0, dtype, "ops.zeros")


@op("ones", tensors=())
def ones(shape, dtype=None):
    """A tensor of ones."""
    return filled(shape, 1, dtype, "ops.ones")


@op("full", tensors=())
def full(shape, fill_value, dtype=None):
    """A tensor filled with the number `fill_value`."""
    return filled(shape, fill_value, dtype, "ops.full")


@op("eye", tensors=())
def eye(N, M=None, k=0, dtype=None):  # noqa: N803 (Keras's names)
    """A matrix with ones on diagonal `k`."""
    return _constant(np.eye(N, M, k), dtype)


@op("identity", tensors=())
def identity(n, dtype=None):
    """The n x n identity matrix."""
    return _constant(np.eye(n), dtype)


@op("arange", tensors=())
def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced numbers in [start, stop) (ints unless a bound or `dtype` is a float)."""
    values = np.arange(start, stop, step)
    return gc.constant(standard_array(values, dtype))


@op("linspace", tensors=())
def linspace(start, stop, num=50, endpoint=True, dtype=None):
    """`num` evenly spaced numbers from start to stop."""
    return _constant(np.linspace(start, stop, num, endpoint=endpoint), dtype)


@op("full_like")
def full_like(x, fill_value, dtype=None):
    """A tensor of `x`'s shape (run-time sizes included) filled with `fill_value`."""
    x = to_node(x)
    value = gc.constant(standard_array(fill_value, dtype or x.dtype))
    return make_node("broadcast_like", [value, x])


@op("zeros_like")
def zeros_like(x, dtype=None):
    """Zeros of `x`'s shape."""
    return full_like.graph_function(x, 0, dtype)


@op("ones_like")
def ones_like(x, dtype=None):
    """Ones of `x`'s shape."""
    return full_like.graph_function(x, 1, dtype)

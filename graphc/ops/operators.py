"""Operators and methods on nodes (`a + b`, `x[0]`, `x.T`, `x.sum(...)`), installed on `Node`
when the op table loads, so gradient rules and passes can use them without the public API.

Also the builders they share with graphc.api: `as_node`/`apply` (Python numbers become
constants of the tensors' dtype) and the functions behind the methods (sum, reshape, ...).
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from graphc.ir import FLOAT_DTYPES, DtypeError, Node, ShapeError, normalize_dtype, user_site
from graphc.ops import make_node, normalize_axes
from graphc.ops.leaves import constant_node


def constant(value, dtype=None, name=None) -> Node:
    """A fixed value; Python floats become float32 unless `dtype` says otherwise."""
    if dtype is None and isinstance(value, float):
        dtype = "float32"
    return constant_node(value, dtype)


def as_node(value, like: Node | None = None) -> Node:
    """A node for `value`; Python numbers take the dtype of `like` (weak typing, as in JAX)."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, np.bool_)):
        return constant_node(value, "bool")
    if isinstance(value, numbers.Number) and like is not None and like.dtype != "bool":
        if isinstance(value, numbers.Integral) or like.dtype in FLOAT_DTYPES:
            return constant_node(value, like.dtype)
        raise DtypeError(
            f"cannot combine the float {value} with a {like.dtype} tensor "
            f"without a cast (at {user_site()})"
        )
    if isinstance(value, (list, tuple, np.ndarray)) and like is not None:
        array = np.asarray(value)
        floats = array.dtype.kind == "f" and like.dtype in FLOAT_DTYPES
        if array.dtype.kind == like.dtype[0] or floats:
            return constant_node(array, like.dtype)
    return constant(value)


def apply(op: str, *inputs, **attrs) -> Node:
    """Apply `op` to inputs, converting Python numbers to constants of the tensors' dtype."""
    like = next((i for i in inputs if isinstance(i, Node)), None)
    return make_node(op, [as_node(i, like) for i in inputs], attrs)


# ---- the functions behind the methods ----------------------------------------------------------


def reduction_axes(x: Node, axis) -> tuple | None:
    """`axis` as a sorted tuple (None stays None), or a ShapeError naming the input shape."""
    if axis is None:
        return None
    try:
        return normalize_axes(axis, x.ndim)
    except ShapeError as err:
        raise ShapeError(f"{err} (input shape {x.shape}, at {user_site()})") from None


def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over `axis` (all axes when None), as numpy.sum."""
    return apply("sum", x, axis=reduction_axes(as_node(x), axis), keepdims=bool(keepdims))


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (all axes when None), as numpy.mean."""
    return apply("mean", x, axis=reduction_axes(as_node(x), axis), keepdims=bool(keepdims))


def max(x, axis=None, keepdims=False):  # noqa: A001
    """Largest element over `axis` (all axes when None), as numpy.max."""
    return apply("max", x, axis=reduction_axes(as_node(x), axis), keepdims=bool(keepdims))


def min(x, axis=None, keepdims=False):  # noqa: A001
    """Smallest element over `axis` (all axes when None), as numpy.min."""
    return apply("min", x, axis=reduction_axes(as_node(x), axis), keepdims=bool(keepdims))


def argmax(x, axis=None, keepdims=False):
    """Index of the largest element along `axis`, as numpy.argmax."""
    return apply("argmax", x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element along `axis`, as numpy.argmin."""
    return apply("argmin", x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))


def matmul(a, b, transpose_a=False, transpose_b=False):
    """op(a) @ op(b); vectors are treated as in NumPy (a row on the left, a column on the right)."""
    a, b = as_node(a), as_node(b)
    if a.ndim == 1 and b.ndim == 1:
        return sum(a * b)
    if a.ndim == 1:
        return reshape(matmul(reshape(a, (1, -1)), b, False, transpose_b), b.shape[:-2] + (-1,))
    if b.ndim == 1:
        out = matmul(a, reshape(b, (-1, 1)), transpose_a, False)
        return reshape(out, tuple(-1 if d is None else d for d in out.shape[:-1]))
    return make_node(
        "matmul", [a, b], {"transpose_a": bool(transpose_a), "transpose_b": bool(transpose_b)}
    )


def transpose(x, axes=None):
    """Permute the axes (reverse them when `axes` is None), as numpy.transpose."""
    x = as_node(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    return apply("transpose", x, axes=axes)


def reshape(x, shape):
    """`x` with a new shape (one -1 or None is inferred), as numpy.reshape."""
    shape = (
        (shape,) if isinstance(shape, int) else tuple(-1 if d is None else int(d) for d in shape)
    )
    x = as_node(x)
    return x if x.shape == shape else apply("reshape", x, shape=shape)


def cast(x, dtype):
    """`x` converted to `dtype` (no node when it already has it)."""
    x = as_node(x)
    dtype = normalize_dtype(dtype)
    return x if x.dtype == dtype else apply("cast", x, dtype=dtype)


def basic_index(x: Node, key) -> tuple:
    """A Python index (basic indexing only) as the hashable form the getitem op stores."""
    key = key if isinstance(key, tuple) else (key,)
    if builtins.sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis")
    taken = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([("slice", None, None, None)] * (x.ndim - taken))
        elif k is None:
            out.append(("newaxis",))
        elif isinstance(k, slice):
            out.append(("slice", k.start, k.stop, k.step))
        elif isinstance(k, (int, np.integer)):
            out.append(("int", int(k)))
        else:
            raise IndexError(
                f"graphc supports basic indexing (ints, slices, None, ...); got "
                f"{type(k).__name__}: use gc.take for gathers (at {user_site()})"
            )
    return tuple(out)


def getitem(x, key):
    """`x[key]` with basic indexing."""
    return make_node("getitem", [x], {"index": basic_index(x, key)})


# ---- installed on Node -------------------------------------------------------------------------

METHODS = {
    "__add__": lambda a, b: apply("add", a, b),
    "__radd__": lambda a, b: apply("add", b, a),
    "__sub__": lambda a, b: apply("sub", a, b),
    "__rsub__": lambda a, b: apply("sub", b, a),
    "__mul__": lambda a, b: apply("mul", a, b),
    "__rmul__": lambda a, b: apply("mul", b, a),
    "__truediv__": lambda a, b: apply("div", a, b),
    "__rtruediv__": lambda a, b: apply("div", b, a),
    "__pow__": lambda a, b: apply("pow", a, b),
    "__rpow__": lambda a, b: apply("pow", b, a),
    "__matmul__": lambda a, b: matmul(a, b),
    "__rmatmul__": lambda a, b: matmul(b, a),
    "__neg__": lambda a: apply("neg", a),
    "__abs__": lambda a: apply("abs", a),
    "__lt__": lambda a, b: apply("less", a, b),
    "__le__": lambda a, b: apply("less_equal", a, b),
    "__gt__": lambda a, b: apply("greater", a, b),
    "__ge__": lambda a, b: apply("greater_equal", a, b),
    "__invert__": lambda a: apply("logical_not", a),
    "__and__": lambda a, b: apply("logical_and", a, b),
    "__or__": lambda a, b: apply("logical_or", a, b),
    "__getitem__": getitem,
    "sum": sum,
    "mean": mean,
    "max": max,
    "min": min,
    "argmax": argmax,
    "argmin": argmin,
    "reshape": lambda x, *shape: reshape(x, shape[0] if len(shape) == 1 else shape),
    "transpose": lambda x, *axes: transpose(x, axes or None),
    "astype": cast,
    "T": property(lambda x: transpose(x)),
}
for _name, _method in METHODS.items():
    setattr(Node, _name, _method)

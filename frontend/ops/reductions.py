"""keras.ops' reductions: sum, mean, max, min, prod, argmax, argmin, var, std, any, all,
logsumexp, cumsum and norm, each over `axis` (None: all axes), as NumPy defines them."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.ops.convert import axis_tuple, float_operand, to_node
from frontend.ops.dispatch import op
from graphc.ir import user_site


def _axes(x, axis):
    return axis_tuple(axis, x.ndim)


@op("sum")
def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over `axis`."""
    x = to_node(x)
    x = gc.cast(x, "int64") if x.dtype == "bool" else x
    return gc.sum(x, axis=_axes(x, axis), keepdims=keepdims)


@op("mean")
def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (ints and bools are averaged as floatx)."""
    x = float_operand(x)
    return gc.mean(x, axis=_axes(x, axis), keepdims=keepdims)


def _bool_as_int(x):
    return gc.cast(x, "int32") if x.dtype == "bool" else x


@op("max")
def max(x, axis=None, keepdims=False):  # noqa: A001
    """Largest element over `axis`."""
    x = to_node(x)
    out = gc.max(_bool_as_int(x), axis=_axes(x, axis), keepdims=keepdims)
    return gc.cast(out, x.dtype)


@op("min")
def min(x, axis=None, keepdims=False):  # noqa: A001
    """Smallest element over `axis`."""
    x = to_node(x)
    out = gc.min(_bool_as_int(x), axis=_axes(x, axis), keepdims=keepdims)
    return gc.cast(out, x.dtype)


@op("any")
def any(x, axis=None, keepdims=False):  # noqa: A001
    """True where any element over `axis` is non-zero."""
    x = to_node(x)
    x = x if x.dtype == "bool" else gc.not_equal(x, 0)
    return gc.cast(gc.max(gc.cast(x, "int32"), axis=_axes(x, axis), keepdims=keepdims), "bool")


@op("all")
def all(x, axis=None, keepdims=False):  # noqa: A001
    """True where every element over `axis` is non-zero."""
    x = to_node(x)
    x = x if x.dtype == "bool" else gc.not_equal(x, 0)
    return gc.cast(gc.min(gc.cast(x, "int32"), axis=_axes(x, axis), keepdims=keepdims), "bool")


@op("prod")
def prod(x, axis=None, keepdims=False):
    """Product over `axis`, as exp(sum(log|x|)) with the sign and zeros put back."""
    x = float_operand(x)
    axes = _axes(x, axis)
    negatives = gc.sum(gc.cast(x < 0, x.dtype), axis=axes, keepdims=keepdims)
    sign = gc.cos(negatives * np.pi)  # (-1) ** (number of negative factors)
    has_zero = gc.max(gc.cast(gc.equal(x, 0.0), x.dtype), axis=axes, keepdims=keepdims) > 0
    safe = gc.where(gc.equal(x, 0.0), gc.as_node(1.0, like=x), gc.abs(x))
    magnitude = gc.exp(gc.sum(gc.log(safe), axis=axes, keepdims=keepdims))
    return gc.where(has_zero, gc.as_node(0.0, like=x), gc.where(sign > 0, magnitude, -magnitude))


def _arg_axis(x, axis, name):
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"ops.{name}: axis must be an int or None. Received: axis={axis!r}")
    return axis


@op("argmax")
def argmax(x, axis=None, keepdims=False):
    """Index of the largest element along `axis` (of the flattened `x` when None)."""
    x = to_node(x)
    return gc.argmax(_bool_as_int(x), axis=_arg_axis(x, axis, "argmax"), keepdims=keepdims)


@op("argmin")
def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element along `axis` (of the flattened `x` when None)."""
    x = to_node(x)
    return gc.argmin(_bool_as_int(x), axis=_arg_axis(x, axis, "argmin"), keepdims=keepdims)


@op("var")
def var(x, axis=None, keepdims=False):
    """Variance over `axis` (population variance, as numpy.var)."""
    x = float_operand(x)
    axes = _axes(x, axis)
    centered = x - gc.mean(x, axis=axes, keepdims=True)
    return gc.mean(gc.square(centered), axis=axes, keepdims=keepdims)


@op("std")
def std(x, axis=None, keepdims=False):
    """Standard deviation over `axis`, sqrt(var)."""
    return gc.sqrt(var.graph_function(x, axis, keepdims))


@op("moments")
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) of `x` over `axes`, as keras.ops.moments."""
    x = float_operand(x)
    axes = _axes(x, axes)
    centre = gc.mean(x, axis=axes, keepdims=True)
    variance = gc.mean(gc.square(x - centre), axis=axes, keepdims=keepdims)
    return (centre if keepdims else gc.mean(x, axis=axes)), variance


@op("average", tensors=("x", "weights"))
def average(x, axis=None, weights=None):
    """Mean of `x` over `axis`, weighted by `weights` (x's shape, or 1-D along `axis`)."""
    x = float_operand(x)
    if weights is None:
        return gc.mean(x, axis=_axes(x, axis))
    weights = gc.cast(to_node(weights), x.dtype)
    if weights.ndim == 1 and x.ndim > 1:
        if axis is None:
            raise ValueError(f"ops.average: 1-D weights need an axis (at {user_site()})")
        along = _axes(x, axis)[0]
        weights = gc.reshape(weights, tuple(-1 if i == along else 1 for i in range(x.ndim)))
    axes = _axes(x, axis)
    return gc.sum(x * weights, axis=axes) / gc.sum(weights + x * 0.0, axis=axes)


@op("count_nonzero")
def count_nonzero(x, axis=None):
    """The number of non-zero elements over `axis`."""
    x = to_node(x)
    nonzero = x if x.dtype == "bool" else gc.not_equal(x, 0)
    return gc.sum(gc.cast(nonzero, "int32"), axis=_axes(x, axis))


@op("logsumexp")
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over `axis`, computed stably (the max is taken out first)."""
    x = float_operand(x)
    axes = _axes(x, axis)
    top = gc.max(x, axis=axes, keepdims=True)
    total = gc.sum(gc.exp(x - top), axis=axes, keepdims=True)
    out = gc.log(total) + top
    return out if keepdims else gc.reshape(out, _dropped_shape(x, axes))


def _dropped_shape(x, axes):
    kept = [d for i, d in enumerate(x.shape) if axes is not None and i not in axes]
    return tuple(-1 if d is None else d for d in kept)


@op("cumsum")
def cumsum(x, axis=None, dtype=None):
    """Running sum along `axis` (of the flattened `x` when None): a product with a triangle
    of ones, so the axis length must be known when the graph is built."""
    x = to_node(x) if dtype is None else gc.cast(to_node(x), dtype)
    if axis is None:
        x, axis = gc.reshape(x, (-1,)), 0
    axis = _axes(x, axis)[0]
    length = x.shape[axis]
    if length is None:
        raise ValueError(
            f"ops.cumsum: the length of axis {axis} of {x.shape} is known only at run time; "
            f"graphc needs it when the graph is built (at {user_site()})"
        )
    order = [i for i in range(x.ndim) if i != axis] + [axis]
    triangle = gc.constant(np.triu(np.ones((length, length), dtype=x.dtype)))
    moved = gc.transpose(x, order) @ triangle
    return gc.transpose(moved, list(np.argsort(order)))

"""Reductions over any axes, with keepdims."""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError
from graphc.ops import call, defop, normalize_axes
from graphc.ops.elementwise import mask


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def infer_reduce(inputs, *, axis, keepdims):
    x = inputs[0]
    if x.dtype == "bool":
        raise DtypeError("reductions need numeric input, got bool; cast it first")
    return reduced_shape(x.shape, normalize_axes(axis, x.ndim), keepdims), x.dtype


def expand_back(g, node):
    """Upstream gradient of a reduction, broadcast back to the reduced input's shape."""
    x = node.inputs[0]
    if not node.attr("keepdims"):
        g = call("expand_dims", g, axis=normalize_axes(node.attr("axis"), x.ndim))
    return call("broadcast_like", g, x)


def vjp_sum(g, node):
    return (expand_back(g, node),)


def vjp_mean(g, node):
    x = node.inputs[0]
    count = call("size", x, axis=node.attr("axis"), dtype=x.dtype)
    return (expand_back(g / count, node),)


def vjp_extreme(g, node):
    """Max/min: the gradient flows to every input equal to the result (ties share it whole)."""
    x = node.inputs[0]
    y = expand_back(node, node)
    return (mask(call("equal", x, y), expand_back(g, node)),)


def reduction(name, impl, vjp):
    def run(x, *, axis, keepdims):
        return np.asarray(impl(x, axis=axis, keepdims=keepdims), dtype=x.dtype)

    defop(name, infer=infer_reduce, impl=run, vjp=vjp, kind="reduce")


reduction("sum", np.sum, vjp_sum)
reduction("mean", np.mean, vjp_mean)
reduction("max", np.max, vjp_extreme)
reduction("min", np.min, vjp_extreme)


def infer_arg(inputs, *, axis, keepdims):
    x = inputs[0]
    axes = normalize_axes(axis, x.ndim)
    if axis is not None and len(axes) != 1:
        raise DtypeError("argmax/argmin take one axis or None")
    return reduced_shape(x.shape, axes, keepdims), "int64"


defop(
    "argmax",
    infer=infer_arg,
    kind="reduce",
    impl=lambda x, *, axis, keepdims: np.asarray(
        np.argmax(x, axis=axis, keepdims=keepdims), dtype="int64"
    ),
)
defop(
    "argmin",
    infer=infer_arg,
    kind="reduce",
    impl=lambda x, *, axis, keepdims: np.asarray(
        np.argmin(x, axis=axis, keepdims=keepdims), dtype="int64"
    ),
)


def infer_size(inputs, *, axis, dtype):
    normalize_axes(axis, inputs[0].ndim)
    return (), dtype


def impl_size(x, *, axis, dtype):
    axes = normalize_axes(axis, x.ndim)
    return np.asarray(np.prod([x.shape[a] for a in axes]), dtype=dtype)


defop(
    "size",
    infer=infer_size,
    impl=impl_size,
    kind="shape",
    doc="Number of elements over `axis`, known at run time (for means over the batch).",
)

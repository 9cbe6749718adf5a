"""Reductions over any axes, with keepdims."""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import call, defop, normalize_axes, per_input_element
from graphc.ops.cases import M34, F, case
from graphc.ops.elementwise import mask

ALL_AXES = None
NO_IDENTITY = ("max", "min", "argmax", "argmin")  # no value over an empty axis, as in NumPy


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def dims_reduce(node, ins, syms):
    """The input's sizes without the reduced axes (or with 1 there, keepdims)."""
    axes = normalize_axes(node.attr("axis"), len(ins[0]))
    if node.attr("keepdims"):
        return [1 if i in axes else d for i, d in enumerate(ins[0])]
    return [d for i, d in enumerate(ins[0]) if i not in axes]


def check_not_empty(op: str, shape: tuple, axes: tuple) -> None:
    """Static sizes here, run-time ones when passes.symbols runs the rule on a call's shapes."""
    if any(shape[a] == 0 for a in axes):
        raise ShapeError(f"{op} over an empty axis: the input has shape {shape} and {op} has "
                         f"no identity")


def reduce_rule(name):
    def infer_reduce(inputs, *, axis, keepdims):
        x = inputs[0]
        if x.dtype == "bool":
            raise DtypeError("reductions need numeric input, got bool; cast it first")
        axes = normalize_axes(axis, x.ndim)
        if name in NO_IDENTITY:
            check_not_empty(name, x.shape, axes)
        return reduced_shape(x.shape, axes, keepdims), x.dtype

    return infer_reduce


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


def reduction(name, impl, vjp, cases):
    def run(x, *, axis, keepdims):
        return np.asarray(impl(x, axis=axis, keepdims=keepdims), dtype=x.dtype)

    defop(name, infer=reduce_rule(name), impl=run, vjp=vjp, fusion="reduction", dims=dims_reduce,
          cases=cases)


reduction("sum", np.sum, vjp_sum, [
    case(M34, axis=ALL_AXES, keepdims=False),
    case(F((2, 3, 4)), axis=(0, 2), keepdims=True),
    case(M34, axis=(1,), keepdims=False),
])
reduction("mean", np.mean, vjp_mean, [
    case(M34, axis=ALL_AXES, keepdims=False),
    case(F((2, 3, 4)), axis=(1,), keepdims=True),
])
reduction("max", np.max, vjp_extreme, [
    case(M34, axis=(1,), keepdims=False),
    case(F((2, 3, 4)), axis=ALL_AXES, keepdims=True),
])
reduction("min", np.min, vjp_extreme, [case(M34, axis=(0,), keepdims=True)])


def arg_rule(name):
    def infer_arg(inputs, *, axis, keepdims):
        x = inputs[0]
        axes = normalize_axes(axis, x.ndim)
        if axis is not None and len(axes) != 1:
            raise DtypeError("argmax/argmin take one axis or None")
        check_not_empty(name, x.shape, axes)
        return reduced_shape(x.shape, axes, keepdims), "int64"

    return infer_arg


def arg_extreme(name, impl, cases):
    """argmax/argmin: an index-valued reduction, computed by a kernel of its own."""

    def run(x, *, axis, keepdims):
        return np.asarray(impl(x, axis=axis, keepdims=keepdims), dtype="int64")

    defop(name, infer=arg_rule(name), impl=run, fusion="opaque", dims=dims_reduce,
          flops=per_input_element, cases=cases)


arg_extreme("argmax", np.argmax, [
    case(M34, axis=1, keepdims=False, grad=False),
    case(M34, axis=None, keepdims=False, grad=False),
])
arg_extreme("argmin", np.argmin, [case(M34, axis=0, keepdims=True, grad=False)])


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
    fusion="elementwise",  # of no data inputs: a run-time scalar that loops recompute in place
    shape_only=(0,),
    cases=[case(M34, axis=(0,), dtype="float64", grad=False),
           case(F(()), axis=None, dtype="float64", grad=False)],
    doc="Number of elements over `axis`, known at run time (for means over the batch).",
)

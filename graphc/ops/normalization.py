"""LayerNormalization's core as one op: `layer_norm(x, epsilon)` is (x - mean) / sqrt(variance
+ epsilon) over the last axis (the biased variance), one kernel that reads each row from cache
(graphc/backends/llvm/emit_normalization.py) instead of a chain of reductions and broadcasts.
The scale and shift stay elementwise ops, which fuse into the loops that read the result.

Gradient, with y the output and inv = 1 / sqrt(variance + epsilon):
dx = inv * (g - mean(g) - y * mean(g * y)), the means over the last axis."""

from __future__ import annotations

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import call, defop, dims_like_input, require_float
from graphc.ops.cases import In, case
from graphc.ops.elementwise import const


def infer_layer_norm(inputs, *, epsilon):
    x = inputs[0]
    if x.ndim < 1:
        raise ShapeError("layer_norm needs an input of 1 or more axes, got a scalar")
    return x.shape, require_float(x.dtype)


def impl_layer_norm(x, *, epsilon):
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = (centered**2).mean(axis=-1, keepdims=True)
    return (centered / np.sqrt(variance + epsilon)).astype(x.dtype)


def vjp_layer_norm(g, node):
    x, last = node.inputs[0], (node.ndim - 1,)

    def mean(v):
        return call("mean", v, axis=last, keepdims=True)

    centered = x - mean(x)
    inv = const(1.0, x) / call("sqrt", mean(centered * centered) + const(node.attr("epsilon"), x))
    return (inv * (g - mean(g) - node * mean(g * node)),)


defop(
    "layer_norm",
    infer=infer_layer_norm,
    impl=impl_layer_norm,
    vjp=vjp_layer_norm,
    fusion="opaque",
    dims=dims_like_input(0),
    flops=lambda node, shape_of: 5 * int(np.prod(shape_of(node))),
    cases=[case(In((3, 4)), epsilon=1e-3), case(In((2, 3, 5)), epsilon=1e-5)],
    doc="(x - mean) / sqrt(variance + epsilon) over the last axis.",
)

"""LayerNormalization's core as one op: `layer_norm(x, epsilon)` is (x - mean) / sqrt(variance
+ epsilon) over the last axis (the biased variance), one kernel that reads each row from cache
(graphc/backends/llvm/emit_normalization.py) instead of a chain of reductions and broadcasts.
The scale and shift stay elementwise ops, which fuse into the loops that read the result.

Gradient, with y the output and inv = 1 / sqrt(variance + epsilon):
dx = inv * (g - mean(g) - y * mean(g * y)), the means over the last axis: the op
`layer_norm_grad(g, x, epsilon)`, one kernel that recomputes y and inv from x row by row."""

from __future__ import annotations

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import call, defop, dims_equal, dims_like_input, require_float
from graphc.ops.cases import In, case
from graphc.ops.elementwise import const


def infer_layer_norm(inputs, *, epsilon):
    x = inputs[0]
    if x.ndim < 1:
        raise ShapeError("layer_norm needs an input of 1 or more axes, got a scalar")
    return x.shape, require_float(x.dtype)


def impl_layer_norm(x, *, epsilon):
    return _standardized(x, epsilon)[0].astype(x.dtype)


def vjp_layer_norm(g, node):
    return (call("layer_norm_grad", g, node.inputs[0], epsilon=node.attr("epsilon")),)


def gradient_shape(op, g, x, what) -> tuple:
    """The shape of a row kernel's gradient op: g's and x's, which must agree where known."""
    fits = len(g.shape) == len(x.shape) and all(map(dims_equal, g.shape, x.shape))
    if not fits:
        raise ShapeError(f"{op} needs a gradient shaped like {what}, got {g.shape} and {x.shape}")
    return tuple(b if a is None else a for a, b in zip(g.shape, x.shape))


def infer_layer_norm_grad(inputs, *, epsilon):
    g, x = inputs
    shape = gradient_shape("layer_norm_grad", g, x, "its input")
    return shape, infer_layer_norm([x], epsilon=epsilon)[1]


def _standardized(x, epsilon):
    """(y, inv): x standardized over the last axis and 1 / sqrt(variance + epsilon)."""
    centered = x - x.mean(axis=-1, keepdims=True)
    inv = 1.0 / np.sqrt((centered**2).mean(axis=-1, keepdims=True) + epsilon)
    return centered * inv, inv


def impl_layer_norm_grad(g, x, *, epsilon):
    y, inv = _standardized(x, epsilon)
    mean_g, mean_gy = g.mean(axis=-1, keepdims=True), (g * y).mean(axis=-1, keepdims=True)
    return (inv * (g - mean_g - y * mean_gy)).astype(x.dtype)


def vjp_layer_norm_grad(h, node):
    """The Jacobian J of layer_norm is symmetric, so h's gradient to g is J h (layer_norm_grad
    again); to x, with the means over the last axis and node = J g:
    -inv^2 y (mean(hg) - mean(h) mean(g) - mean(hy) mean(gy)) - inv (mean(gy) J h + mean(hy) J g).
    """
    g, x = node.inputs
    last = (node.ndim - 1,)

    def mean(v):
        return call("mean", v, axis=last, keepdims=True)

    centered = x - mean(x)
    inv = const(1.0, x) / call("sqrt", mean(centered * centered) + const(node.attr("epsilon"), x))
    y = centered * inv
    jh = call("layer_norm_grad", h, x, epsilon=node.attr("epsilon"))
    mean_hy, mean_gy = mean(h * y), mean(g * y)
    spread = mean(h * g) - mean(h) * mean(g) - mean_hy * mean_gy
    return (jh, -(inv * inv * y * spread) - inv * (mean_gy * jh + mean_hy * node))


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


defop(
    "layer_norm_grad",
    infer=infer_layer_norm_grad,
    impl=impl_layer_norm_grad,
    vjp=vjp_layer_norm_grad,
    fusion="opaque",
    dims=dims_like_input(1),
    flops=lambda node, shape_of: 10 * int(np.prod(shape_of(node))),
    cases=[
        case(In((3, 4)), In((3, 4)), epsilon=1e-3),
        case(In((2, 3, 5)), In((2, 3, 5)), epsilon=1e-5),
    ],
    doc="layer_norm's gradient to its input: inv * (g - mean(g) - y * mean(g * y)).",
)

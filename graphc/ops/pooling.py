"""Max and average pooling over channels_last tensors (1-D and 2-D), with gradient ops.

Padding is explicit (before, after) pairs as in graphc.ops.conv. As in Keras (TensorFlow),
max pooling never picks a padded position and average pooling divides each window by the
number of real (unpadded) elements it covers. The max-pool gradient sends each window's
gradient to the first position holding the window's maximum (row-major order within the
window), as TensorFlow and PyTorch do, so ties never double-count.

Global pooling needs no op of its own: it is `mean`/`max` over the spatial axes.
"""

from __future__ import annotations

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import call, defop, dims_keep_batch, dims_like_input, require_float
from graphc.ops.cases import F, case
from graphc.ops.conv import (
    RANKS,
    check_geometry,
    check_input,
    check_output_grad,
    crop,
    offset_slice,
    pad_spatial,
    padded_zeros,
    spatial_output,
    windows,
)


def check_pool(rank, x_shape, pool_size, strides, padding):
    check_geometry(rank, pool_size, strides, (1,) * rank, padding)
    if any(lo >= k or hi >= k for (lo, hi), k in zip(padding, pool_size)):
        raise ShapeError(f"padding {padding} leaves a window with no input (pool {pool_size})")
    return spatial_output(x_shape, pool_size, strides, (1,) * rank, padding)


def infer_pool(rank):
    def infer(inputs, *, pool_size, strides, padding):
        x = inputs[0]
        check_input(x, rank)
        out = check_pool(rank, x.shape, pool_size, strides, padding)
        return (x.shape[0],) + out + (x.shape[-1],), require_float(x.dtype)

    return infer


def pool_windows(x, pool_size, strides, padding, fill):
    return windows(pad_spatial(x, padding, fill), pool_size, strides, (1,) * len(pool_size))


def window_axes(rank):
    return tuple(range(rank + 2, 2 * rank + 2))


def impl_max_pool(x, *, pool_size, strides, padding):
    cols = pool_windows(x, pool_size, strides, padding, -np.inf)
    return cols.max(axis=window_axes(len(pool_size)))


def window_counts(in_size, pool_size, strides, padding, dtype):
    """(1, *out, 1): how many real input elements each window covers."""
    ones = np.ones((1,) + tuple(in_size) + (1,), dtype=dtype)
    cols = pool_windows(ones, pool_size, strides, padding, 0)
    return cols.sum(axis=window_axes(len(pool_size)))


def impl_avg_pool(x, *, pool_size, strides, padding):
    cols = pool_windows(x, pool_size, strides, padding, 0)
    total = cols.sum(axis=window_axes(len(pool_size)))
    return (total / window_counts(x.shape[1:-1], pool_size, strides, padding, x.dtype)).astype(
        x.dtype, copy=False
    )


# ---- gradients -------------------------------------------------------------------------------


def infer_max_pool_grad(rank):
    def infer(inputs, *, pool_size, strides, padding):
        x, g = inputs
        shape, dtype = infer_pool(rank)((x,), pool_size=pool_size, strides=strides, padding=padding)
        check_output_grad(g, shape)
        return x.shape, dtype

    return infer


def infer_avg_pool_grad(rank):
    def infer(inputs, *, pool_size, strides, padding):
        g, like = inputs
        check_input(g, rank, "output gradient")
        check_input(like, rank, "forward input")
        x_shape = (g.shape[0],) + tuple(like.shape[1:-1]) + (g.shape[-1],)
        check_output_grad(
            g,
            (g.shape[0],) + check_pool(rank, x_shape, pool_size, strides, padding) + (g.shape[-1],),
        )
        return x_shape, require_float(g.dtype)

    return infer


def impl_max_pool_grad(x, g, *, pool_size, strides, padding):
    rank = len(pool_size)
    cols = pool_windows(x, pool_size, strides, padding, -np.inf)
    peak = cols.max(axis=window_axes(rank))
    taken = np.zeros(peak.shape, dtype=bool)  # windows whose first maximum is already found
    gx = padded_zeros(x.shape[0], x.shape[1:-1], x.shape[-1], padding, g.dtype)
    for offset in np.ndindex(*pool_size):  # row-major order within the window
        first = (cols[(Ellipsis, *offset)] == peak) & ~taken
        taken |= first
        gx[offset_slice(offset, g.shape[1:-1], strides, (1,) * rank)] += np.where(first, g, 0)
    return crop(gx, padding, x.shape[1:-1])


def impl_avg_pool_grad(g, like, *, pool_size, strides, padding):
    rank, in_size = len(pool_size), like.shape[1:-1]
    share = g / window_counts(in_size, pool_size, strides, padding, g.dtype)
    gx = padded_zeros(g.shape[0], in_size, g.shape[-1], padding, g.dtype)
    for offset in np.ndindex(*pool_size):
        gx[offset_slice(offset, g.shape[1:-1], strides, (1,) * rank)] += share
    return crop(gx, padding, in_size)


def pool_attrs(node):
    return {k: node.attr(k) for k in ("pool_size", "strides", "padding")}


def vjp_max_pool(rank):
    return lambda g, node: (call(f"max_pool{rank}d_grad", node.inputs[0], g, **pool_attrs(node)),)


def vjp_avg_pool(rank):
    def vjp(g, node):  # the forward input lends its (run-time) sizes
        return (call(f"avg_pool{rank}d_grad", g, node.inputs[0], **pool_attrs(node)),)

    return vjp


def vjp_avg_pool_grad(rank):
    # The gradient op is the adjoint of a linear map; its own adjoint is the pooling.
    return lambda gz, node: (call(f"avg_pool{rank}d", gz, **pool_attrs(node)), None)


WINDOW_1D = {"pool_size": (3,), "strides": (2,), "padding": ((1, 1),)}
MAX_WINDOW_2D = {"pool_size": (2, 2), "strides": (2, 2), "padding": ((0, 0), (0, 1))}
AVG_WINDOW_2D = {"pool_size": (3, 2), "strides": (2, 2), "padding": ((1, 1), (0, 1))}
MAX_POOL_CASES = {1: [case(F((2, 7, 3)), **WINDOW_1D)], 2: [case(F((2, 4, 5, 2)), **MAX_WINDOW_2D)]}
AVG_POOL_CASES = {1: [case(F((2, 7, 3)), **WINDOW_1D)], 2: [case(F((2, 5, 5, 2)), **AVG_WINDOW_2D)]}
MAX_POOL_GRAD_CASES = {
    1: [case(F((2, 7, 3)), F((2, 4, 3)), **WINDOW_1D, grad=False)],
    2: [case(F((2, 4, 5, 2)), F((2, 2, 3, 2)), **MAX_WINDOW_2D, grad=False)],
}
AVG_POOL_GRAD_CASES = {
    1: [case(F((2, 4, 3)), F((2, 7, 3), "like"), **WINDOW_1D)],
    2: [case(F((2, 3, 3, 2)), F((2, 5, 5, 2), "like"), **AVG_WINDOW_2D)],
}

for _r in RANKS:
    defop(
        f"max_pool{_r}d",
        infer=infer_pool(_r),
        impl=impl_max_pool,
        vjp=vjp_max_pool(_r),
        fusion="opaque",
        dims=dims_keep_batch,
        cases=MAX_POOL_CASES[_r],
        doc=f"{_r}-D max pooling (Keras MaxPooling{_r}D), explicit padding.",
    )
    defop(
        f"avg_pool{_r}d",
        infer=infer_pool(_r),
        impl=impl_avg_pool,
        vjp=vjp_avg_pool(_r),
        fusion="opaque",
        dims=dims_keep_batch,
        cases=AVG_POOL_CASES[_r],
        doc=f"{_r}-D average pooling (Keras AveragePooling{_r}D); padding is "
        "excluded from each window's count.",
    )
    defop(
        f"max_pool{_r}d_grad",
        infer=infer_max_pool_grad(_r),
        impl=impl_max_pool_grad,
        fusion="opaque",
        dims=dims_keep_batch,
        cases=MAX_POOL_GRAD_CASES[_r],
        doc="Routes each window's gradient to its first maximum. Not "
        "differentiable itself (piecewise constant routing).",
    )
    defop(
        f"avg_pool{_r}d_grad",
        infer=infer_avg_pool_grad(_r),
        impl=impl_avg_pool_grad,
        vjp=vjp_avg_pool_grad(_r),
        fusion="opaque",
        shape_only=(1,),
        dims=dims_like_input(1),
        cases=AVG_POOL_GRAD_CASES[_r],
        doc="Spreads each window's gradient evenly over its real input elements.",
    )

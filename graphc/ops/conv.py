"""Convolution, pooling and zero padding over channels_last tensors (Keras's layout).

Inputs are (batch, *spatial, channels) with one or two spatial axes; convolution weights
are (*kernel, in_channels, out_channels), exactly the Keras layout. Every op takes its
padding already resolved to explicit (before, after) pairs per spatial axis, so 'valid',
'same' and 'causal' are a front-end matter (`resolve_padding`) and the op table has one
meaning for each op. The gradient of each op is itself an op with its own NumPy
reference (`conv2d_input_grad`, `max_pool2d_grad`, ...), so a backward pass is written
in graph ops and every backend compiles it like any other kernel.

NumPy references gather windows with `sliding_window_view` (im2col as a view) and reduce
them with one `tensordot` (a GEMM) or one max/sum, so they stay fast enough to train with.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from graphc.ir import ShapeError
from graphc.ops import (
    Shaped,
    call,
    defop,
    dims_keep_batch,
    dims_like_input,
    require_float,
    same_dtype,
)
from graphc.ops.cases import F, case

RANKS = (1, 2)

# ---- shape arithmetic shared by the conv and pool ops ----------------------------------------


def output_size(size, kernel, stride, dilation, pads):
    """Keras's output length of one spatial axis: floor((n + pads - extent) / stride) + 1."""
    if size is None:
        return None
    extent = dilation * (kernel - 1) + 1
    return (size + pads[0] + pads[1] - extent) // stride + 1


def resolve_padding(padding: str, sizes, kernel, strides, dilation) -> tuple:
    """'valid' | 'same' | 'causal' as explicit (before, after) pairs per spatial axis.

    'same' follows TensorFlow: the output is ceil(n / stride) long and an odd total
    padding puts its extra element after. 'causal' (1-D only) pads only before, so
    output t never sees input t + 1.
    """
    padding = padding.lower()
    if padding == "valid":
        return tuple((0, 0) for _ in sizes)
    if padding == "causal":
        if len(sizes) != 1:
            raise ShapeError("padding='causal' is only defined for 1-D inputs")
        return ((dilation[0] * (kernel[0] - 1), 0),)
    if padding != "same":
        raise ShapeError(f"padding must be 'valid', 'same' or 'causal', got {padding!r}")
    pairs = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        if n is None and s != 1:
            raise ShapeError("padding='same' needs static spatial sizes (or strides of 1)")
        total = d * (k - 1) if n is None else max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def check_geometry(rank, kernel, strides, dilation, padding):
    for label, values in (("kernel", kernel), ("strides", strides), ("dilation", dilation)):
        if len(values) != rank or any(int(v) < 1 for v in values):
            raise ShapeError(f"{label} must be {rank} positive integers, got {values}")
    if len(padding) != rank or any(len(p) != 2 or min(p) < 0 for p in padding):
        raise ShapeError(f"padding must be {rank} (before, after) pairs >= 0, got {padding}")


def spatial_output(x_shape, kernel, strides, dilation, padding) -> tuple:
    out = tuple(
        output_size(n, k, s, d, p)
        for n, k, s, d, p in zip(x_shape[1:-1], kernel, strides, dilation, padding)
    )
    if any(o is not None and o < 1 for o in out):
        raise ShapeError(f"the window is larger than the padded input: output size {out}")
    return out


def check_input(x, rank, what="input"):
    if x.ndim != rank + 2:
        raise ShapeError(
            f"{what} must be (batch, {'length' if rank == 1 else 'height, width'}, "
            f"channels): {rank + 2}-d, got {x.ndim}-d"
        )


# ---- NumPy helpers: padding, windows, scatter of per-offset contributions --------------------


def pad_spatial(x, padding, value=0):
    if not any(lo or hi for lo, hi in padding):
        return x
    return np.pad(x, ((0, 0),) + tuple(padding) + ((0, 0),), constant_values=value)


def windows(xp, kernel, strides, dilation):
    """View (batch, *out, channels, *kernel) of every window of the padded input."""
    rank = len(kernel)
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = sliding_window_view(xp, extent, axis=tuple(range(1, rank + 1)))
    step = tuple(slice(None, None, s) for s in strides)
    dil = tuple(slice(None, None, d) for d in dilation)
    return view[(slice(None),) + step + (slice(None),) + dil]


def offset_slice(offset, out, strides, dilation):
    """Index of the input positions that kernel offset `offset` touches, one per output."""
    return (
        (slice(None),)
        + tuple(
            slice(o * d, o * d + s * (n - 1) + 1, s)
            for o, n, s, d in zip(offset, out, strides, dilation)
        )
        + (slice(None),)
    )


def crop(xp, padding, sizes):
    return xp[(slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, sizes))]


def padded_zeros(batch, sizes, channels, padding, dtype):
    shape = (batch,) + tuple(n + lo + hi for n, (lo, hi) in zip(sizes, padding)) + (channels,)
    return np.zeros(shape, dtype=dtype)


# ---- convolution: forward, input gradient, weight gradient -----------------------------------


def infer_conv(rank):
    def infer(inputs, *, strides, dilation, padding):
        x, w = inputs
        dtype = require_float(same_dtype(inputs))
        check_input(x, rank)
        if w.ndim != rank + 2:
            raise ShapeError(
                f"kernel must be (*kernel_size, in_channels, filters): {rank + 2}-d, got {w.ndim}-d"
            )
        kernel = w.shape[:rank]
        if None in kernel:
            raise ShapeError("the kernel needs a static shape")
        check_geometry(rank, kernel, strides, dilation, padding)
        if x.shape[-1] is not None and w.shape[-2] is not None and x.shape[-1] != w.shape[-2]:
            raise ShapeError(f"input has {x.shape[-1]} channels, the kernel expects {w.shape[-2]}")
        out = spatial_output(x.shape, kernel, strides, dilation, padding)
        return (x.shape[0],) + out + (w.shape[-1],), dtype

    return infer


def impl_conv(x, w, *, strides, dilation, padding):
    """im2col: every window as one row, ordered (*kernel, cin) like w's rows; one GEMM."""
    rank = w.ndim - 2
    cols = windows(pad_spatial(x, padding), w.shape[:rank], strides, dilation)
    rows = np.moveaxis(cols, rank + 1, -1).reshape(-1, w[..., 0].size)  # copies: the im2col
    return (rows @ w.reshape(-1, w.shape[-1])).reshape(cols.shape[: rank + 1] + (w.shape[-1],))


def infer_conv_input_grad(rank):
    def infer(inputs, *, strides, dilation, padding):
        g, w, like = inputs
        dtype = require_float(same_dtype(inputs[:2]))
        check_input(g, rank, "output gradient")
        check_input(like, rank, "forward input")
        x_shape = (g.shape[0],) + tuple(like.shape[1:-1]) + (w.shape[-2],)
        _, _ = infer_conv(rank)(
            (Shaped(x_shape, dtype), w), strides=strides, dilation=dilation, padding=padding
        )
        expect_output(g, x_shape, w.shape[:rank], strides, dilation, padding)
        return x_shape, dtype

    return infer


def impl_conv_input_grad(g, w, like, *, strides, dilation, padding):
    """Transposed convolution: each kernel offset scatters g @ w[offset].T into the input
    (whose sizes `like`, the forward input, lends)."""
    rank = w.ndim - 2
    out, in_size = g.shape[1:-1], like.shape[1:-1]
    gx = padded_zeros(g.shape[0], in_size, w.shape[-2], padding, g.dtype)
    for offset in np.ndindex(*w.shape[:rank]):
        gx[offset_slice(offset, out, strides, dilation)] += g @ w[offset].T
    return crop(gx, padding, in_size)


def infer_conv_weight_grad(rank):
    def infer(inputs, *, kernel_size, strides, dilation, padding):
        x, g = inputs
        dtype = require_float(same_dtype(inputs))
        check_input(x, rank)
        check_input(g, rank, "output gradient")
        check_geometry(rank, kernel_size, strides, dilation, padding)
        expect_output(g, x.shape, kernel_size, strides, dilation, padding)
        return tuple(kernel_size) + (x.shape[-1], g.shape[-1]), dtype

    return infer


def impl_conv_weight_grad(x, g, *, kernel_size, strides, dilation, padding):
    """One (cin x cout) GEMM per kernel offset over the input positions that offset touches."""
    xp = pad_spatial(x, padding)
    g_rows = g.reshape(-1, g.shape[-1])
    gw = np.empty(tuple(kernel_size) + (x.shape[-1], g.shape[-1]), dtype=x.dtype)
    for offset in np.ndindex(*kernel_size):
        touched = xp[offset_slice(offset, g.shape[1:-1], strides, dilation)]
        gw[offset] = touched.reshape(-1, x.shape[-1]).T @ g_rows
    return gw


def expect_output(g, x_shape, kernel, strides, dilation, padding):
    out = spatial_output(x_shape, kernel, strides, dilation, padding)
    check_output_grad(g, (g.shape[0],) + out + (g.shape[-1],))


def check_output_grad(g, expected):
    """A gradient op's output gradient must have the forward op's output shape."""
    if g.ndim != len(expected) or any(
        a is not None and b is not None and a != b for a, b in zip(g.shape, expected)
    ):
        raise ShapeError(f"output gradient has shape {g.shape}, the forward op produces {expected}")


def conv_attrs(node):
    return {k: node.attr(k) for k in ("strides", "dilation", "padding")}


def vjp_conv(rank):
    def vjp(g, node):
        x, w = node.inputs
        attrs = conv_attrs(node)
        return (
            call(f"conv{rank}d_input_grad", g, w, x, **attrs),
            call(f"conv{rank}d_weight_grad", x, g, kernel_size=w.shape[:rank], **attrs),
        )

    return vjp


def vjp_conv_input_grad(rank):
    # z = A_w^T g is bilinear: its adjoint in g is the convolution, in w a weight gradient.
    def vjp(gz, node):
        g, w, _ = node.inputs
        attrs = conv_attrs(node)
        return (
            call(f"conv{rank}d", gz, w, **attrs),
            call(f"conv{rank}d_weight_grad", gz, g, kernel_size=w.shape[:rank], **attrs),
            None,
        )

    return vjp


def vjp_conv_weight_grad(rank):
    def vjp(gz, node):
        x, g = node.inputs
        attrs = conv_attrs(node)
        return (
            call(f"conv{rank}d_input_grad", g, gz, x, **attrs),
            call(f"conv{rank}d", x, gz, **attrs),
        )

    return vjp


def flops_conv(node, shape_of) -> int:
    """A GEMM per output element over the kernel window: 2 * outputs * (*kernel, cin)."""
    return 2 * math.prod(shape_of(node)) * math.prod(shape_of(node.inputs[1])[:-1])


def flops_conv_input_grad(node, shape_of) -> int:
    """The transposed GEMM: 2 * output-gradient elements * (*kernel, cin)."""
    return 2 * math.prod(shape_of(node.inputs[0])) * math.prod(shape_of(node.inputs[1])[:-1])


SAME33 = {"padding": ((1, 1), (1, 1))}  # "same" for a 3x3 window
PAD_LR = {"padding": ((1, 0), (0, 1))}
GEOMETRY_1D = {"strides": (2,), "dilation": (2,), "padding": ((2, 0),)}
GEOMETRY_2D = {"strides": (2, 1), "dilation": (1, 2), **PAD_LR}
UNIT_2D = {"strides": (1, 1), "dilation": (1, 1), **SAME33}
CONV_CASES = {
    1: [
        case(F((2, 6, 3)), F((3, 3, 4)), strides=(1,), dilation=(1,), padding=((0, 0),)),
        case(F((2, 7, 2)), F((2, 2, 3)), **GEOMETRY_1D),
    ],
    2: [case(F((2, 5, 4, 2)), F((3, 3, 2, 3)), **UNIT_2D),
        case(F((2, 6, 5, 2)), F((2, 2, 2, 2)), **GEOMETRY_2D)],
}
INPUT_GRAD_CASES = {
    1: [case(F((2, 4, 3)), F((2, 2, 3)), F((2, 7, 2), "like"), **GEOMETRY_1D)],
    2: [case(F((2, 3, 4, 2)), F((2, 2, 2, 2)), F((2, 6, 5, 2), "like"), **GEOMETRY_2D)],
}
WEIGHT_GRAD_CASES = {
    1: [case(F((2, 7, 2)), F((2, 4, 3)), kernel_size=(2,), **GEOMETRY_1D)],
    2: [case(F((2, 5, 4, 2)), F((2, 5, 4, 3)), kernel_size=(3, 3), **UNIT_2D)],
}

for _r in RANKS:
    defop(
        f"conv{_r}d",
        infer=infer_conv(_r),
        impl=impl_conv,
        vjp=vjp_conv(_r),
        fusion="dense",
        dims=dims_keep_batch,
        flops=flops_conv,
        cases=CONV_CASES[_r],
        doc=f"{_r}-D cross-correlation (as Keras Conv{_r}D), channels_last, explicit padding.",
    )
    defop(
        f"conv{_r}d_input_grad",
        infer=infer_conv_input_grad(_r),
        impl=impl_conv_input_grad,
        vjp=vjp_conv_input_grad(_r),
        fusion="opaque",
        shape_only=(2,),
        dims=dims_like_input(2),
        flops=flops_conv_input_grad,
        cases=INPUT_GRAD_CASES[_r],
        doc=f"Gradient of conv{_r}d with respect to its input (a transposed convolution).",
    )
    defop(
        f"conv{_r}d_weight_grad",
        infer=infer_conv_weight_grad(_r),
        impl=impl_conv_weight_grad,
        vjp=vjp_conv_weight_grad(_r),
        fusion="opaque",
        flops=flops_conv,
        cases=WEIGHT_GRAD_CASES[_r],
        doc=f"Gradient of conv{_r}d with respect to its kernel.",
    )

# ---- zero padding --------------------------------------------------------------------------


def infer_pad(inputs, *, padding):
    x = inputs[0]
    if x.ndim < 2 or len(padding) != x.ndim - 2 or any(min(p) < 0 for p in padding):
        raise ShapeError(
            f"padding must be one (before, after) pair >= 0 per spatial axis "
            f"of a (batch, *spatial, channels) input, got {padding}"
        )
    spatial = tuple(
        None if n is None else n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], padding)
    )
    return (x.shape[0],) + spatial + (x.shape[-1],), x.dtype


def vjp_pad(g, node):
    x = node.inputs[0]
    index = (("slice", None, None, None),) + tuple(
        ("slice", lo, lo + n, None) for (lo, _), n in zip(node.attr("padding"), x.shape[1:-1])
    )
    return (call("getitem", g, index=index),)


defop(
    "pad",
    infer=infer_pad,
    impl=lambda x, *, padding: pad_spatial(x, padding),
    vjp=vjp_pad,
    fusion="opaque",
    dims=dims_keep_batch,
    cases=[case(F((2, 3, 2)), padding=((1, 2),)),
           case(F((1, 2, 3, 2)), padding=((0, 1), (2, 1)))],
    doc="Zero padding of the spatial axes of a channels_last tensor.",
)

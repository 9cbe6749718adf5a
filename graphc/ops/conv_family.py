"""Transposed and depthwise convolutions (Keras Conv*DTranspose, DepthwiseConv*D).

`conv{r}d_transpose(x, w)` is the input gradient of a forward convolution whose input has the
transposed convolution's output size: the same arithmetic as `conv{r}d_input_grad`, but the
output size comes from attributes (`output_padding` zeros past the last window, as PyTorch's
ConvTranspose) instead of a shape-only third input, so a layer needs no tensor of the output's
shape. The weights are (*kernel, filters, in_channels), the Keras Conv*DTranspose layout.
Its gradients are the forward convolution (in x) and the convolution weight gradient (in w).

`depthwise_conv{r}d` convolves each channel with its own `multiplier` filters; its gradients
are ops of their own as the convolution's are (input gradient, weight gradient), each a direct
loop over windows (NumPy: one einsum per kernel offset).
"""

from __future__ import annotations

import math

import numpy as np

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
from graphc.ops.conv import (
    RANKS,
    check_geometry,
    check_input,
    check_output_grad,
    conv_attrs,
    crop,
    flops_conv_input_grad,
    impl_conv_input_grad,
    offset_slice,
    pad_spatial,
    padded_zeros,
    spatial_output,
    windows,
)


def transpose_output_size(size, kernel, stride, dilation, pads, extra):
    """(n - 1) * stride + extent - pads + extra: the length whose forward convolution is n."""
    if size is None:
        return None
    return (size - 1) * stride + dilation * (kernel - 1) + 1 - pads[0] - pads[1] + extra


def infer_conv_transpose(rank):
    def infer(inputs, *, strides, dilation, padding, output_padding):
        x, w = inputs
        dtype = require_float(same_dtype(inputs))
        check_input(x, rank)
        if w.ndim != rank + 2 or None in w.shape[:rank]:
            raise ShapeError(
                f"kernel must be (*kernel_size, filters, in_channels) with a static shape: "
                f"{rank + 2}-d, got {w.shape}"
            )
        check_geometry(rank, w.shape[:rank], strides, dilation, padding)
        if len(output_padding) != rank or any(not 0 <= e < s for e, s in
                                              zip(output_padding, strides)):
            raise ShapeError(f"output_padding must be {rank} ints in [0, stride), got "
                             f"{output_padding} with strides {strides}")
        if x.shape[-1] is not None and w.shape[-1] is not None and x.shape[-1] != w.shape[-1]:
            raise ShapeError(f"input has {x.shape[-1]} channels, the kernel expects {w.shape[-1]}")
        out = transpose_output_size_all(x.shape, w.shape[:rank], strides, dilation, padding,
                                        output_padding)
        if any(o is not None and o < 1 for o in out):
            raise ShapeError(f"the padding leaves no output: output size {out}")
        y_shape = (x.shape[0],) + out + (w.shape[-2],)
        if None not in out and spatial_output(y_shape, w.shape[:rank], strides, dilation,
                                              padding) != tuple(x.shape[1:-1]):
            raise ShapeError(f"padding {padding} does not invert a convolution to size {out}")
        return y_shape, dtype

    return infer


def impl_conv_transpose(x, w, *, strides, dilation, padding, output_padding):
    rank = w.ndim - 2
    out = transpose_output_size_all(x.shape, w.shape[:rank], strides, dilation, padding,
                                    output_padding)
    like = Shaped((x.shape[0],) + out + (w.shape[-2],))
    return impl_conv_input_grad(x, w, like, strides=strides, dilation=dilation, padding=padding)


def transpose_output_size_all(x_shape, kernel, strides, dilation, padding, output_padding):
    return tuple(
        transpose_output_size(n, k, s, d, p, e)
        for n, k, s, d, p, e in zip(x_shape[1:-1], kernel, strides, dilation, padding,
                                    output_padding))


def vjp_conv_transpose(rank):
    # y = A_w^T x: its adjoint in x is the forward convolution, in w the weight gradient.
    def vjp(gy, node):
        x, w = node.inputs
        attrs = conv_attrs(node)
        return (
            call(f"conv{rank}d", gy, w, **attrs),
            call(f"conv{rank}d_weight_grad", gy, x, kernel_size=w.shape[:rank], **attrs),
        )

    return vjp


TRANSPOSE_CASES = {
    1: [case(F((2, 4, 3)), F((3, 2, 3)), strides=(2,), dilation=(1,), padding=((1, 0),),
             output_padding=(1,)),
        case(F((1, 5, 2)), F((2, 3, 2)), strides=(1,), dilation=(2,), padding=((0, 0),),
             output_padding=(0,))],
    2: [case(F((2, 3, 4, 2)), F((3, 2, 3, 2)), strides=(2, 1), dilation=(1, 1),
             padding=((1, 1), (0, 1)), output_padding=(1, 0)),
        case(F((1, 3, 3, 1)), F((2, 2, 2, 1)), strides=(1, 2), dilation=(2, 1),
             padding=((0, 0), (0, 0)), output_padding=(0, 1))],
}

for _r in RANKS:
    defop(
        f"conv{_r}d_transpose",
        infer=infer_conv_transpose(_r),
        impl=impl_conv_transpose,
        vjp=vjp_conv_transpose(_r),
        fusion="opaque",
        dims=dims_keep_batch,
        flops=flops_conv_input_grad,
        cases=TRANSPOSE_CASES[_r],
        doc=f"{_r}-D transposed convolution (as Keras Conv{_r}DTranspose), channels_last.",
    )


def flops_depthwise(node, shape_of) -> int:
    """A multiply-add per output element and kernel offset."""
    rank = len(shape_of(node)) - 2
    return 2 * math.prod(shape_of(node)) * math.prod(shape_of(node.inputs[1])[:rank])


def flops_depthwise_grad(node, shape_of) -> int:
    """As the forward op: a multiply-add per output-gradient element and kernel offset."""
    g = node.inputs[0] if node.op.endswith("input_grad") else node.inputs[1]
    taps = node.attr("kernel_size") or shape_of(node.inputs[1])[:len(shape_of(g)) - 2]
    return 2 * math.prod(shape_of(g)) * math.prod(taps)


# ---- depthwise convolution: forward, input gradient, weight gradient -------------------------
# The kernel is (*kernel, channels, multiplier); output channel c * multiplier + m is input
# channel c convolved with kernel[..., c, m] (Keras's DepthwiseConv order).

SPATIAL, TAPS = "hw", "ij"  # einsum letters of the output positions and the kernel offsets


def infer_depthwise(rank):
    def infer(inputs, *, strides, dilation, padding):
        x, w = inputs
        dtype = require_float(same_dtype(inputs))
        check_input(x, rank)
        if w.ndim != rank + 2 or None in w.shape:
            raise ShapeError(f"kernel must be (*kernel_size, channels, depth_multiplier) with a "
                             f"static shape: {rank + 2}-d, got {w.shape}")
        check_geometry(rank, w.shape[:rank], strides, dilation, padding)
        if x.shape[-1] != w.shape[-2]:
            raise ShapeError(f"input has {x.shape[-1]} channels, the kernel expects {w.shape[-2]}")
        out = spatial_output(x.shape, w.shape[:rank], strides, dilation, padding)
        return (x.shape[0],) + out + (w.shape[-2] * w.shape[-1],), dtype

    return infer


def impl_depthwise(x, w, *, strides, dilation, padding):
    rank = w.ndim - 2
    cols = windows(pad_spatial(x, padding), w.shape[:rank], strides, dilation)
    o, k = SPATIAL[:rank], TAPS[:rank]
    out = np.einsum(f"b{o}c{k},{k}cm->b{o}cm", cols, w)
    return out.reshape(out.shape[:-2] + (-1,))


def infer_depthwise_input_grad(rank):
    def infer(inputs, *, strides, dilation, padding):
        g, w, like = inputs
        check_input(like, rank, "forward input")
        x_shape = (g.shape[0],) + tuple(like.shape[1:-1]) + (w.shape[-2],)
        expected, dtype = infer_depthwise(rank)(
            (Shaped(x_shape, g.dtype), w), strides=strides, dilation=dilation, padding=padding)
        check_output_grad(g, expected)
        return x_shape, dtype

    return infer


def impl_depthwise_input_grad(g, w, like, *, strides, dilation, padding):
    """Each kernel offset scatters g[..., c, m] * w[offset, c, m] (summed over m) back."""
    rank = w.ndim - 2
    out, in_size = g.shape[1:-1], like.shape[1:-1]
    per_channel = g.reshape(g.shape[:-1] + w.shape[-2:])
    gx = padded_zeros(g.shape[0], in_size, w.shape[-2], padding, g.dtype)
    for offset in np.ndindex(*w.shape[:rank]):
        gx[offset_slice(offset, out, strides, dilation)] += (per_channel * w[offset]).sum(-1)
    return crop(gx, padding, in_size)


def infer_depthwise_weight_grad(rank):
    def infer(inputs, *, kernel_size, strides, dilation, padding):
        x, g = inputs
        check_input(g, rank, "output gradient")
        channels = x.shape[-1]
        if channels is None or g.shape[-1] is None or g.shape[-1] % channels:
            raise ShapeError(f"output gradient channels {g.shape[-1]} are not a multiple of the "
                             f"input's {channels}")
        w_shape = tuple(kernel_size) + (channels, g.shape[-1] // channels)
        expected, dtype = infer_depthwise(rank)(
            (x, Shaped(w_shape, x.dtype)), strides=strides, dilation=dilation, padding=padding)
        check_output_grad(g, expected)
        return w_shape, dtype

    return infer


def impl_depthwise_weight_grad(x, g, *, kernel_size, strides, dilation, padding):
    xp = pad_spatial(x, padding)
    per_channel = g.reshape(g.shape[:-1] + (x.shape[-1], -1))
    gw = np.empty(tuple(kernel_size) + per_channel.shape[-2:], dtype=x.dtype)
    for offset in np.ndindex(*kernel_size):
        touched = xp[offset_slice(offset, g.shape[1:-1], strides, dilation)]
        gw[offset] = np.einsum("pc,pcm->cm", touched.reshape(-1, x.shape[-1]),
                               per_channel.reshape((-1,) + per_channel.shape[-2:]))
    return gw


def vjp_depthwise(rank):
    def vjp(g, node):
        x, w = node.inputs
        attrs = conv_attrs(node)
        return (call(f"depthwise_conv{rank}d_input_grad", g, w, x, **attrs),
                call(f"depthwise_conv{rank}d_weight_grad", x, g, kernel_size=w.shape[:rank],
                     **attrs))

    return vjp


def vjp_depthwise_input_grad(rank):
    # bilinear in (g, w): the adjoints are the forward op and the weight gradient
    def vjp(gz, node):
        g, w, _ = node.inputs
        attrs = conv_attrs(node)
        return (call(f"depthwise_conv{rank}d", gz, w, **attrs),
                call(f"depthwise_conv{rank}d_weight_grad", gz, g, kernel_size=w.shape[:rank],
                     **attrs),
                None)

    return vjp


def vjp_depthwise_weight_grad(rank):
    def vjp(gz, node):
        x, g = node.inputs
        attrs = conv_attrs(node)
        return (call(f"depthwise_conv{rank}d_input_grad", g, gz, x, **attrs),
                call(f"depthwise_conv{rank}d", x, gz, **attrs))

    return vjp


DEPTHWISE_CASES = {
    1: [case(F((2, 7, 3)), F((3, 3, 2)), strides=(2,), dilation=(1,), padding=((1, 1),)),
        case(F((1, 5, 2)), F((2, 2, 1)), strides=(1,), dilation=(2,), padding=((0, 0),))],
    2: [case(F((2, 5, 4, 2)), F((3, 2, 2, 2)), strides=(1, 2), dilation=(1, 1),
             padding=((1, 1), (0, 1))),
        case(F((1, 6, 5, 3)), F((2, 2, 3, 1)), strides=(2, 1), dilation=(1, 2),
             padding=((0, 0), (1, 0)))],
}
DEPTHWISE_INPUT_GRAD_CASES = {
    1: [case(F((2, 4, 6)), F((3, 3, 2)), F((2, 7, 3), "like"), strides=(2,), dilation=(1,),
             padding=((1, 1),))],
    2: [case(F((2, 5, 2, 4)), F((3, 2, 2, 2)), F((2, 5, 4, 2), "like"), strides=(1, 2),
             dilation=(1, 1), padding=((1, 1), (0, 1)))],
}
DEPTHWISE_WEIGHT_GRAD_CASES = {
    1: [case(F((2, 7, 3)), F((2, 4, 6)), kernel_size=(3,), strides=(2,), dilation=(1,),
             padding=((1, 1),))],
    2: [case(F((2, 5, 4, 2)), F((2, 5, 2, 4)), kernel_size=(3, 2), strides=(1, 2),
             dilation=(1, 1), padding=((1, 1), (0, 1)))],
}

for _r in RANKS:
    defop(f"depthwise_conv{_r}d", infer=infer_depthwise(_r), impl=impl_depthwise,
          vjp=vjp_depthwise(_r), fusion="opaque", dims=dims_keep_batch, flops=flops_depthwise,
          cases=DEPTHWISE_CASES[_r],
          doc=f"{_r}-D depthwise convolution (as Keras DepthwiseConv{_r}D), channels_last.")
    defop(f"depthwise_conv{_r}d_input_grad", infer=infer_depthwise_input_grad(_r),
          impl=impl_depthwise_input_grad, vjp=vjp_depthwise_input_grad(_r), fusion="opaque",
          shape_only=(2,), dims=dims_like_input(2), flops=flops_depthwise_grad,
          cases=DEPTHWISE_INPUT_GRAD_CASES[_r],
          doc=f"Gradient of depthwise_conv{_r}d with respect to its input.")
    defop(f"depthwise_conv{_r}d_weight_grad", infer=infer_depthwise_weight_grad(_r),
          impl=impl_depthwise_weight_grad, vjp=vjp_depthwise_weight_grad(_r), fusion="opaque",
          flops=flops_depthwise_grad, cases=DEPTHWISE_WEIGHT_GRAD_CASES[_r],
          doc=f"Gradient of depthwise_conv{_r}d with respect to its kernel.")

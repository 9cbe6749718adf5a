"""Transposed convolution (Keras Conv1DTranspose/Conv2DTranspose) as an op of its own.

`conv{r}d_transpose(x, w)` is the input gradient of a forward convolution whose input has the
transposed convolution's output size: the same arithmetic as `conv{r}d_input_grad`, but the
output size comes from attributes (`output_padding` zeros past the last window, as PyTorch's
ConvTranspose) instead of a shape-only third input, so a layer needs no tensor of the output's
shape. The weights are (*kernel, filters, in_channels), the Keras Conv*DTranspose layout.
Its gradients are the forward convolution (in x) and the convolution weight gradient (in w).
"""

from __future__ import annotations

from graphc.ir import ShapeError
from graphc.ops import Shaped, call, defop, dims_keep_batch, require_float, same_dtype
from graphc.ops.cases import F, case
from graphc.ops.conv import (
    RANKS,
    check_geometry,
    check_input,
    conv_attrs,
    flops_conv_input_grad,
    impl_conv_input_grad,
    spatial_output,
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

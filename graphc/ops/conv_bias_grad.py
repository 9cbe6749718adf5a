"""conv1d/conv2d_weight_bias_grad: a convolution's kernel gradient and its bias gradient in one
op, so one kernel reads the output gradient once for both (the LLVM backend's 'expanded' stage
makes it: graphc/backends/llvm/bias_grad_fusion.py).

    out[:K]  = conv{r}d_weight_grad(x, g), its (*kernel_size, cin) axes flattened into K rows
    out[K]   = g summed over every axis but the channels (the bias gradient)

The result is (K + 1, cout); views of it (reshape, getitem) give the two gradients.
conv{r}d_relu_weight_bias_grad(x, y, g) is the same of where(y > 0, g, 0): the ReLU's mask
(y its output) applied as g is read, when nothing else reads the masked gradient.
"""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import call, defop, make_node
from graphc.ops.cases import F, In, case
from graphc.ops.conv import (
    flops_conv,
    impl_conv_weight_grad,
    infer_conv_weight_grad,
    vjp_conv_weight_grad,
)
from graphc.ops.leaves import constant_node


def infer_weight_bias_grad(rank):
    weight_grad = infer_conv_weight_grad(rank)

    def infer(inputs, **attrs):
        kernel, dtype = weight_grad(inputs, **attrs)
        return (math.prod(kernel[:-1]) + 1, kernel[-1]), dtype

    return infer


def impl_weight_bias_grad(x, g, **attrs):
    weight = impl_conv_weight_grad(x, g, **attrs)
    bias = g.reshape(-1, g.shape[-1]).sum(axis=0, dtype=g.dtype)
    return np.concatenate([weight.reshape(-1, g.shape[-1]), bias[None]], axis=0)


def vjp_weight_bias_grad(rank):
    """The weight gradient's adjoint for rows :K; row K adds to every pixel of g."""
    weight_grad = vjp_conv_weight_grad(rank)

    def vjp(gz, node):
        rows, kernel = node.shape[0] - 1, tuple(node.attr("kernel_size"))
        gw = call("reshape", call("getitem", gz, index=(("slice", 0, rows, 1),)),
                  shape=kernel + (node.inputs[0].shape[-1], node.shape[-1]))
        gx, gg = weight_grad(gw, node)
        gb = call("getitem", gz, index=(("int", rows),))
        return gx, call("add", gg, gb)

    return vjp


def infer_relu_weight_bias_grad(rank):
    unmasked = infer_weight_bias_grad(rank)

    def infer(inputs, **attrs):
        x, y, g = inputs
        if y.shape != g.shape:
            raise ShapeError(f"ReLU output {y.shape} and output gradient {g.shape} differ")
        return unmasked((x, g), **attrs)

    return infer


def impl_relu_weight_bias_grad(x, y, g, **attrs):
    return impl_weight_bias_grad(x, np.where(y > 0, g, np.zeros((), g.dtype)), **attrs)


def vjp_relu_weight_bias_grad(rank):
    """The unmasked rule on the masked g, its g part masked again (none for y: a step)."""
    unmasked = vjp_weight_bias_grad(rank)

    def vjp(gz, node):
        x, y, g = node.inputs
        positive = call("greater", y, constant_node(0, y.dtype))
        masked = call("where", positive, g, constant_node(0, g.dtype))
        inner = make_node(f"conv{rank}d_weight_bias_grad", (x, masked), node.attr_dict)
        gx, gg = unmasked(gz, inner)
        return gx, None, call("where", positive, gg, constant_node(0, g.dtype))

    return vjp


CASES = {
    1: [case(F((2, 7, 2)), F((2, 5, 3)), kernel_size=(3,), strides=(1,), dilation=(1,),
             padding=((0, 0),))],
    2: [case(F((2, 5, 4, 2)), F((2, 3, 2, 3)), kernel_size=(3, 3), strides=(1, 1),
             dilation=(1, 1), padding=((0, 0), (0, 0)))],
}

for _r in (1, 2):
    defop(
        f"conv{_r}d_weight_bias_grad",
        infer=infer_weight_bias_grad(_r),
        impl=impl_weight_bias_grad,
        vjp=vjp_weight_bias_grad(_r),
        fusion="opaque",
        flops=flops_conv,
        cases=CASES[_r],
        doc=f"conv{_r}d_weight_grad's rows, then the bias gradient (g summed but for channels).",
    )

RELU_CASES = {
    1: [case(F((2, 7, 2)), In((2, 5, 3), "away"), F((2, 5, 3)), kernel_size=(3,), strides=(1,),
             dilation=(1,), padding=((0, 0),))],
    2: [case(F((2, 5, 4, 2)), In((2, 3, 2, 3), "away"), F((2, 3, 2, 3)), kernel_size=(3, 3),
             strides=(1, 1), dilation=(1, 1), padding=((0, 0), (0, 0)))],
}

for _r in (1, 2):
    defop(
        f"conv{_r}d_relu_weight_bias_grad",
        infer=infer_relu_weight_bias_grad(_r),
        impl=impl_relu_weight_bias_grad,
        vjp=vjp_relu_weight_bias_grad(_r),
        fusion="opaque",
        flops=flops_conv,
        cases=RELU_CASES[_r],
        doc=f"conv{_r}d_weight_bias_grad of where(y > 0, g, 0) (y: a ReLU's output).",
    )

"""int8 EinsumDense (Keras 3's `EinsumDense.quantize("int8")`), so MultiHeadAttention's query,
key, value and output projections run as int8 GEMMs.

The scheme is Keras 3's: the kernel quantized symmetrically per output channel (abs-max over
the axes the equation contracts, one scale per position of the kernel's other axes), the input
quantized on the fly per row (abs-max over the contracted axes, or a static scale from
`calibrate`). It runs as one gc.quantized_matmul: the input's contracted axes moved last and
merged into K, the kernel's other axes merged into N, the result split and ordered as the
equation's output, then bias and activation as in the float layer (so every step is the one
rounding graphc.ops.quant defines; Keras divides by the product of the scales, graphc multiplies
by their reciprocals, which may differ in the last bit).

A quantized EinsumDense holds `kernel` (int8, packed for the K x N matrix as graphc.ops.quant
packs it), `kernel_scale` (float32 [N], N in the order of the kernel's output axes) and its
bias. An equation with an axis shared by the input, the kernel and the output (a batched
kernel) has no int8 path and stays float32.
In MultiHeadAttention only the four projections hold weights: the scores q k^T, the softmax and
the weighted sum of values stay float32, and model.quantize's warning says so.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

import numpy as np

import graphc as gc
from frontend.layers.tensor import current_context
from frontend.layers.weight_options import add_weight_with_options
from frontend.quantizers import int8
from graphc.ops import quant

_ELLIPSIS = string.digits  # stand-ins for the axes "..." covers (never an equation letter)


@dataclass(frozen=True)
class Int8Plan:
    """How an EinsumDense's equation maps onto one [rows, K] x [K, N] product."""
    input_order: tuple  # input axes permuted to (free..., contracted...)
    kernel_order: tuple  # kernel axes permuted to (contracted..., output...)
    contracted: int  # how many input axes are contracted (merged into K)
    kernel_dims: tuple  # the sizes of the kernel's output axes (split from N)
    output_order: tuple | None  # (input free + kernel output) axes -> the output's order


def specs(layer, input_rank: int) -> tuple:
    """(input, kernel, output) index strings with any '...' spelled out."""
    (in_spec, w_spec, out_spec), elided_side = layer._specs(layer.equation)
    fill = _ELLIPSIS[: input_rank - len(in_spec)]
    if elided_side == "left":
        return fill + in_spec, w_spec, fill + out_spec
    return in_spec + fill, w_spec, out_spec + fill


def input_rank(layer) -> int:
    """The rank of a built layer's input, read off its full output shape."""
    (in_spec, _, out_spec), _ = layer._specs(layer.equation)
    return len(layer.full_output_shape) - len(out_spec) + len(in_spec)


def plan_for(layer, input_rank: int, kernel_shape: tuple) -> Int8Plan:
    """The layer's product as one matrix product, or NotImplementedError naming why not."""
    in_spec, w_spec, out_spec = specs(layer, input_rank)
    shared = [c for c in in_spec if c in w_spec and c in out_spec]
    summed = [c for c in in_spec if c not in w_spec and c not in out_spec]
    if shared or summed:
        why = (f"axis {shared[0]!r} is in the input, the kernel and the output (a batched "
               f"kernel)" if shared else f"input axis {summed[0]!r} is summed alone")
        raise NotImplementedError(f"{int8.what(layer)}: equation {layer.equation!r} has no "
                                  f"int8 path: {why}")
    contracted = [c for c in in_spec if c in w_spec]
    free = [c for c in in_spec if c not in w_spec]
    outputs = [c for c in out_spec if c in w_spec]
    natural = free + outputs
    return Int8Plan(
        input_order=tuple(in_spec.index(c) for c in free + contracted),
        kernel_order=tuple(w_spec.index(c) for c in contracted + outputs),
        contracted=len(contracted),
        kernel_dims=tuple(kernel_shape[w_spec.index(c)] for c in outputs),
        output_order=None if natural == list(out_spec) else tuple(
            natural.index(c) for c in out_spec),
    )


def kernel_matrix_shape(plan: Int8Plan, kernel_shape: tuple) -> tuple:
    """(K, N) of the plan's matrix product."""
    n = math.prod(plan.kernel_dims)
    return math.prod(kernel_shape) // max(n, 1), n


def kernel_matrix(plan: Int8Plan, w: np.ndarray) -> np.ndarray:
    """The float kernel as the plan's [K, N] matrix."""
    return np.transpose(w, plan.kernel_order).reshape(kernel_matrix_shape(plan, w.shape))


def build_int8(layer, kernel_shape: tuple, bias_shape) -> None:
    """The int8 weights (placeholders until quantize or load fills them): bias, then the packed
    kernel and kernel_scale; the layer keeps its plan for calls."""
    layer._int8_plan = plan_for(layer, input_rank(layer), tuple(kernel_shape))
    layer.kernel_shape = tuple(kernel_shape)
    layer.bias = (None if bias_shape is None
                  else add_weight_with_options(layer, bias_shape, "bias"))
    k, n = kernel_matrix_shape(layer._int8_plan, kernel_shape)
    layer.kernel = layer.add_weight(quant.packed_shape(k, n), "zeros", dtype="int8",
                                    trainable=False, name="kernel")
    layer.kernel_scale = layer.add_weight((n,), "ones", trainable=False, name="kernel_scale")


def check_quantizable(layer, mode) -> Int8Plan:
    """The layer's plan, after the checks Keras and graphc's Dense make."""
    int8.check_mode(f"{int8.what(layer)}.quantize", mode)
    int8.check_state(layer)
    shape = tuple(layer.kernel.shape)
    plan = plan_for(layer, input_rank(layer), shape)
    k = kernel_matrix_shape(plan, shape)[0]
    if k < int8.MIN_ROWS:
        raise NotImplementedError(f"{int8.what(layer)}: it contracts {k} values per output "
                                  f"(< {int8.MIN_ROWS}), faster in float32")
    return plan


def quantize_einsum(layer, mode, base: type) -> None:
    """Replace a built float EinsumDense's kernel by its int8 quantization, in place."""
    if type(layer).call is not base.call:
        raise NotImplementedError(
            f"Layer {type(layer).__name__} does not have a `quantize()` method implemented.")
    plan = check_quantizable(layer, mode)
    w = layer.kernel.get_value()
    bias = None if layer.bias is None else layer.bias.get_value()
    layer._trainable_weights, layer._non_trainable_weights = [], []
    layer._weight_info.clear()
    build_int8(layer, w.shape, None if bias is None else bias.shape)
    w_q, scale = quant.quantize_kernel(kernel_matrix(plan, w))
    layer.kernel.set_value(quant.pack_weights(w_q))
    layer.kernel_scale.set_value(scale)
    if bias is not None:
        layer.bias.set_value(bias)
    layer.quantization = {"mode": "int8", "input_scale": None}


def einsum_call(layer, inputs, training=False):
    """activation(einsum(equation, inputs, kernel) + bias) on the int8 kernel."""
    plan = layer._int8_plan
    ctx = current_context()
    training = training or bool(ctx and ctx.training)

    def product(x, kernel, scale, bias, activation, input_scale):
        if plan.input_order != tuple(range(x.ndim)):
            x = gc.transpose(x, plan.input_order)
        free = x.shape[: x.ndim - plan.contracted]
        if plan.contracted != 1:
            x = gc.reshape(x, free + (math.prod(x.shape[len(free):]),))
        # a bias over exactly the kernel's output axes, last in the output, joins the epilogue
        fused = bias is not None and plan.output_order is None and bias.shape == plan.kernel_dims
        y = gc.quantized_matmul(x, kernel, scale, gc.reshape(bias, (-1,)) if fused else None,
                                activation if fused or bias is None else "linear", input_scale)
        if plan.kernel_dims != (y.shape[-1],):
            y = gc.reshape(y, free + plan.kernel_dims)
        if plan.output_order is not None:
            y = gc.transpose(y, plan.output_order)
        if bias is None or fused:
            return y
        return gc.relu(y + bias) if activation == "relu" else y + bias
    return int8.int8_call(layer, inputs, training, product)


def float_parts(layer) -> list:
    """model.quantize's warning entries for layers (e.g. MultiHeadAttention) whose weights went
    int8 but whose own computation, named by their `int8_float_part`, stays float32."""
    found = []
    subs = layer._sublayers()
    part = getattr(layer, "int8_float_part", None)
    if part and any(getattr(s, "quantization", None) for s in subs):
        found.append(f"{int8.what(layer)} ({part})")
    return found + [entry for s in subs for entry in float_parts(s)]


def projections_quantization_config(sublayers) -> dict:
    """{"quantization": {sublayer name: its quantization}} for the quantized sublayers that a
    layer (MultiHeadAttention) builds itself, so a reload builds them int8; {} when none is."""
    found = {s.name: dict(s.quantization) for s in sublayers
             if getattr(s, "quantization", None)}
    return {"quantization": found} if found else {}

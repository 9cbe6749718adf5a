"""int8 Dense and Conv1D/Conv2D (Keras 3's `layer.quantize("int8")`): per-output-channel
symmetric weights, inputs quantized per row (a Dense's input row, a convolution's window) by
their abs-max or by a static scale from `calibrate`, one fused op (gc.quantized_matmul,
gc.quantized_conv: graphc/ops/quant.py) with relu/linear in its epilogue.

After quantization such a layer holds `kernel` (int8 in the packed layout of graphc.ops.quant,
[ceil(K/4), round_up(N, 16), 4] for the K x N kernel matrix; `unpacked_kernel(layer)` gives
it back in the float kernel's shape) and `kernel_scale` (float32 [N], the multipliers
127 / max |w|), both non-trainable, and its bias unchanged. Its config gains
{"quantization": {"mode": "int8", "input_scale": s}}, so a saved model loads quantized.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import activations
from graphc.ir import user_site
from graphc.ops import quant

MODES = ("int8",)
FUSED = ("linear", "relu")  # activations the kernel's epilogue applies (exactly)
# Shorter kernel rows stay float32: MNIST's first convolution (3x3x1, pooled) measured 4.1 ms
# float vs 21-30 ms int8 for 1024 digits, one thread (a window's fixed work, 9 values to share it)
MIN_ROWS = 16
_RECORDERS: list = []  # calibrate's lists of (layer, input node), innermost last


def check_mode(what: str, mode) -> None:
    if mode not in MODES:
        raise ValueError(f"{what}: quantization mode {mode!r} is not supported; the supported "
                         f"modes are {MODES} (at {user_site()})")


def what(layer) -> str:
    return f"{type(layer).__name__} '{layer.name}'"


def check_state(layer) -> None:
    """A layer to quantize must be built and not quantized yet."""
    if not layer.built:
        raise ValueError(f"Cannot quantize {what(layer)}: it is not built yet (call it on an "
                         f"input or build the model first) (at {user_site()})")
    if layer.quantization is not None:
        raise ValueError(f"{what(layer)} is already quantized "
                         f"(mode {layer.quantization['mode']!r}) (at {user_site()})")


def check_config(layer, quantization) -> dict | None:
    """A layer's saved `quantization` entry, checked (None: a float layer)."""
    if quantization is None:
        return None
    if not isinstance(quantization, dict) or set(quantization) - {"mode", "input_scale"}:
        raise ValueError(f"{what(layer)}: `quantization` must be a dict with 'mode' and "
                         f"'input_scale'; received {quantization!r}")
    check_mode(what(layer), quantization.get("mode"))
    scale = quantization.get("input_scale")
    if scale is not None and not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"{what(layer)}: input_scale must be a positive number or None; "
                         f"received {scale!r}")
    return {"mode": "int8", "input_scale": None if scale is None else float(scale)}


def build_int8(layer, kernel_shape: tuple) -> None:
    """The int8 weights (placeholders until quantize or load fills them): bias first, as a
    quantized float layer keeps it, then kernel and kernel_scale."""
    units = kernel_shape[-1]
    layer.kernel_shape = tuple(kernel_shape)
    if layer.use_bias:
        layer.bias = layer.add_weight((units,), layer.bias_initializer, name="bias",
                                      regularizer=layer.bias_regularizer,
                                      constraint=layer.bias_constraint)
    else:
        layer.bias = None
    rows = int(np.prod(kernel_shape[:-1]))
    layer.kernel = layer.add_weight(quant.packed_shape(rows, units), "zeros", dtype="int8",
                                    trainable=False, name="kernel")
    layer.kernel_scale = layer.add_weight((units,), "ones", trainable=False, name="kernel_scale")


def quantize_layer(layer, mode, base: type) -> None:
    """Replace a built float layer's kernel by its int8 quantization, in place. A subclass of
    `base` with a call of its own has no int8 path: NotImplementedError, as Keras's."""
    if type(layer).call is not base.call:
        raise NotImplementedError(
            f"Layer {type(layer).__name__} does not have a `quantize()` method implemented.")
    check_mode(f"{what(layer)}.quantize", mode)
    if layer.built and np.prod(layer.kernel.shape[:-1]) < MIN_ROWS:
        raise NotImplementedError(
            f"{what(layer)}: its kernel rows hold {np.prod(layer.kernel.shape[:-1])} values "
            f"(< {MIN_ROWS}), faster in float32")
    check_state(layer)
    w = layer.kernel.get_value()
    bias = None if layer.bias is None else layer.bias.get_value()
    layer._trainable_weights, layer._non_trainable_weights = [], []
    layer._weight_info.clear()
    build_int8(layer, w.shape)
    w_q, scale = quant.quantize_kernel(w.reshape(-1, w.shape[-1]))
    layer.kernel.set_value(quant.pack_weights(w_q))
    layer.kernel_scale.set_value(scale)
    if bias is not None:
        layer.bias.set_value(bias)
    layer.quantization = {"mode": "int8", "input_scale": None}


def unpacked_kernel(layer) -> np.ndarray:
    """A quantized layer's int8 kernel in the float kernel's shape."""
    rows = int(np.prod(layer.kernel_shape[:-1]))
    matrix = quant.unpack_weights(layer.kernel.get_value(), rows, layer.kernel_shape[-1])
    return matrix.reshape(layer.kernel_shape)


def int8_call(layer, inputs, training, product):
    """act(product(x, kernel, scale, bias, fused activation, static input scale)), the
    activation fused when it is relu or linear."""
    if inputs.dtype == "bfloat16":  # mixed_bfloat16 (Keras: int8_from_mixed_bfloat16): the
        # int8 op runs on float32, with the scale and bias the policy read as bfloat16
        return gc.cast(int8_call(layer, gc.cast(inputs, "float32"), training, product),
                       "bfloat16")
    if training:
        raise ValueError(
            f"{what(layer)} is quantized to int8: training it is not supported (its kernel is "
            f"int8 and has no gradient). Train the float32 model, then call "
            f"model.quantize('int8') (at {user_site()})")
    if _RECORDERS:
        _RECORDERS[-1].append((layer, inputs))
    dtype = inputs.dtype
    scale, bias = layer.kernel_scale, layer.bias
    scale, bias = gc.cast(scale, dtype), None if bias is None else gc.cast(bias, dtype)
    name = activations.serialize(layer.activation)
    y = product(inputs, layer.kernel, scale, bias, name if name in FUSED else "linear",
                layer.quantization["input_scale"])
    return y if name in FUSED else layer.activation(y)


def dense_call(layer, inputs, training=False):
    return int8_call(layer, inputs, training, gc.quantized_matmul)


def conv_call(layer, inputs, training=False):
    """The quantized convolution on channels_last inputs (the layer converts the format)."""
    def product(x, kernel, scale, bias, activation, input_scale):
        return gc.quantized_conv(x, kernel, scale, bias, kernel_size=layer.kernel_size,
                                 strides=layer.strides, padding=layer.padding,
                                 dilation_rate=layer.dilation_rate, activation=activation,
                                 input_scale=input_scale)
    return int8_call(layer, inputs, training, product)


def quantization_config(layer) -> dict:
    return {} if layer.quantization is None else {"quantization": dict(layer.quantization)}

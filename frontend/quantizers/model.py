"""`model.quantize("int8")` (Keras 3) and `calibrate(model, x)`: static input scales.

quantize walks the model's leaf layers: each that can be quantized (Dense, Conv1D, Conv2D) is,
the others keep float32; a warning names the layers with weights that stay float32 and why
(as Keras warns), e.g. a first convolution on one channel, faster in float32. The
model's compiled functions are dropped, so the next predict traces the int8 graph.
"""

from __future__ import annotations

import warnings

import numpy as np

import graphc as gc
from frontend.layers.tensor import call_context
from frontend.quantizers import einsum, int8
from graphc.ir import user_site
from graphc.ops import quant


def leaf_layers(layer) -> list:
    subs = layer._sublayers()
    return [layer] if not subs else [leaf for s in subs for leaf in leaf_layers(s)]


def nested_models(layer) -> list:
    found = [layer] if hasattr(layer, "_predict_functions") else []
    return found + [m for s in layer._sublayers() for m in nested_models(s)]


def forget_compiled(model) -> None:
    """Drop compiled predict/train functions: they hold the float graph."""
    for m in nested_models(model):
        m._predict_functions, m._steps = {}, None


def fresh_optimizer(model) -> None:
    """A built optimizer's slots belong to the float kernels that quantize replaced: keep its
    settings, drop its state (a save then holds no stale optimizer.npz)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "built", False):
        model.optimizer = type(optimizer).from_config(optimizer.get_config())


def quantize_model(model, mode) -> list:
    """Quantize every supported layer of `model` in place; returns the quantized layers."""
    int8.check_mode(f"model '{model.name}'.quantize", mode)
    if not model.built:
        raise ValueError(f"Cannot quantize model '{model.name}': it is not built yet (call it "
                         f"on data or build it first) (at {user_site()})")
    done, left = [], []
    for layer in leaf_layers(model):
        try:
            layer.quantize(mode)
            done.append(layer)
        except NotImplementedError as err:
            if layer.weights:
                left.append(f"{type(layer).__name__} '{layer.name}' ({err})")
    left += einsum.float_parts(model)  # e.g. attention around int8 projections
    if left:
        warnings.warn(f"model.quantize({mode!r}): these layers stay float32: {'; '.join(left)}",
                      UserWarning, stacklevel=3)
    forget_compiled(model)
    if done:
        fresh_optimizer(model)
    return done


def calibrate(model, x, batch_size: int = 256) -> dict:
    """Static per-layer input scales (127 / max |input| over `x`) for the quantized layers of
    `model` (Dense, Conv1D, Conv2D), replacing their per-row (per-window) dynamic scales;
    returns {layer name: scale}. Inputs beyond the calibrated range are clipped to +-127 steps
    at predict time. A convolution with a static scale quantizes each image once instead of
    each window (backends/llvm/quant_image.py)."""
    layers = [layer for layer in leaf_layers(model) if getattr(layer, "quantization", None)]
    if not layers:
        raise ValueError(f"calibrate: model '{model.name}' has no quantized layer; call "
                         f"model.quantize('int8') first (at {user_site()})")
    for layer in layers:  # calibrate measures the inputs the dynamic scheme sees
        layer.quantization["input_scale"] = None
    forget_compiled(model)
    maxima = input_maxima(model, x, batch_size)
    scales = {}
    for layer in layers:
        amax = np.float32(maxima[layer.name])
        scale = np.float32(quant.QMAX) / (amax + np.float32(quant.EPSILON))
        layer.quantization["input_scale"] = float(scale)
        scales[layer.name] = float(scale)
    forget_compiled(model)
    return scales


def input_maxima(model, x, batch_size) -> dict:
    """{layer name: max |input|} of each quantized layer over the batches of x."""
    arrays = [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
    xs = [gc.placeholder(s, d, name=n)
          for n, s, d in zip(model.input_names, model.input_shapes, model.input_dtypes)]
    recorded: list = []
    int8._RECORDERS.append(recorded)
    try:
        with call_context(training=False):
            model._predict_outputs(xs)
    finally:
        int8._RECORDERS.pop()
    fn = gc.function(xs, [gc.max(gc.abs(node)) for _, node in recorded])
    best = np.zeros(len(recorded))
    for start in range(0, len(arrays[0]), batch_size):
        batch = [a[start:start + batch_size].astype(p.dtype) for a, p in zip(arrays, xs)]
        best = np.maximum(best, [float(v) for v in fn(*batch)])
    out: dict = {}
    for (layer, _), value in zip(recorded, best):
        out[layer.name] = max(out.get(layer.name, 0.0), value)
    return out

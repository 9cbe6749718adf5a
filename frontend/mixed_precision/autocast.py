"""A layer's call under its dtype policy (Keras 3's autocast): float inputs and the layer's own
float32 variables are cast to the compute dtype for the call; the variables stay float32
(master weights), so their gradients and the optimizer's updates are float32.

Layers whose math graphc computes in bfloat16 (BFLOAT16_LAYERS: GEMMs, convolutions with an
im2col row of at least SMALLEST_BF16_RECEPTIVE_FIELD, and elementwise work) run in bfloat16.
Every other layer under a bfloat16 policy is a float32 island, shown by its float32 output:
its inputs are cast to float32 (statistics, reductions and random masks stay in float32, as
Keras keeps normalization statistics), and the next bfloat16 layer casts back.
Softmax and log-softmax activations are float32 islands too (float32_island), so a mixed
model's probabilities and its losses are float32.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

import graphc as gc

BFLOAT16_LAYERS = {"Dense", "Conv1D", "Conv2D", "Convolution2D", "Activation", "ReLU",
                   "LeakyReLU", "ELU", "Flatten", "Reshape", "Add", "Subtract", "Multiply",
                   "Maximum", "Minimum", "Identity"}
# A convolution with a shorter im2col row (kernel area x input channels; a first layer on
# 1 channel: 3 x 3 x 1) is a float32 island: its GEMMs are too thin for bfloat16 to pay
# (its weight gradient took 4x the float32 direct kernel), and float32 fuses its pooling.
SMALLEST_BF16_RECEPTIVE_FIELD = 16
FLOATS = ("float32", "float64", "bfloat16")
# Max pooling is exact in bfloat16: it stays bfloat16 when fed bfloat16 with static sizes and
# windows that tile (where llvm routes its gradient exactly), else it is a float32 island.
MAX_POOLING_LAYERS = {"MaxPooling1D", "MaxPooling2D"}


def compute_dtype_for(layer, inputs=None) -> str:
    """The dtype `layer` computes in (on `inputs`, when given): its policy's, or float32 for a
    float32 island, or the dtype assigned to `layer.dtype` after it was made (its weights are
    made in that one)."""
    if layer.dtype != layer.dtype_policy.variable_dtype:
        return layer.dtype
    compute = layer.dtype_policy.compute_dtype
    if compute == "bfloat16" and type(layer).__name__ in MAX_POOLING_LAYERS:
        fed = isinstance(inputs, gc.Node) and inputs.dtype == compute
        fed = fed and None not in inputs.shape[1:]
        tiles = tuple(layer.strides) == tuple(layer.pool_size) and layer.padding == "valid"
        return compute if fed and tiles else "float32"
    if compute == "bfloat16" and (type(layer).__name__ not in BFLOAT16_LAYERS
                                  or not bfloat16_convolution(layer, inputs)):
        return "float32"
    return compute


def bfloat16_convolution(layer, inputs) -> bool:
    """True unless `layer` is a built convolution that bfloat16 does not pay for (an im2col
    row under SMALLEST_BF16_RECEPTIVE_FIELD) or that the llvm bfloat16 kernels cannot run
    (spatial sizes known only at run time: the float32 loop nests take those)."""
    kernel = getattr(layer, "kernel", None)
    if getattr(layer, "rank", None) is None or kernel is None:
        return True
    static = not isinstance(inputs, gc.Node) or None not in inputs.shape[1:]
    return static and int(np.prod(kernel.shape[:-1])) >= SMALLEST_BF16_RECEPTIVE_FIELD


def call_in_compute_dtype(layer, call, inputs, rest, kwargs):
    """`call(inputs, *rest, **kwargs)` with inputs and own variables in the compute dtype.

    Float inputs are always cast (Keras's autocast): a float64 or bfloat16 layer takes
    float32 inputs, and a float32 layer float64 ones."""
    dtype = compute_dtype_for(layer, inputs)
    inputs = cast_nodes(inputs, dtype)
    with variables_read_as(layer, dtype):
        return call(inputs, *rest, **kwargs)


def cast_nodes(structure, dtype):
    """Float nodes in a structure of lists, tuples and dicts, cast to `dtype`."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(cast_nodes(x, dtype) for x in structure)
    if isinstance(structure, dict):
        return {k: cast_nodes(v, dtype) for k, v in structure.items()}
    return cast_float(structure, dtype)


def cast_float(x, dtype):
    if isinstance(x, gc.Node) and x.dtype in FLOATS and x.dtype != dtype:
        return gc.cast(x, dtype)
    return x


def float32_island(x):
    """A bfloat16 node as float32 (other nodes unchanged): for ops that accumulate."""
    return cast_float(x, "float32") if getattr(x, "dtype", None) == "bfloat16" else x


def float32_outputs(outputs: list) -> list:
    """A model's outputs as its losses and metrics read them: float32 (Keras 3's Loss and
    Metric dtype), so the reductions of a mixed model's loss are float32."""
    return [float32_island(o) for o in outputs]


@contextmanager
def variables_read_as(layer, dtype):
    """The layer's own float variables of another dtype (float32 master weights, or a
    bfloat16 layer's weights in a float32 island), held in its attributes, read as casts."""
    own = {id(w) for w in layer._trainable_weights + layer._non_trainable_weights}
    saved = {name: value for name, value in vars(layer).items()
             if id(value) in own and value.dtype in FLOATS and value.dtype != dtype}
    try:
        for name, value in saved.items():
            object.__setattr__(layer, name, gc.cast(value, dtype))
        yield
    finally:
        for name, value in saved.items():
            object.__setattr__(layer, name, value)

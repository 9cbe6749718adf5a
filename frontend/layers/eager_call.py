"""A layer called on arrays (Keras's eager mode): its call is traced on constants and run
right away with the NumPy interpreter. State assignments apply at once, and the losses the
call adds are kept as the layer's `losses` until its next call, as Keras does."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.layers.tensor import EagerArray, call_context, flatten, map_structure
from frontend.layers.tracking import restructure


def call_eagerly(layer, inputs, rest, kwargs):
    """`layer`'s outputs for array `inputs`, as EagerArrays; sets `layer._last_call_losses`."""

    def const(value):
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(layer.dtype)
        return gc.constant(array)

    nodes = map_structure(const, inputs)
    with call_context(training=bool(kwargs.get("training")), eager=True) as ctx:
        outputs = layer._call_graph(nodes, rest, kwargs)
    flat = flatten(outputs)
    results = gc.function([], flat + ctx.losses, updates=ctx.updates, backend="numpy")()
    layer._last_call_losses = [np.asarray(loss) for loss in results[len(flat):]]
    return restructure(outputs, [np.asarray(r).view(EagerArray) for r in results[: len(flat)]])

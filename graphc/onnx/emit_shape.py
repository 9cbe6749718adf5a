"""ONNX emitters for graphc's data-movement ops: reshape, transpose, indexing, broadcasts,
concatenation, gathers, one-hot and padding. Sizes known only at run time are read with
Shape, so a model exports with a dynamic batch."""

from __future__ import annotations

import numpy as np

from graphc.onnx.builder import INT64_MAX, INT64_MIN, OnnxBuilder, elem_type


def emit_reshape(b: OnnxBuilder, node, ins):
    shape = list(node.attr("shape"))
    allow_zero = 1 if 0 in shape else None  # ONNX reads a 0 as "keep this size" unless told
    return b.add("Reshape", [ins[0], b.ints(shape)], allowzero=allow_zero)


def emit_transpose(b, node, ins):
    return b.transpose(ins[0], node.attr("axes"))


def emit_expand_dims(b, node, ins):
    return b.unsqueeze(ins[0], [a % node.ndim for a in node.attr("axis")])


def emit_broadcast_to(b, node, ins):
    return b.add("Expand", [ins[0], b.ints(node.attr("shape"))])


def emit_broadcast_like(b, node, ins):
    return b.add("Expand", [ins[0], b.add("Shape", [ins[1]])])


def emit_unfold_like(b, node, ins):
    """x reshaped to like's leading `axes` sizes (read at run time) + x's own trailing sizes."""
    axes = node.attr("axes")
    lead = b.add("Slice", [b.add("Shape", [ins[1]]), b.ints([0]), b.ints([axes])])
    rest = [-1 if d is None else d for d in node.inputs[0].shape[1:]]
    return b.add("Reshape", [ins[0], b.add("Concat", [lead, b.ints(rest)], axis=0)])


def emit_concatenate(b, node, ins):
    return b.add("Concat", ins, axis=int(node.attr("axis")) % node.ndim)


def emit_stack(b, node, ins):
    axis = int(node.attr("axis")) % node.ndim
    return b.add("Concat", [b.unsqueeze(x, [axis]) for x in ins], axis=axis)


def emit_take(b, node, ins):
    return b.add("Gather", ins, axis=int(node.attr("axis")))


def emit_one_hot(b, node, ins):
    """x[..., None] == arange(depth), as the op's dtype."""
    index = b.unsqueeze(b.add("Cast", ins, to=elem_type("int64")), [-1])
    positions = b.const(np.arange(node.attr("depth"), dtype=np.int64), hint=f"{b.label}/arange")
    return b.add("Cast", [b.add("Equal", [index, positions])], to=elem_type(node.dtype))


def emit_pad(b, node, ins):
    """Zeros around the spatial axes of a channels-last input (batch and channels unpadded)."""
    padding = node.attr("padding")
    pads = [0] + [lo for lo, _ in padding] + [0] + [0] + [hi for _, hi in padding] + [0]
    return b.add("Pad", [ins[0], b.ints(pads)], mode="constant")


def slice_bounds(item):
    """ONNX Slice (start, end, step) for a NumPy slice item; None bounds become the ends."""
    _, start, stop, step = item
    step = 1 if step is None else step
    if start is None:
        start = 0 if step > 0 else INT64_MAX
    if stop is None:
        stop = INT64_MAX if step > 0 else INT64_MIN
    return start, stop, step


def emit_getitem(b, node, ins):
    return emit_index(b, ins[0], node.attr("index"))


def emit_index(b: OnnxBuilder, x: str, index) -> str:
    """Basic indexing: one Slice for the slice and int items, a Squeeze of the int axes, an
    Unsqueeze at the newaxis positions."""
    source = x
    bounds, axes, squeeze, new_axes = [], [], [], []
    axis = out_axis = 0
    for item in index:
        if item[0] == "newaxis":
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if item[0] == "int":
            i = item[1]
            bounds.append((i, INT64_MAX if i == -1 else i + 1, 1))
            squeeze.append(axis)
        else:
            bounds.append(slice_bounds(item))
            out_axis += 1
        axes.append(axis)
        axis += 1
    if bounds:
        starts, ends, steps = zip(*bounds)
        x = b.add("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        x = b.squeeze(x, squeeze)
    if new_axes:
        x = b.unsqueeze(x, new_axes)
    return x if x is not source else b.add("Identity", [x])


EMITTERS = {
    "reshape": emit_reshape, "transpose": emit_transpose, "expand_dims": emit_expand_dims,
    "broadcast_to": emit_broadcast_to, "broadcast_like": emit_broadcast_like,
    "unfold_like": emit_unfold_like, "concatenate": emit_concatenate, "stack": emit_stack,
    "take": emit_take, "one_hot": emit_one_hot, "pad": emit_pad, "getitem": emit_getitem,
}

"""Ops that move or copy data without arithmetic: reshape, transpose, broadcast, concatenate,
stack, basic indexing, take/gather along an axis."""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import (
    broadcast_shapes,
    call,
    defop,
    dims_equal,
    dims_like_input,
    normalize_axes,
    same_dtype,
)
from graphc.ops.cases import F, In, case
from graphc.ops.elementwise import unbroadcast

# ---- reshape, transpose, expand_dims -----------------------------------------------------------


def infer_reshape(inputs, *, shape):
    x = inputs[0]
    if list(shape).count(-1) > 1:
        raise ShapeError(f"reshape to {shape}: at most one -1")
    if None in x.shape:
        return tuple(None if d == -1 else d for d in shape), x.dtype
    total = math.prod(x.shape)
    known = math.prod(d for d in shape if d != -1)
    if (-1 in shape and (known == 0 or total % known)) or (-1 not in shape and known != total):
        raise ShapeError(f"cannot reshape {total} elements to {shape}")
    return tuple(total // known if d == -1 else d for d in shape), x.dtype


def dims_reshape(node, ins, syms):
    """A reshape keeps its one run-time axis when every static axis is unchanged."""
    if len(ins[0]) != len(node.shape):
        return None
    keeps = node.shape.count(None) == 1 and all(
        s is None or d == s for d, s in zip(ins[0], node.shape))
    return [d if s == -1 and keeps else None for d, s in zip(ins[0], node.attr("shape"))]


def vjp_reshape(g, node):
    """g back in the input's shape: a reshape with one -1, or, for an input with several
    run-time sizes whose leading axes were folded into one, an unfold_like."""
    x = node.inputs[0]
    if x.shape.count(None) <= 1:
        return (call("reshape", g, shape=tuple(-1 if d is None else d for d in x.shape)),)
    lead = x.ndim - node.ndim + 1
    if lead < 1 or tuple(node.attr("shape")[1:]) != tuple(x.shape[lead:]) or None in x.shape[lead:]:
        raise ShapeError(f"reshape: the gradient of a reshape of {x.shape} to "
                         f"{node.attr('shape')} needs the sizes known at run time to be the "
                         f"leading axes, folded into one (node built at {node.site})")
    return (call("unfold_like", g, x, axes=lead),)


defop(
    "reshape",
    infer=infer_reshape,
    fusion="view",
    dims=dims_reshape,
    cases=[case(F((3, 4)), shape=(2, 6)), case(F((2, 3, 2)), shape=(-1,))],
    impl=lambda x, *, shape: np.reshape(x, shape),
    vjp=vjp_reshape,
)


def infer_unfold_like(inputs, *, axes):
    x, like = inputs
    if x.ndim < 1 or not 1 <= axes <= like.ndim:
        raise ShapeError(f"unfold_like: needs x of 1 or more axes and 1 to {like.ndim} leading "
                         f"axes of like; got x {x.shape}, axes={axes}")
    lead = tuple(like.shape[:axes])
    if x.shape[0] is not None and None not in lead and x.shape[0] != math.prod(lead):
        raise ShapeError(f"unfold_like: {x.shape[0]} rows cannot unfold into {lead}")
    return lead + tuple(x.shape[1:]), x.dtype


defop(
    "unfold_like",
    infer=infer_unfold_like,
    fusion="opaque",  # a copy kernel (emit_movement.py), once per TimeDistributed call
    shape_only=(1,),
    dims=lambda node, ins, syms: list(ins[1][:node.attr("axes")]) + list(ins[0][1:]),
    cases=[case(F((6, 4)), In((2, 3, 5), "like"), axes=2)],
    impl=lambda x, like, *, axes: np.reshape(x, like.shape[:axes] + x.shape[1:]),
    vjp=lambda g, n: (call("reshape", g, shape=(-1,) + tuple(
        -1 if d is None else d for d in n.inputs[0].shape[1:])), None),
    doc="x (n, *rest) -> (*like.shape[:axes], *rest): undoes the fold of like's leading axes "
        "into one (TimeDistributed), whatever their run-time sizes.",
)


def infer_transpose(inputs, *, axes):
    x = inputs[0]
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"axes {axes} are not a permutation of {x.ndim} dimensions")
    return tuple(x.shape[a] for a in axes), x.dtype


defop(
    "transpose",
    infer=infer_transpose,
    fusion="view",
    dims=lambda node, ins, syms: [ins[0][a] for a in node.attr("axes")],
    cases=[case(F((2, 3, 4)), axes=(2, 0, 1))],
    impl=lambda x, *, axes: np.transpose(x, axes),
    vjp=lambda g, n: (call("transpose", g, axes=tuple(np.argsort(n.attr("axes")).tolist())),),
)


def infer_expand_dims(inputs, *, axis):
    shape = list(inputs[0].shape)
    for a in sorted(axis):
        shape.insert(a, 1)
    return tuple(shape), inputs[0].dtype


def dims_expand_dims(node, ins, syms):
    dims = list(ins[0])
    for a in sorted(node.attr("axis")):
        dims.insert(a, 1)
    return dims


defop(
    "expand_dims",
    infer=infer_expand_dims,
    fusion="view",
    dims=dims_expand_dims,
    cases=[case(F((3, 4)), axis=(0, 2))],
    impl=lambda x, *, axis: np.expand_dims(x, tuple(axis)),
    vjp=lambda g, n: (call("sum", g, axis=tuple(n.attr("axis")), keepdims=False),),
)

# ---- broadcasting --------------------------------------------------------------------------------


def infer_broadcast_to(inputs, *, shape):
    if None in shape:
        raise ShapeError(f"broadcast_to needs a static shape, got {shape}")
    if broadcast_shapes(inputs[0].shape, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast {inputs[0].shape} to {shape}")
    return tuple(shape), inputs[0].dtype


defop(
    "broadcast_to",
    infer=infer_broadcast_to,
    fusion="view",
    cases=[case(F((3, 1)), shape=(2, 3, 4))],
    impl=lambda x, *, shape: np.broadcast_to(x, shape),
    vjp=lambda g, n: (unbroadcast(g, n.inputs[0].shape),),
)


def infer_broadcast_like(inputs):
    x, like = inputs
    if broadcast_shapes(x.shape, like.shape) != tuple(like.shape) or x.ndim > like.ndim:
        raise ShapeError(f"cannot broadcast {x.shape} to {like.shape}")
    return like.shape, x.dtype


defop(
    "broadcast_like",
    infer=infer_broadcast_like,
    fusion="view",
    shape_only=(1,),
    dims=dims_like_input(1),
    cases=[case(F((3, 1)), In((2, 3, 4), "like"))],
    impl=lambda x, like: np.broadcast_to(x, like.shape),
    vjp=lambda g, n: (unbroadcast(g, n.inputs[0].shape), None),
    doc="Broadcast x to the (run-time) shape of `like`; used by gradient rules.",
)

# ---- concatenate, stack --------------------------------------------------------------------------


def infer_concatenate(inputs, *, axis):
    if not inputs:
        raise ShapeError("concatenate needs at least one input")
    first = inputs[0]
    axis = normalize_axes(axis, first.ndim)[0]
    for x in inputs[1:]:
        if x.ndim != first.ndim or not all(
            dims_equal(a, b) for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis
        ):
            raise ShapeError(f"shapes must match except on axis {axis}")
    sizes = [x.shape[axis] for x in inputs]
    shape = list(first.shape)
    shape[axis] = None if None in sizes else sum(sizes)
    for i, d in enumerate(shape):
        if i != axis and d is None:
            shape[i] = next((x.shape[i] for x in inputs if x.shape[i] is not None), None)
    return tuple(shape), same_dtype(inputs)


def vjp_concatenate(g, node):
    axis = normalize_axes(node.attr("axis"), node.ndim)[0]
    grads, start = [], 0
    for x in node.inputs:
        size = x.shape[axis]
        if size is None:
            raise ShapeError(
                f"concatenate gradient needs static sizes on axis {axis} (at {node.site})"
            )
        grads.append(call("getitem", g, index=axis_slice(axis, start, start + size)))
        start += size
    return tuple(grads)


def axis_slice(axis, start, stop):
    return tuple(("slice", None, None, None) for _ in range(axis)) + (("slice", start, stop, 1),)


defop(
    "concatenate",
    infer=infer_concatenate,
    fusion="opaque",
    cases=[case(F((2, 3)), F((2, 4)), axis=1), case(F((1, 3)), F((2, 3)), F((1, 3)), axis=0)],
    vjp=vjp_concatenate,
    impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
)


def infer_stack(inputs, *, axis):
    shape, dtype = infer_concatenate(inputs, axis=0)
    shape = list(inputs[0].shape)
    axis = normalize_axes(axis, len(shape) + 1)[0]
    shape.insert(axis, len(inputs))
    return tuple(shape), dtype


def vjp_stack(g, node):
    axis = normalize_axes(node.attr("axis"), node.ndim)[0]
    lead = tuple(("slice", None, None, None) for _ in range(axis))
    return tuple(call("getitem", g, index=lead + (("int", i),)) for i in range(len(node.inputs)))


defop(
    "stack",
    infer=infer_stack,
    fusion="opaque",
    cases=[case(F((2, 3)), F((2, 3)), axis=1)],
    vjp=vjp_stack,
    impl=lambda *xs, axis: np.stack(xs, axis=axis),
)

# ---- basic indexing ------------------------------------------------------------------------------
# An index is a tuple of ('slice', start, stop, step), ('int', i) or ('newaxis',) items,
# one per input axis (plus newaxis items); trailing axes are taken whole.


def to_numpy_index(index):
    out = []
    for item in index:
        if item[0] == "slice":
            out.append(slice(*item[1:]))
        elif item[0] == "int":
            out.append(item[1])
        else:
            out.append(np.newaxis)
    return tuple(out)


def infer_getitem(inputs, *, index):
    x = inputs[0]
    shape, axis = [], 0
    for item in index:
        if item[0] == "newaxis":
            shape.append(1)
            continue
        if axis >= x.ndim:
            raise ShapeError(f"too many indices for a {x.ndim}-d input")
        dim = x.shape[axis]
        if item[0] == "int":
            if dim is not None and not -dim <= item[1] < dim:
                raise ShapeError(f"index {item[1]} is out of bounds for axis {axis} of size {dim}")
        else:
            whole = item[1:] in ((None, None, None), (None, None, 1))
            shape.append(
                dim
                if whole
                else (None if dim is None else len(range(*slice(*item[1:]).indices(dim))))
            )
        axis += 1
    return tuple(shape) + tuple(x.shape[axis:]), x.dtype


defop(
    "getitem",
    infer=infer_getitem,
    fusion="view",
    cases=[
        case(F((4, 5)), index=(("slice", 1, None, 2), ("int", -1))),
        case(F((3, 4)), index=(("newaxis",), ("slice", None, None, -1))),
        case(F((2, 3, 4)), index=(("int", 1), ("slice", 0, 2, None))),
    ],
    impl=lambda x, *, index: np.asarray(x[to_numpy_index(index)]),
    vjp=lambda g, n: (call("getitem_grad", g, n.inputs[0], index=n.attr("index")),),
)


def infer_getitem_grad(inputs, *, index):
    return inputs[1].shape, inputs[0].dtype


def impl_getitem_grad(g, like, *, index):
    out = np.zeros(like.shape, dtype=g.dtype)
    out[to_numpy_index(index)] = g
    return out


defop(
    "getitem_grad",
    infer=infer_getitem_grad,
    impl=impl_getitem_grad,
    fusion="opaque",
    shape_only=(1,),
    dims=dims_like_input(1),
    cases=[case(F((2, 4)), In((4, 4), "like"),
                index=(("slice", 1, None, 2), ("slice", None, None, None)))],
    vjp=lambda g, n: (call("getitem", g, index=n.attr("index")), None),
    doc="Zeros shaped like the second input, with the first placed at `index`.",
)

# ---- take / gather -------------------------------------------------------------------------------


def infer_take(inputs, *, axis):
    x, indices = inputs
    if indices.dtype not in ("int32", "int64"):
        raise DtypeError(f"take needs integer indices, got {indices.dtype}")
    axis = normalize_axes(axis, x.ndim)[0]
    return x.shape[:axis] + indices.shape + x.shape[axis + 1 :], x.dtype


defop(
    "take",
    infer=infer_take,
    fusion="opaque",
    cases=[
        case(F((5, 3)), In((4,), "int", "int64", high=5), axis=0),
        case(F((2, 6)), In((2, 2), "int", "int32", high=6), axis=1),
    ],
    impl=lambda x, indices, *, axis: np.take(x, indices, axis=axis),
    vjp=lambda g, n: (call("take_grad", g, n.inputs[1], n.inputs[0], axis=n.attr("axis")), None),
)


def infer_take_grad(inputs, *, axis):
    return inputs[2].shape, inputs[0].dtype


def impl_take_grad(g, indices, like, *, axis):
    axis = axis % like.ndim
    out = np.zeros(like.shape, dtype=g.dtype)
    moved = np.moveaxis(out, axis, 0)
    g_moved = np.moveaxis(
        g.reshape(like.shape[:axis] + (indices.size,) + like.shape[axis + 1 :]), axis, 0
    )
    np.add.at(moved, indices.reshape(-1), g_moved)
    return out


defop(
    "take_grad",
    infer=infer_take_grad,
    impl=impl_take_grad,
    fusion="opaque",
    shape_only=(2,),
    dims=dims_like_input(2),
    cases=[case(F((4, 3)), In((4,), "int", "int64", high=5), In((5, 3), "like"), axis=0)],
    vjp=lambda g, n: (call("take", g, n.inputs[1], axis=n.attr("axis")), None, None),
    doc="Scatter-add of the first input into zeros shaped like the third, at `indices`.",
)

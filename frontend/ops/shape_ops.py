"""keras.ops' shape and gather functions: reshape, transpose, expand_dims, squeeze,
concatenate, stack, split, repeat, tile, take, take_along_axis, getitem (`x[...]`),
broadcast_to, flip, swapaxes, moveaxis.

Sizes known only at run time (the batch) may pass through; an op that must count along an
axis (split, repeat, tile, flip) needs that axis's length when the graph is built.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.ops.convert import RuntimeSize, axis_tuple, operands, to_node
from frontend.ops.dispatch import op
from graphc.ir import user_site


def static_length(x, axis: int, fn: str) -> int:
    """The length of `axis`, or a ValueError when it is known only at run time."""
    length = x.shape[axis]
    if length is None:
        raise ValueError(
            f"ops.{fn}: axis {axis} of the input of shape {x.shape} has a length known only at "
            f"run time; graphc needs it when the graph is built (at {user_site()})"
        )
    return length


@op("reshape")
def reshape(x, newshape):
    """`x` with shape `newshape` (one -1, None or run-time size is inferred)."""
    if not isinstance(newshape, (int, np.integer)):
        newshape = tuple(-1 if isinstance(d, RuntimeSize) else d for d in newshape)
    return gc.reshape(to_node(x), newshape)


@op("transpose")
def transpose(x, axes=None):
    """`x` with its axes permuted (reversed when None)."""
    return gc.transpose(to_node(x), None if axes is None else tuple(axes))


@op("expand_dims")
def expand_dims(x, axis):
    """`x` with a new axis of length 1 at `axis`."""
    return gc.expand_dims(to_node(x), axis)


@op("squeeze")
def squeeze(x, axis=None):
    """`x` without its axes of length 1 (only those in `axis` when given)."""
    x = to_node(x)
    axes = axis_tuple(axis, x.ndim)
    axes = tuple(i for i, d in enumerate(x.shape) if d == 1) if axes is None else axes
    for a in axes:
        if x.shape[a] not in (1, None):
            raise ValueError(
                f"ops.squeeze: axis {a} of the input of shape {x.shape} has length "
                f"{x.shape[a]}, not 1. Received: axis={axis!r} (at {user_site()})"
            )
    index = tuple(0 if i in axes else slice(None) for i in range(x.ndim))
    return x[index] if axes else x


@op("concatenate", tensors=(), tensor_lists=("xs",))
def concatenate(xs, axis=0):
    """The tensors `xs` joined along `axis`."""
    return gc.concatenate(operands(*xs), axis=axis)


@op("stack", tensors=(), tensor_lists=("x",))
def stack(x, axis=0):
    """The tensors `x` (a list) joined along a new `axis`."""
    return gc.stack(operands(*x), axis=axis)


@op("split")
def split(x, indices_or_sections, axis=0):
    """`x` cut along `axis` into equal sections (an int) or at the given indices (a list)."""
    x = to_node(x)
    axis = axis_tuple(axis, x.ndim)[0]
    length = static_length(x, axis, "split")
    if isinstance(indices_or_sections, (int, np.integer)):
        if length % indices_or_sections:
            raise ValueError(
                f"ops.split: axis {axis} of length {length} does not split into "
                f"{indices_or_sections} equal sections (at {user_site()})"
            )
        step = length // indices_or_sections
        cuts = list(range(step, length, step))
    else:
        cuts = [int(i) for i in indices_or_sections]
    bounds = zip([0] + cuts, cuts + [length])
    lead = (slice(None),) * axis
    return [x[lead + (slice(start, stop),)] for start, stop in bounds]


def _gather_pattern(x, axis: int, pattern: np.ndarray):
    return gc.take(x, gc.constant(pattern.astype("int64")), axis=axis)


@op("repeat")
def repeat(x, repeats, axis=None):
    """Each element repeated `repeats` times along `axis` (of the flattened `x` when None)."""
    x = to_node(x)
    if axis is None:
        x, axis = gc.reshape(x, (-1,)), 0
    axis = axis_tuple(axis, x.ndim)[0]
    length = static_length(x, axis, "repeat")
    return _gather_pattern(x, axis, np.repeat(np.arange(length), repeats))


@op("tile")
def tile(x, repeats):
    """`x` repeated `repeats[i]` times along each axis i, as numpy.tile."""
    x = to_node(x)
    repeats = (repeats,) if isinstance(repeats, (int, np.integer)) else tuple(repeats)
    while x.ndim < len(repeats):
        x = gc.expand_dims(x, 0)
    repeats = (1,) * (x.ndim - len(repeats)) + repeats
    for axis, count in enumerate(repeats):
        if count != 1:
            length = static_length(x, axis, "tile")
            x = _gather_pattern(x, axis, np.tile(np.arange(length), count))
    return x


@op("take", tensors=("x", "indices"))
def take(x, indices, axis=None):
    """Elements of `x` at integer `indices` along `axis` (of the flattened `x` when None)."""
    x, indices = to_node(x), to_node(indices)
    if axis is None:
        x, axis = gc.reshape(x, (-1,)), 0
    return gc.take(x, indices, axis=axis_tuple(axis, x.ndim)[0])


@op("take_along_axis", tensors=("x", "indices"))
def take_along_axis(x, indices, axis=None):
    """`x` gathered at `indices` along `axis`, as numpy.take_along_axis (a one-hot product:
    the axis length must be static)."""
    x, indices = to_node(x), to_node(indices)
    if axis is None:
        x, axis = gc.reshape(x, (-1,)), 0
    axis = axis_tuple(axis, x.ndim)[0]
    length = static_length(x, axis, "take_along_axis")
    order = [i for i in range(x.ndim) if i != axis] + [axis]
    back = list(np.argsort(order))
    moved_x = gc.expand_dims(gc.transpose(x, order), -2)  # (..., 1, n)
    picks = gc.one_hot(gc.transpose(indices, order), length, dtype=x.dtype)  # (..., k, n)
    return gc.transpose(gc.sum(picks * moved_x, axis=-1), back)


@op("ravel")
def ravel(x):
    """`x` as one vector."""
    return gc.reshape(to_node(x), (-1,))


def _triangle(x, k: int, upper: bool):
    x = to_node(x)
    rows, cols = (static_length(x, a, "triu" if upper else "tril") for a in (-2, -1))
    keep = (
        np.triu(np.ones((rows, cols), bool), k)
        if upper
        else np.tril(np.ones((rows, cols), bool), k)
    )
    return gc.where(gc.constant(keep), x, gc.as_node(0, like=x))


@op("triu")
def triu(x, k=0):
    """`x` with the elements below diagonal `k` of its last two axes zeroed."""
    return _triangle(x, k, upper=True)


@op("tril")
def tril(x, k=0):
    """`x` with the elements above diagonal `k` of its last two axes zeroed."""
    return _triangle(x, k, upper=False)


@op("get_item")
def getitem(x, key):
    """`x[key]` with basic indexing (ints, slices, None, Ellipsis)."""
    return to_node(x)[key]


@op("broadcast_to")
def broadcast_to(x, shape):
    """`x` broadcast to the static `shape`."""
    return gc.broadcast_to(to_node(x), shape)


@op("flip")
def flip(x, axis=None):
    """`x` with the order of elements reversed along `axis` (all axes when None)."""
    x = to_node(x)
    for a in axis_tuple(axis, x.ndim) or range(x.ndim):
        x = _gather_pattern(x, a, np.arange(static_length(x, a, "flip"))[::-1])
    return x


@op("swapaxes")
def swapaxes(x, axis1, axis2):
    """`x` with two axes exchanged."""
    x = to_node(x)
    order = list(range(x.ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return gc.transpose(x, order)


@op("moveaxis")
def moveaxis(x, source, destination):
    """`x` with axis `source` moved to position `destination`."""
    x = to_node(x)
    order = [i for i in range(x.ndim) if i != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return gc.transpose(x, order)

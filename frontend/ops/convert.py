"""Values into graphc nodes, and the dtype two operands are combined in (Keras 3's rules, in
short): floats win over ints and ints over bools, the wider of two floats or two ints wins,
and constants (Python numbers, NumPy arrays) are weak: they take the dtype of the tensor they
meet unless they are of a higher kind, so `x * 2.0` stays float32 for a float32 `x`.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.layers.tensor import KerasTensor
from graphc.ir import Node, user_site

_KIND_RANK = {"b": 0, "i": 1, "f": 2}


def standard_array(value, dtype=None) -> np.ndarray:
    """`value` as an array of a dtype graphc has: Python floats become floatx, float16 becomes
    float32, small and unsigned ints become int32 or int64, as Keras converts them."""
    if dtype is not None:
        return np.asarray(value, dtype=gc.ir.normalize_dtype(dtype))
    array = np.asarray(value)
    if array.dtype.kind == "f":
        python_floats = not isinstance(value, (np.ndarray, np.generic))
        wide = array.dtype == np.float64 and not python_floats
        return array.astype("float64" if wide else backend.floatx())
    if array.dtype.kind in "iu":
        wide = array.dtype.itemsize > 4 or array.dtype == np.uint32
        return array.astype("int64" if wide else "int32")
    if array.dtype.kind == "b":
        return array
    raise TypeError(
        f"cannot turn {type(value).__name__} of dtype {array.dtype} into a tensor; graphc "
        f"tensors hold float32/64, int32/64 or bool (at {user_site()})"
    )


class RuntimeSize:
    """A size known only at run time (the batch): what `ops.shape(x)[0]` is for a graph node
    `x` with shape (None, ...). It may stand in the shape given to ops.zeros/ones/full and
    frontend.random's functions, and becomes an int64 scalar node where a tensor is needed."""

    def __init__(self, source: Node, axis: int):
        self.source, self.axis = source, axis

    def node(self) -> Node:
        return gc.size(self.source, axis=self.axis, dtype="int64")

    def __repr__(self):
        return f"<size of axis {self.axis} of {self.source!r}, known at run time>"


def to_node(value, dtype=None) -> Node:
    """A graphc node for a node, array, list or number (a constant, in `dtype` if given)."""
    if isinstance(value, KerasTensor):
        raise TypeError(
            f"a symbolic KerasTensor ({value.name}) reached a graph function; call "
            f"frontend.ops functions on it (they become layers) (at {user_site()})"
        )
    if isinstance(value, RuntimeSize):
        value = value.node()
    if isinstance(value, Node):
        return value if dtype is None else gc.cast(value, dtype)
    return gc.constant(standard_array(value, dtype))


def is_number(value) -> bool:
    """A Python number (NumPy scalars are arrays here: they keep their dtype)."""
    return isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)


def result_dtype(dtypes) -> str:
    """The dtype tensors of `dtypes` are combined in (float > int > bool, wider wins)."""
    return max(dtypes, key=lambda d: (_KIND_RANK[np.dtype(d).kind], np.dtype(d).itemsize))


def _weak_dtype(value, strong: str) -> str:
    """The dtype a constant (a number or array, not a tensor) meets a `strong` tensor in: the
    tensor's when the constant's kind is not higher (float > int > bool), else its own."""
    kind = np.asarray(value).dtype.kind.replace("u", "i")
    if _KIND_RANK.get(kind, 3) <= _KIND_RANK[np.dtype(strong).kind]:
        return strong
    return standard_array(value).dtype.name


def operands(*values) -> list:
    """`values` as nodes of one common dtype; constants adopt the tensors' dtype unless they
    are of a higher kind (`x_int * 0.5` is floatx)."""
    if not any(isinstance(v, Node) for v in values):
        values = [to_node(v) for v in values]
    target = result_dtype(v.dtype for v in values if isinstance(v, Node))
    for value in values:
        if not isinstance(value, Node):
            target = result_dtype([target, _weak_dtype(value, target)])
    return [to_node(v, target) for v in values]


def float_operand(value) -> Node:
    """`value` as a float node (ints and bools become floatx, as Keras's sqrt/exp/... do)."""
    node = to_node(value)
    return node if node.dtype.startswith("float") else gc.cast(node, backend.floatx())


def axis_tuple(axis, ndim: int):
    """`axis` (None, an int or a sequence) as None or a tuple of non-negative ints."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise ValueError(
                f"axis {a} is out of range for a tensor of rank {ndim}. Received: axis={axis!r} "
                f"(at {user_site()})"
            )
    return tuple(sorted(int(a) % ndim for a in axes))

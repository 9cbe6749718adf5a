"""keras.ops' core functions: shape, cast, convert_to_tensor, convert_to_numpy, is_tensor,
dtype, size, stop_gradient."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.layers.tensor import KerasTensor
from frontend.ops.convert import RuntimeSize, standard_array, to_node
from frontend.ops.dispatch import op
from graphc.ir import Node, toposort, user_site


def shape(x) -> tuple:
    """The shape of `x` as a tuple. A size known only at run time is None for a symbolic
    KerasTensor and a RuntimeSize for a graph node (usable in ops.zeros/ones/full, random
    shapes and reshape, as in `random.normal(shape=(ops.shape(z)[0], 2))`)."""
    if isinstance(x, Node):
        return tuple(RuntimeSize(x, i) if d is None else d for i, d in enumerate(x.shape))
    if isinstance(x, KerasTensor):
        return tuple(x.shape)
    return tuple(np.shape(x))


def ndim(x) -> int:
    """The number of axes of `x`."""
    return len(x.shape) if isinstance(x, (Node, KerasTensor)) else np.ndim(x)


def dtype(x) -> str:
    """The dtype name of `x` ('float32', ...)."""
    if isinstance(x, (Node, KerasTensor)):
        return x.dtype
    return standard_array(x).dtype.name


def is_tensor(x) -> bool:
    """True for graphc nodes and symbolic KerasTensors (NumPy arrays are not tensors)."""
    return isinstance(x, (Node, KerasTensor))


@op("cast")
def cast(x, dtype):
    """`x` converted to `dtype`."""
    return gc.cast(to_node(x), dtype)


@op("size")
def size(x):
    """The number of elements of `x` (at run time when a size is unknown)."""
    return gc.size(to_node(x), dtype="int64")


def convert_to_tensor(x, dtype=None, sparse=None):
    """`x` as a tensor: graphc nodes and KerasTensors stay (cast to `dtype` if given); NumPy
    values become arrays of a dtype graphc has (Python floats become floatx)."""
    if sparse:
        raise ValueError(
            f"convert_to_tensor: graphc has no sparse tensors. Received: "
            f"sparse={sparse!r} (at {user_site()})"
        )
    if isinstance(x, (Node, KerasTensor)):
        return x if dtype is None else cast(x, dtype)
    return standard_array(x, dtype)


def convert_to_numpy(x) -> np.ndarray:
    """`x` as a NumPy array: a variable's value, or an expression of variables and constants
    computed now (`ops.convert_to_numpy(ops.norm(layer.kernel))`); values that depend on an
    input exist only when a function runs, so they are refused."""
    if isinstance(x, Node) and hasattr(x, "get_value"):
        return np.asarray(x.get_value())
    inputs = [n for n in toposort([x]) if n.op == "placeholder"] if isinstance(x, Node) else []
    if isinstance(x, KerasTensor) or inputs:
        raise ValueError(
            f"convert_to_numpy: {x!r} is symbolic: its value exists only when the compiled "
            f"function runs. Use it inside the graph, or predict() for values (at {user_site()})"
        )
    if isinstance(x, Node):
        return gc.function([], x, backend="numpy")()
    return np.asarray(x)


@op("stop_gradient")
def stop_gradient(variable):
    """`variable` itself, with no gradient flowing through it (a constant to gradients)."""
    return gc.stop_gradient(to_node(variable))

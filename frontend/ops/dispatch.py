"""One definition per op, three ways to run it (as keras.ops does):

- on symbolic KerasTensors (building a functional model): the call becomes an OpLayer;
- on graphc nodes or run-time sizes (inside Lambda, custom layers, losses, metrics, or while
  any layer call is being built): the graph function runs and returns nodes;
- on NumPy arrays and numbers: the graph is built on constants and run at once by the NumPy
  interpreter; the result is a NumPy array (like keras.ops on the JAX backend).
"""

from __future__ import annotations

import functools
import inspect

import graphc as gc
from frontend.layers.op_layer import call_op_layer, register_op
from frontend.layers.tensor import KerasTensor, current_context, flatten
from frontend.ops.convert import RuntimeSize, is_number, to_node
from graphc.ir import Node


def building_graph() -> bool:
    """True while a layer call or a training step is being traced into a graph."""
    return current_context() is not None


def op(name: str, tensors=("x",), tensor_lists=()):
    """Register `fn` (a function of graphc nodes) as op `name` and return the public function.

    `tensors` and `tensor_lists` name the parameters that hold tensors (or lists of tensors):
    the eager path turns NumPy values there into constants.
    """

    def wrap(fn):
        register_op(name, fn)
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def public(*args, **kwargs):
            leaves = flatten([list(args), kwargs])
            if any(isinstance(v, KerasTensor) for v in leaves):
                return call_op_layer(name, args, kwargs)
            if building_graph() or any(isinstance(v, (Node, RuntimeSize)) for v in leaves):
                return fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            return run_eagerly(fn, bound, tensors, tensor_lists)

        public.graph_function = fn
        return public

    return wrap


def _constants(bound, tensors, tensor_lists) -> None:
    """Turn the tensor arguments of `bound` into constants (Python numbers next to arrays stay
    numbers, so they combine weakly, as in Keras)."""
    given = {k: v for k, v in bound.arguments.items() if k in tensors}
    arrays_given = any(not is_number(v) for v in given.values())
    for key, value in given.items():
        if value is not None and not (arrays_given and is_number(value)):
            bound.arguments[key] = to_node(value)
    for key in tensor_lists:
        if key in bound.arguments:
            bound.arguments[key] = [to_node(v) for v in bound.arguments[key]]


def run_eagerly(fn, bound, tensors, tensor_lists):
    """`fn` on constants, evaluated at once by the NumPy interpreter: arrays out."""
    _constants(bound, tensors, tensor_lists)
    outputs = fn(*bound.args, **bound.kwargs)
    if not isinstance(outputs, (list, tuple)):
        return gc.function([], to_node(outputs), backend="numpy")()
    results = gc.function([], [to_node(o) for o in outputs], backend="numpy")()
    return type(outputs)(results)

"""Metrics written the Keras 3 way: variables from `add_weight`, an `update_state` that
assigns them with ops, a `result` computed from them.

Inside a compiled step, `update_state` runs once on graph values and the assignments it makes
become the step's update rules. `result()` is evaluated (NumPy interpreter) from the variables'
values whenever it is read: after each step for the logs, or right away when called eagerly.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

import graphc as gc
from frontend import initializers
from frontend.layers.tensor import call_context
from graphc.ir import Node, toposort, user_site


def initial_value(initializer, shape, dtype, metric_name: str) -> np.ndarray:
    """A variable's first value from a number, an initializer name/object or None (zeros)."""
    shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
    if initializer is None:
        return np.zeros(shape, dtype)
    if isinstance(initializer, (bool, int, float, np.number)):
        return np.full(shape, initializer, dtype)
    value = np.asarray(initializers.get(initializer)(shape, dtype), dtype)
    if value.shape != shape:
        raise ValueError(
            f"Metric {metric_name!r}.add_variable: initializer {initializer!r} gave shape "
            f"{value.shape}, the variable has shape {shape} (at {user_site()})"
        )
    return value


def rules_of_update_state(metric, y_true, y_pred, sample_weight) -> list:
    """Run the metric's own `update_state` on graph values and return the (variable, new
    value) rules its assignments recorded."""
    with call_context(training=False) as ctx:
        metric.update_state(y_true, y_pred, sample_weight)
    if not ctx.updates:
        raise TypeError(
            f"{type(metric).__name__}.update_state ({definition_site(type(metric).update_state)}) "
            f"assigned none of the metric's variables: a compiled step applies only "
            f"`variable.assign/assign_add/assign_sub` calls (Python attributes changed there "
            f"are set once, when the step is traced)"
        )
    return list(ctx.updates)


def checked_result_method(result_fn, keras_style: bool):
    """Wrap a subclass's `result` so graph values it returns are evaluated from the variables
    and values graphc cannot track are rejected naming the method's line."""

    @functools.wraps(result_fn)
    def result(self):
        return result_value(self, result_fn(self), result_fn, keras_style)

    return result


def result_value(metric, value, result_fn, keras_style: bool):
    if isinstance(value, Node):
        value = evaluate(metric, value, result_fn)
    if isinstance(value, (np.ndarray, np.generic)):
        return float(value) if value.ndim == 0 else value
    if keras_style:
        raise TypeError(
            f"{type(metric).__name__}.result ({definition_site(result_fn)}) returned "
            f"{type(value).__name__} {value!r}: return a value computed with ops from the "
            f"metric's variables (e.g. `return self.total`), which graphc reads after each step"
        )
    return value


def evaluate(metric, value: Node, result_fn) -> np.ndarray:
    if any(node.op == "placeholder" for node in toposort([value])):
        raise TypeError(
            f"{type(metric).__name__}.result ({definition_site(result_fn)}) depends on a "
            f"step's inputs; compute it from the metric's variables only"
        )
    return np.asarray(gc.function([], [value], backend="numpy")()[0])


def definition_site(fn) -> str:
    fn = inspect.unwrap(fn)
    try:
        return f"{inspect.getsourcefile(fn)}:{fn.__code__.co_firstlineno}"
    except (TypeError, AttributeError):
        return repr(fn)

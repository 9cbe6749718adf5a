"""While a model's custom `train_step` / `test_step` is traced into one compiled function,
the effects its code asks for (a metric's `update_state`, an optimizer's `apply_gradients`)
are recorded as update rules of that function instead of running eagerly.

Metrics and optimizers call in here when they are given graph values; outside a trace such a
call is an error that says where to put the code.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from frontend.layers.tensor import current_context, flatten
from graphc.ir import Node, user_site


@dataclass
class StepTrace:
    model: object
    kind: str  # "train", "test" or "predict"


_TRACES: list[StepTrace] = []


@contextlib.contextmanager
def tracing(model, kind: str):
    """Mark the block as the trace of `model`'s custom step of `kind`."""
    _TRACES.append(StepTrace(model, kind))
    try:
        yield _TRACES[-1]
    finally:
        _TRACES.pop()


def active_trace(model=None) -> StepTrace | None:
    """The innermost step being traced (of `model`, if given), or None."""
    for trace in reversed(_TRACES):
        if model is None or trace.model is model:
            return trace
    return None


def require_trace(what: str) -> StepTrace:
    trace = active_trace()
    if trace is None or current_context() is None:
        raise TypeError(
            f"{what} was given graph values outside a custom train_step/test_step: graphc "
            f"records it only while fit/evaluate trace a step into one compiled function "
            f"(override Model.train_step and call it there) (at {user_site()})"
        )
    return trace


def record_traced_update(rules_of, *values) -> bool:
    """If any of `values` is a graph value, add `rules_of(*values)` (update rules) to the
    step being traced and return True; False for NumPy values (the caller runs eagerly)."""
    if not any(isinstance(v, Node) for v in flatten(list(values))):
        return False
    if current_context() is None:
        require_trace("metric.update_state")  # raises; a metric's own update_state is traced
    current_context().updates.extend(rules_of(*values))
    return True


def apply_gradients(optimizer, grads_and_vars, name=None, **kwargs):
    """Keras 2's `optimizer.apply_gradients(zip(grads, variables))` inside a traced step."""
    pairs = list(grads_and_vars)
    return apply(optimizer, [g for g, _ in pairs], [v for _, v in pairs])


def apply(optimizer, grads, trainable_variables=None):
    """Keras 3's `optimizer.apply(grads, variables)` inside a traced step: the optimizer's
    update (and each weight's constraint) become update rules of the compiled step."""
    grads = list(grads)
    if not all(isinstance(g, Node) for g in grads):
        raise TypeError(
            f"{type(optimizer).__name__}.apply needs graph gradients from frontend.gradients."
            f"grad or GradientTape inside a custom train_step; graphc has no eager training "
            f"loop (at {user_site()})"
        )
    trace = require_trace(f"{type(optimizer).__name__}.apply")
    if trainable_variables is None:
        trainable_variables = trace.model.trainable_weights
    variables = list(trainable_variables)
    if len(variables) != len(grads):
        raise ValueError(
            f"{type(optimizer).__name__}.apply: {len(grads)} gradients for "
            f"{len(variables)} variables (at {user_site()})"
        )
    kept = [(g, v) for g, v in zip(grads, variables) if g is not None]
    rules = optimizer.update_rules([g for g, _ in kept], [v for _, v in kept])
    current_context().updates.extend(constrained(trace.model, rules))
    return optimizer.iterations


def constrained(model, rules) -> list:
    """The update rules with each weight's constraint applied to its new value."""
    out = []
    for var, expr in rules:
        info = model.weight_info(var)
        if info and info["constraint"] is not None:
            expr = info["constraint"](expr)
        out.append((var, expr))
    return out

"""Keras 3 variables: a graphc shared variable with `assign`, `assign_add`, `assign_sub`,
`numpy()` and `value`, as layers' weights and `K.variable` give them.

An assignment made while a layer's `call` is traced into a graph (a functional model, `fit`,
a custom `train_step`) becomes an update rule of that compiled step, applied when the step
ends (Theano semantics: other reads in the same step see the old value; a second assignment
in the same step builds on the first). Outside a trace, and inside a layer called eagerly on
arrays, the assignment sets the value right away, as Keras does.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.layers.tensor import KerasTensor, current_context
from graphc.ir import Node, toposort, user_site
from graphc.ops.leaves import SharedVariable


class Variable(SharedVariable):
    """A weight or state variable (see the module docstring for when assignments apply)."""

    __slots__ = ()

    def assign(self, value):
        """Set the variable to `value` (returns the variable, as Keras does)."""
        ctx = current_context()
        if ctx is None or ctx.eager:
            # cast like Keras' assign (and the graph branch below)
            self.set_value(self._checked(evaluate_now(value, self.name).astype(self.dtype)))
        else:
            self._record_rule(ctx, self._checked(gc.cast(value, self.dtype)))
        return self

    def assign_add(self, delta):
        """Add `delta` to the variable."""
        current, delta = self._promoted(delta)
        return self.assign(current + delta)

    def assign_sub(self, delta):
        """Subtract `delta` from the variable."""
        current, delta = self._promoted(delta)
        return self.assign(current - delta)

    def _promoted(self, delta) -> tuple:
        """The pending value and a graph `delta` in their common dtype (graphc ops take one
        dtype; Keras adds an int32 counter and an int64 size, then casts back on assign)."""
        current = self._pending_value()
        if not isinstance(delta, Node) or delta.dtype == self.dtype:
            return current, delta
        common = np.result_type(self.dtype, delta.dtype).name
        return gc.cast(current, common), gc.cast(delta, common)

    def numpy(self) -> np.ndarray:
        return self.get_value()

    @property
    def value(self) -> np.ndarray:
        return self.get_value()

    def _pending_value(self):
        """What the variable holds after the assignments already recorded in this trace."""
        ctx = current_context()
        if ctx is None or ctx.eager:
            return self.get_value()
        return next((new for var, new in reversed(ctx.updates) if var is self), self)

    def _record_rule(self, ctx, new) -> None:
        # One rule per variable and step: a later assignment replaces the earlier rule.
        ctx.updates[:] = [(var, rule) for var, rule in ctx.updates if var is not self]
        ctx.updates.append((self, new))

    def _checked(self, new):
        shape = tuple(new.shape)
        if len(shape) != len(self.shape) or any(
            d is not None and d != want for d, want in zip(shape, self.shape)
        ):
            raise ValueError(
                f"Variable {self.name!r}.assign: the new value has shape {shape}, the variable "
                f"{self.shape} (at {user_site()})"
            )
        return new


def evaluate_now(value, name) -> np.ndarray:
    """`value` as an array: graph values without inputs are computed with the interpreter."""
    if isinstance(value, KerasTensor):
        raise TypeError(
            f"Variable {name!r}.assign got a symbolic KerasTensor outside a layer's call; "
            f"assign inside `call` so it becomes an update of the model (at {user_site()})"
        )
    if isinstance(value, Node):
        if any(node.op == "placeholder" for node in toposort([value])):
            raise TypeError(
                f"Variable {name!r}.assign: the value depends on graph inputs, and no step "
                f"is being traced to apply it in (at {user_site()})"
            )
        return gc.function([], [value], backend="numpy")()[0]
    return np.asarray(value)


def variable(value, name=None) -> Variable:
    """A new Variable holding a copy of `value` (dtype kept; Python floats as float32)."""
    shared = gc.shared(value, name=name)
    return Variable(
        shared.op, shared.inputs, shared.attr_dict, shared.shape, shared.dtype, name=name,
        site=shared.site,
    )

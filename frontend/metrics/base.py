"""Stateful metrics whose state lives in graphc shared variables.

A metric gives `update_rules(y_true, y_pred, sample_weight)`: (shared variable, new value)
pairs that the training and test functions apply in the same native call as the step, so
accumulating a metric costs no extra call. `result()` reads the accumulators; `reset_state()`
zeroes them (at the start of each epoch and evaluation).

A metric written the Keras 3 way (variables from `add_weight`, an `update_state` that calls
their `assign`/`assign_add`, a `result` computed with ops) gets its update rules by tracing
its `update_state` (see frontend/metrics/user_metric.py); its `result()` is evaluated from the
variables' values after each step.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.metrics.user_metric import (
    checked_result_method,
    initial_value,
    rules_of_update_state,
)
from frontend.step_trace import record_traced_update
from frontend.variables import variable
from graphc.ir import Node


class Metric:
    """Base class: subclasses create accumulators with `add_variable` and implement
    `update_rules` (graph) and `result` (from the accumulators' values)."""

    def __init__(self, name=None, dtype=None):
        self.name = name or backend.to_snake_case(type(self).__name__)
        self.dtype = dtype or backend.floatx()
        self._variables: list = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "result" in vars(cls):
            keras_style = cls.update_rules is Metric.update_rules
            cls.result = checked_result_method(vars(cls)["result"], keras_style)

    def add_variable(self, shape=(), initializer=0.0, dtype=None, aggregation="sum", name=None):
        """A state Variable (`aggregation` is Keras' cross-device rule; graphc runs on one
        device, so every rule gives the same value)."""
        value = initial_value(initializer, shape, dtype or self.dtype, self.name)
        var = variable(value, name=f"{self.name}/{name or 'var'}")
        self._variables.append((var, value.copy()))
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras' other spelling of `add_variable` (zeros when no initializer is given)."""
        return self.add_variable(shape, initializer, dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        return [var for var, _ in self._variables]

    def reset_state(self) -> None:
        for var, initial in self._variables:
            var.set_value(initial)

    def update_rules(self, y_true, y_pred, sample_weight=None) -> list:
        """The variable assignments of the subclass's Keras-style `update_state`."""
        if type(self).update_state is Metric.update_state:
            raise NotImplementedError(
                f"{type(self).__name__} must implement update_state(y_true, y_pred, "
                f"sample_weight=None) (or update_rules)"
            )
        return rules_of_update_state(self, y_true, y_pred, sample_weight)

    def result(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred=None, sample_weight=None) -> None:
        """Accumulate arrays right away (NumPy interpreter), like a Keras metric outside fit."""
        if record_traced_update(self.update_rules, y_true, y_pred, sample_weight):
            return  # graph values: an update rule of the custom step being traced
        y_pred = np.asarray(y_pred)
        pred = gc.constant(y_pred.astype(self.dtype))
        weight = (
            None
            if sample_weight is None
            else gc.constant(np.asarray(sample_weight, dtype=self.dtype))
        )
        rules = self.update_rules(gc.constant(np.asarray(y_true)), pred, weight)
        gc.function([], [], updates=rules, backend="numpy")()

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given: total / count."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def value_rules(self, values: Node, sample_weight=None) -> list:
        values = gc.cast(values, self.dtype)
        if sample_weight is None:
            count = gc.size(values, dtype=self.dtype)
            total = gc.sum(values)
        else:
            weight = gc.cast(sample_weight, self.dtype)
            while weight.ndim < values.ndim:
                weight = gc.expand_dims(weight, -1)
            weight = gc.apply("broadcast_like", weight, values)
            total, count = gc.sum(values * weight), gc.sum(weight)
        return [(self.total, self.total + total), (self.count, self.count + count)]

    def update_rules(self, values, _unused=None, sample_weight=None):
        return self.value_rules(values, sample_weight)

    def update_state(self, values, y_pred=None, sample_weight=None):
        if record_traced_update(self.update_rules, values, None, sample_weight):
            return
        values = gc.constant(np.asarray(values, dtype=self.dtype))
        weight = (
            None
            if sample_weight is None
            else gc.constant(np.asarray(sample_weight, dtype=self.dtype))
        )
        gc.function([], [], updates=self.value_rules(values, weight), backend="numpy")()

    def result(self) -> float:
        count = float(self.count.get_value())
        return float(self.total.get_value()) / count if count else 0.0


class MeanMetricWrapper(Mean):
    """The mean over samples of `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def update_rules(self, y_true, y_pred, sample_weight=None):
        return self.value_rules(self.fn(y_true, y_pred, **self.fn_kwargs), sample_weight)

    def update_state(self, y_true, y_pred=None, sample_weight=None):
        Metric.update_state(self, y_true, y_pred, sample_weight)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}

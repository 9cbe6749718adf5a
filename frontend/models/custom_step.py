"""A model's own `train_step(self, data)` / `test_step` traced into one compiled function.

The step runs once, on placeholders: `self(x, training=True)` builds the forward graph,
`self.compute_loss(...)` or `self.compiled_loss(...)` the loss, `frontend.gradients` the
gradients, and `optimizer.apply_gradients` / `metric.update_state` become update rules (see
frontend/step_trace.py). The result is a graphc function called once per batch, like the
built-in step. The dict the step returns becomes the logs: graph values are outputs of the
function, `metric.result()` values are read from the metric after each call.
"""

from __future__ import annotations

import contextlib
import functools
import os
import traceback

import numpy as np

import graphc as gc
from frontend import seeding
from frontend.layers.tensor import call_context, current_context, flatten
from frontend.layers.tracking import layers_in
from frontend.metrics import Metric
from frontend.step_trace import tracing
from graphc.ir import Node

# graphc, frontend and passes sit side by side in one source tree
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(gc.__file__))) + os.sep


class TracedStep:
    """The compiled custom step (called with the batch's arrays) and its logs."""

    def __init__(self, function, plan: dict, owner):
        self.function, self.plan, self.owner = function, plan, owner
        self.last = []

    def __call__(self, *arrays):
        self.last = self.function(*arrays)
        self.owner.last_traced = self
        return self.last

    def logs(self) -> dict:
        out = {}
        for key, (source, ref) in self.plan.items():
            if source == "output":
                value = np.asarray(self.last[ref]) if self.last else np.nan
                out[key] = float(value) if np.ndim(value) == 0 else value
            else:
                out[key] = ref.result() if source == "metric" else ref
        return out


def build_traced_step(steps, kind: str, ys, weighted: bool) -> TracedStep:
    model = steps.model
    xs, targets, weights = steps.placeholders(ys)
    data = step_data(model, xs, targets, weights if weighted else [])
    known = steps.trackers() + list(model.metrics) + attribute_metrics(model)
    with call_context(training=kind == "train") as ctx, tracing(model, kind), marked(known):
        result = call_user_step(getattr(model, f"{kind}_step"), data, kind)
    plan, outputs = log_plan(model, result, kind)
    updates = list(ctx.updates)
    if kind == "train":
        updates.append((seeding.step_counter(), seeding.step_counter() + 1))
    function = gc.function(
        xs + targets + weights,
        outputs,
        updates=updates,
        backend=steps.backend,
        name=f"{model.name}_{kind}_step",
    )
    return TracedStep(function, plan, steps)


class TracedResult(float):
    """What `metric.result()` gives while a step is traced: its value now, marked with the
    metric, so the logs read the metric after each call under whatever key it is returned."""

    def __new__(cls, value, metric):
        marked_value = super().__new__(cls, value)
        marked_value.metric = metric
        return marked_value


def traced_result(metric):
    value = type(metric).result(metric)
    return TracedResult(value, metric) if np.ndim(value) == 0 else value  # arrays stay as-is


@contextlib.contextmanager
def marked(metrics: list):
    """Make each metric's result() a TracedResult while the block runs."""
    unique = list({id(m): m for m in metrics}.values())
    for metric in unique:
        metric.result = functools.partial(traced_result, metric)
    try:
        yield
    finally:
        for metric in unique:
            del metric.result


def step_data(model, xs: list, targets: list, weights: list):
    """What Keras passes a step: `x`, `(x, y)`, or `(x, y, sample_weight)` when the user gave
    weights (inputs, targets and weights as the model takes them: one value, or a list for
    several)."""
    x = arrange_inputs(model, xs)
    if not targets:
        return x
    y = targets[0] if len(targets) == 1 else list(targets)
    if not weights:
        return x, y
    return x, y, (weights[0] if len(weights) == 1 else list(weights))


def arrange_inputs(model, xs: list):
    if model._graph is None:
        return model._subclass_spec().arrange(list(xs))
    if isinstance(model._graph.inputs, dict):
        return dict(zip(model._graph.inputs, xs))
    return xs[0] if len(xs) == 1 else list(xs)


def call_user_step(step, data, kind: str):
    """Run the user's step on symbolic data; code that needs eager values fails naming its
    line."""
    try:
        return step(data)
    except (TypeError, AttributeError) as err:
        if not needs_eager_value(err):
            raise
        frame = user_frame(err.__traceback__)
        where = f"{frame.filename}:{frame.lineno} (`{frame.line}`)" if frame else "the step"
        raise TypeError(
            f"{kind}_step is traced once into a compiled graph, so its values are symbolic "
            f"and have no value yet: {err}, at {where}. Use graph operations (frontend.ops, "
            f"graphc) instead of float(), .numpy() or Python conditions on values (gc.where "
            f"for a choice); return graph values in the logs dict"
        ) from None


def needs_eager_value(err: Exception) -> bool:
    text = str(err)
    return "'Node'" in text or "symbolic" in text or "truth value" in text


def user_frame(tb):
    """The innermost frame of the user's code (outside graphc and the frontend)."""
    frames = [
        f
        for f in traceback.extract_tb(tb)
        if not is_library_file(f.filename) and not f.filename.startswith("<")  # not eval'd
    ]
    return frames[-1] if frames else None


def is_library_file(path: str) -> bool:
    path = os.path.abspath(path)
    packages = ("graphc", "frontend", "passes")
    return any(path.startswith(SOURCE_ROOT + package + os.sep) for package in packages)


def log_plan(model, result, kind: str):
    """({log name: (source, ref)}, graph outputs): 'output' refs index the outputs, 'metric'
    refs are Metric objects read after each call, 'value' refs are constants."""
    if kind == "predict":
        return {}, flatten(result)
    if result is None:
        result = {m.name: None for m in model.metrics}
    if not isinstance(result, dict):
        raise TypeError(
            f"{kind}_step must return a dict of logs ({{'loss': loss, ...}}); it returned "
            f"{type(result).__name__}"
        )
    metrics = {m.name: m for m in model.metrics}
    plan, outputs = {}, []
    for key, value in flat_logs(result).items():
        if isinstance(value, Node):
            plan[key] = ("output", len(outputs))
            outputs.append(value)
        elif isinstance(value, TracedResult):
            plan[key] = ("metric", value.metric)
        elif key in metrics:
            plan[key] = ("metric", metrics[key])
        else:
            plan[key] = ("value", value)
    return plan, outputs


def flat_logs(result: dict) -> dict:
    """Nested dicts of results (Keras 3's compiled metrics) merged into one level."""
    out = {}
    for key, value in result.items():
        out.update(flat_logs(value) if isinstance(value, dict) else {key: value})
    return out


def attribute_metrics(model) -> list:
    """Metric objects held in the model's public attributes (Keras tracks them)."""
    return [
        metric
        for name, value in vars(model).items()
        if not name.startswith("_")
        for metric in layers_in(value, Metric)
    ]


class CompiledLoss:
    """Keras 2's `self.compiled_loss(y, y_pred, regularization_losses=self.losses)`: the
    compiled loss, also accumulated into the 'loss' metric."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        total = self.steps.compute_loss(y_true, y_pred, sample_weight, regularization_losses)
        self.track(total, y_pred)
        return total

    def track(self, total, y_pred) -> None:
        """Accumulate the batch's loss into the 'loss' metric, weighted by the batch size."""
        batch = gc.size(flatten(y_pred)[0], axis=0, dtype=total.dtype)
        current_context().updates.extend(self.steps.loss_tracker_rules(total, batch))


class CompiledMetrics:
    """Keras 2's `self.compiled_metrics`: `update_state(y, y_pred, sample_weight=None)`
    accumulates every metric given to compile."""

    def __init__(self, steps):
        self.steps = steps

    @property
    def metrics(self) -> list:
        return [m for _, m, _ in self.steps.output_metrics or []]

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        targets, outputs = flatten(y_true), flatten(y_pred)
        weights = [sample_weight] * len(outputs)
        current_context().updates.extend(self.steps.metric_rules(targets, outputs, weights))

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

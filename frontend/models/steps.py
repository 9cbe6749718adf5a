"""The compiled step functions of a model: training (forward, loss, regularizers, gradients,
optimizer update, metric accumulation: one graphc function, one native call per step),
test (loss and metrics) and predict.

Targets' shapes are known only when data arrives, so functions are built on first use and
cached per target signature; a smaller last batch reuses them (the batch dimension is None).
"""

from __future__ import annotations

import functools

import numpy as np

import graphc as gc
from frontend import backend, losses, metrics, seeding
from frontend.layers.tensor import call_context
from frontend.models.data import DataError
from graphc.function import shape_text
from graphc.ir import user_site


def resolve_per_output(spec, names: list[str], what: str) -> list:
    """A compile() argument as one entry per output (a single value applies to every output)."""
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(
                f"compile: `{what}` has keys {unknown} that are not model outputs "
                f"{names} (at {user_site()})"
            )
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and what in ("loss", "loss_weights"):
        if len(spec) != len(names):
            raise ValueError(
                f"compile: `{what}` is a list of {len(spec)} entries but the model has "
                f"{len(names)} outputs {names} (at {user_site()})"
            )
        return list(spec)
    return [spec] * len(names)


def resolve_metric_specs(spec, names: list[str]) -> list[list]:
    if spec is None:
        return [[] for _ in names]
    if isinstance(spec, dict):
        per_output = resolve_per_output(spec, names, "metrics")
        return [
            [] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])
            for m in per_output
        ]
    spec = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if (
        len(names) > 1
        and len(spec) == len(names)
        and all(isinstance(m, (list, tuple)) or m is None for m in spec)
    ):
        return [list(m or []) for m in spec]
    return [list(spec) for _ in names]


def is_categorical(loss) -> bool:
    return losses.loss_function(loss) is losses.categorical_crossentropy or isinstance(
        loss, losses.CategoricalCrossentropy
    )


def is_sparse(loss) -> bool:
    return losses.loss_function(loss) is losses.sparse_categorical_crossentropy


def check_targets(y: np.ndarray, output_shape, loss, name: str, method: str) -> None:
    """Clear errors for targets that cannot match the output, before anything is compiled."""
    out = tuple(output_shape)
    integer_like = y.dtype.kind in "iu" or (y.size and np.all(np.mod(y, 1) == 0))
    one_column = y.ndim == len(out) - 1 or (y.ndim == len(out) and y.shape[-1] == 1)
    if is_categorical(loss) and one_column and out[-1] not in (1, None) and integer_like:
        raise DataError(
            f"{method}: loss 'categorical_crossentropy' needs one-hot targets of shape "
            f"{shape_text(out)} for output '{name}', but y has shape {y.shape} with integer class "
            f"labels. Use loss='sparse_categorical_crossentropy', or convert the labels with "
            f"frontend.utils.to_categorical(y, {out[-1]}) (at {user_site()})"
        )
    if is_sparse(loss):
        if not one_column:
            raise DataError(
                f"{method}: loss 'sparse_categorical_crossentropy' needs integer "
                f"labels of shape (None,) or (None, 1) for output '{name}', but y has "
                f"shape {y.shape}; for one-hot targets use "
                f"'categorical_crossentropy' (at {user_site()})"
            )
        return
    same = y.ndim == len(out) and all(o is None or o == d for o, d in zip(out[1:], y.shape[1:]))
    if not same and not (y.ndim == len(out) - 1 and out[-1] == 1):
        raise DataError(
            f"{method}: output '{name}' has shape {shape_text(out)}, but its targets y "
            f"have shape {y.shape} (at {user_site()})"
        )


def target_dtype(loss) -> str:
    return "int64" if is_sparse(loss) else backend.floatx()


class StepFunctions:
    """Builds and caches the model's compiled functions and owns the metric state."""

    def __init__(
        self,
        model,
        optimizer,
        output_losses,
        loss_weights,
        metric_specs,
        weighted_specs,
        backend_name,
    ):
        self.model, self.optimizer, self.backend = model, optimizer, backend_name
        self.output_names = model.output_names
        self.output_losses, self.loss_weights = output_losses, loss_weights
        self.metric_specs, self.weighted_specs = metric_specs, weighted_specs
        self.loss_tracker = metrics.Mean(name="loss")
        multi = len(self.output_names) > 1
        self.output_trackers = (
            [metrics.Mean(name=f"{n}_loss") for n in self.output_names] if multi else []
        )
        self.output_metrics = None  # [(output index, Metric, weighted)] once targets are seen
        self.cache: dict = {}

    # ---- metrics ------------------------------------------------------------------------------

    def create_metrics(self, ys) -> None:
        if self.output_metrics is not None:
            return
        multi = len(self.output_names) > 1
        self.output_metrics = []
        for i, name in enumerate(self.output_names):
            pred_shape = self.model.output_shapes[i]
            fn = losses.loss_function(self.output_losses[i]) if self.output_losses[i] else None
            for specs, weighted in ((self.metric_specs[i], False), (self.weighted_specs[i], True)):
                for spec in specs:
                    metric = metrics.get(spec, (None,) + ys[i].shape[1:], pred_shape, fn)
                    if multi:
                        metric.name = f"{name}_{metric.name}"
                    self.output_metrics.append((i, metric, weighted))

    def trackers(self) -> list:
        extra = [m for _, m, _ in self.output_metrics or []]
        return [self.loss_tracker] + self.output_trackers + extra

    def reset(self) -> None:
        for metric in self.trackers():
            metric.reset_state()

    def logs(self) -> dict:
        return {m.name: m.result() for m in self.trackers()}

    # ---- graph pieces --------------------------------------------------------------------------

    def placeholders(self, ys):
        xs = [
            gc.placeholder(shape, dtype, name=name)
            for name, shape, dtype in zip(
                self.model.input_names, self.model.input_shapes, self.model.input_dtypes
            )
        ]
        targets = [
            gc.placeholder(target_shape(y, p), y.dtype.name, name=f"{n}_target")
            for n, y, p in zip(self.output_names, ys, self.model.output_shapes)
        ]
        weights = [
            gc.placeholder((None,), backend.floatx(), name=f"{n}_sample_weight")
            for n in self.output_names
        ]
        return xs, targets, weights

    def losses_of(self, targets, outputs, weights):
        per_output = []
        for loss, y, pred, w in zip(self.output_losses, targets, outputs, weights):
            per_output.append(None if loss is None else loss(y, pred, w))
        terms = [lw * term for lw, term in zip(self.loss_weights, per_output) if term is not None]
        if not terms:
            raise ValueError(f"Model '{self.model.name}': compile() was given no loss")
        return functools.reduce(lambda a, b: a + b, terms), per_output

    def tracking_rules(self, total, per_output, targets, outputs, weights, batch) -> list:
        rules = [
            (self.loss_tracker.total, self.loss_tracker.total + total * batch),
            (self.loss_tracker.count, self.loss_tracker.count + batch),
        ]
        for tracker, term in zip(self.output_trackers, per_output):
            if term is not None:
                rules += [
                    (tracker.total, tracker.total + term * batch),
                    (tracker.count, tracker.count + batch),
                ]
        for i, metric, weighted in self.output_metrics:
            rules += metric.update_rules(targets[i], outputs[i], weights[i] if weighted else None)
        return rules

    def build(self, kind: str, ys):
        xs, targets, weights = self.placeholders(ys)
        training = kind == "train"
        with call_context(training=training) as ctx:
            outputs = self.model.forward(xs, training=training)
        total, per_output = self.losses_of(targets, outputs, weights)
        batch = gc.size(xs[0], axis=0, dtype=backend.floatx())
        rules = []
        if training:
            regularization = self.model.losses + ctx.losses
            for penalty in regularization:
                total = total + gc.cast(penalty, total.dtype)
            rules += self.gradient_rules(total)
            rules.append((seeding.step_counter(), seeding.step_counter() + 1))
        rules += ctx.updates  # outside training only stateful RNNs record any (their states)
        rules += self.tracking_rules(total, per_output, targets, outputs, weights, batch)
        return gc.function(
            xs + targets + weights,
            [total],
            updates=rules,
            backend=self.backend,
            name=f"{self.model.name}_{kind}_step",
        )

    def gradient_rules(self, total) -> list:
        params = self.model.trainable_weights
        if not params:
            return [(self.optimizer.iterations, self.optimizer.iterations + 1)]
        grads = gc.grad(total, params, disconnected="zeros")
        rules = []
        for var, expr in self.optimizer.update_rules(grads, params):
            info = self.model.weight_info(var)
            if info and info["constraint"] is not None:
                expr = info["constraint"](expr)
            rules.append((var, expr))
        return rules

    # ---- cached functions ------------------------------------------------------------------

    def signature(self, ys) -> tuple:
        return tuple((target_shape(y, p), y.dtype.name)
                     for y, p in zip(ys, self.model.output_shapes))

    def function(self, kind: str, ys):
        self.create_metrics(ys)
        key = (kind, self.signature(ys))
        if key not in self.cache:
            self.cache[key] = self.build(kind, ys)
        return self.cache[key]

    def predict_function(self):
        if "predict" not in self.cache:
            self.cache["predict"] = self.model.make_predict_function(self.backend)
        return self.cache["predict"]


def target_shape(y, pred_shape) -> tuple:
    """The target placeholder's shape: run-time (None) wherever the prediction's is, so one
    step function serves targets of every sequence length."""
    if len(y.shape) != len(pred_shape):
        return (None,) + y.shape[1:]
    # the batch axis always: a fixed-batch (stateful) model still fits any number of samples
    return (None,) + tuple(None if p is None else d for d, p in zip(y.shape[1:], pred_shape[1:]))

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
from frontend import backend, losses, metrics, mixed_precision, seeding
from frontend.compat import lookup
from frontend.distribution.training_sync import (
    averaged_gradients,
    combined_results,
    refuse_custom_step,
)
from frontend.layers.masks import get_keras_mask
from frontend.layers.tensor import call_context, flatten
from frontend.models.custom_step import build_traced_step
from frontend.models.data import DataError
from frontend.step_trace import constrained
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


def unknown_metric_message(name: str, err: ValueError) -> str:
    """The error for an unknown metric name, with 'accuracy' and 'acc' among the names that
    are suggested and listed (the metric table resolves them separately)."""
    known = {"accuracy": None, "acc": None, **metrics.FUNCTIONS, **metrics.OBJECTS}
    try:
        lookup(name, known, "metric")
    except ValueError as fuller:
        return str(fuller)
    return str(err)


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
        self.last_traced = None  # the custom step called last (its logs are the logs)

    # ---- metrics ------------------------------------------------------------------------------

    def create_metrics(self, ys) -> None:
        if self.output_metrics is not None or not ys:  # no targets (fit(x) with add_loss)
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
        self.last_traced = None  # the next call decides whose logs these are
        for metric in {id(m): m for m in self.trackers() + list(self.model.metrics)}.values():
            metric.reset_state()

    def logs(self) -> dict:
        if self.last_traced is not None:
            return self.last_traced.logs()
        return combined_results(self.trackers())  # summed over the ranks under DataParallel

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
            mask = get_keras_mask(pred)
            y, pred = same_rank(y, pred)
            if loss is not None and mask is not None:
                w = masked_sample_weight(mask, w, getattr(loss, "reduction", None), pred.dtype)
            per_output.append(None if loss is None else loss(y, pred, w))
        terms = [lw * term for lw, term in zip(self.loss_weights, per_output) if term is not None]
        return sum_terms(terms), per_output

    def compute_loss(self, y, y_pred, sample_weight=None, regularization=None):
        """The compiled losses of (y, y_pred) plus `regularization` terms (by default the
        model's losses: weight penalties and add_loss terms); Keras 3's compute_loss."""
        preds = flatten(y_pred)
        targets = [] if y is None else flatten(y)
        weights = flatten(sample_weight) if isinstance(sample_weight, (list, tuple)) else [
            sample_weight
        ] * len(preds)
        total, _ = self.losses_of(targets, preds, weights)
        extra = self.model.losses if regularization is None else list(regularization)
        total = sum_terms([total] + [gc.cast(p, backend.floatx()) for p in extra])
        if total is None:
            raise ValueError(
                f"Model '{self.model.name}': no loss to compute. Give compile() a `loss`, or "
                f"add losses with add_loss (at {user_site()})"
            )
        return total

    def loss_tracker_rules(self, total, batch) -> list:
        tracker = self.loss_tracker
        return [
            (tracker.total, tracker.total + total * batch),
            (tracker.count, tracker.count + batch),
        ]

    def tracking_rules(self, total, per_output, targets, outputs, weights, batch) -> list:
        rules = self.loss_tracker_rules(total, batch)
        for tracker, term in zip(self.output_trackers, per_output):
            if term is not None:
                rules += [
                    (tracker.total, tracker.total + term * batch),
                    (tracker.count, tracker.count + batch),
                ]
        return rules + self.metric_rules(targets, outputs, weights)

    def metric_rules(self, targets, outputs, weights) -> list:
        """Update rules of the compiled metrics for a batch."""
        rules = []
        for i, metric, weighted in self.output_metrics or []:
            mask, w = get_keras_mask(outputs[i]), weights[i] if weighted else None
            y, pred = same_rank(targets[i], outputs[i])
            if mask is not None:  # as Keras: masked steps weigh 0 in the metrics too
                w = masked_sample_weight(mask, w, None, pred.dtype)
            rules += metric.update_rules(y, pred, w)
        return rules

    def build(self, kind: str, ys):
        xs, targets, weights = self.placeholders(ys)
        training = kind == "train"
        with call_context(training=training) as ctx:
            outputs = self.model.forward(xs, training=training)
        outputs = mixed_precision.float32_outputs(outputs)  # losses, metrics: float32 (Keras 3)
        total, per_output = self.losses_of(targets, outputs, weights)
        # weight penalties count in training only; a functional model's add_loss(tensor)
        # terms (ctx.losses outside training) in evaluation too, as the Keras 2 VAE expects
        penalties = (self.model.losses if training else []) + ctx.losses
        total = sum_terms([total] + [gc.cast(p, backend.floatx()) for p in penalties])
        if total is None:
            raise ValueError(
                f"Model '{self.model.name}': compile() was given no loss and the model adds "
                f"none with add_loss (at {user_site()})"
            )
        batch = gc.size(xs[0], axis=0, dtype=backend.floatx())
        rules = []
        if training:
            rules += self.gradient_rules(total, batch)
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

    def gradient_rules(self, total, batch) -> list:
        params = self.model.trainable_weights
        if not params:
            return [(self.optimizer.iterations, self.optimizer.iterations + 1)]
        self.check_optimizer_variables(params)
        grads = averaged_gradients(gc.grad(total, params, disconnected="zeros"), batch)
        return constrained(self.model, self.optimizer.update_rules(grads, params))

    def check_optimizer_variables(self, params) -> None:
        """An optimizer keeps state per weight, created on its first step: weights added to
        the model later (a layer added after fit) need a new optimizer, as in Keras 3."""
        model = self.model
        known = model._optimizer_weights
        if known is None or not self.optimizer.built:
            model._optimizer_weights = {id(p) for p in params}
            return
        new = [p.name for p in params if id(p) not in known]
        if new:
            raise ValueError(
                f"Model '{model.name}': its optimizer {type(self.optimizer).__name__} was built "
                f"for the weights the model had when it first trained, and the model now has new "
                f"weights {new} (a layer was added after fit?). Compile again with a new "
                f"optimizer: model.compile(optimizer='{type(self.optimizer).__name__.lower()}', "
                f"...) (at {user_site()})"
            )

    # ---- cached functions ------------------------------------------------------------------

    def signature(self, ys) -> tuple:
        return tuple((target_shape(y, p), y.dtype.name)
                     for y, p in zip(ys, self.model.output_shapes))

    def function(self, kind: str, ys, weighted: bool = False):
        """The compiled `kind` step for targets like `ys`; `weighted`: the user gave sample
        weights (a custom step's data then has them as its third element)."""
        self.create_metrics(ys)
        traced = self.model._step_is_traced(kind)
        if traced and kind == "train":
            refuse_custom_step(self.model)
        key = (kind, self.signature(ys), weighted and traced)
        if key not in self.cache:
            self.cache[key] = (
                build_traced_step(self, kind, ys, weighted) if traced else self.build(kind, ys)
            )
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


def same_rank(y_true, y_pred):
    """Keras 3's rank alignment before a loss or metric: targets (batch,) against predictions
    (batch, 1) gain the unit axis (and the reverse), instead of broadcasting to (batch, batch)."""
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        if true_rank == 1:
            return gc.expand_dims(y_true, -1), y_pred
        return y_true, drop_last_axis(y_pred)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        if pred_rank == 1:
            return y_true, gc.expand_dims(y_pred, -1)
        return drop_last_axis(y_true), y_pred
    return y_true, y_pred


def drop_last_axis(x):
    return x[(slice(None),) * (len(x.shape) - 1) + (0,)]


def masked_sample_weight(mask, sample_weight, reduction, dtype):
    """Keras 3's apply_mask: masked steps weigh 0; for mean reductions the real ones weigh
    total / real, so the mean runs over the real steps only."""
    mask = gc.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        real = gc.sum(mask) + gc.constant(np.asarray(backend.epsilon(), dtype))
        mask = mask * (gc.size(mask, dtype=dtype) / real)
    if sample_weight is None:
        return mask
    sample_weight = gc.cast(sample_weight, dtype)
    while sample_weight.ndim < mask.ndim:  # one weight per sample, over every step
        sample_weight = gc.expand_dims(sample_weight, -1)
    return mask * sample_weight


def sum_terms(terms):
    """The sum of the graph scalars in `terms` that are not None (None if there are none)."""
    terms = [t for t in terms if t is not None]
    return functools.reduce(lambda a, b: a + b, terms) if terms else None

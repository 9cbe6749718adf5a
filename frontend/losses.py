"""Losses with Keras 3 formulas: each function returns one value per sample (the last axis
reduced); a `Loss` object weights those by `sample_weight` and reduces them, by default to
their mean over the batch ("sum_over_batch_size"). Probabilities are clipped to
[eps, 1 - eps] with eps = 1e-7; the `from_logits` forms use log_softmax and the stable
`max(x, 0) - x * z + log(1 + exp(-|x|))` for binary cross-entropy.

Every function takes graphc nodes; called on arrays, a Loss computes the value right away.
"""

from __future__ import annotations

import math

import numpy as np

import graphc as gc
from frontend import backend
from frontend.compat import lookup, reject_unknown
from frontend.config_objects import by_name, object_from_dict, serialize_object
from graphc.ir import Node


def _clip_probabilities(p):
    eps = backend.epsilon()
    return gc.clip(p, eps, 1.0 - eps)


def _as_float_like(y_true, y_pred):
    """y_true cast to y_pred's dtype, with a trailing axis added if it is one rank short."""
    y_true = gc.cast(y_true, y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = gc.expand_dims(y_true, -1)
    return y_true


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true = gc.cast(y_true, y_pred.dtype)
    if label_smoothing:
        classes = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    return -gc.sum(y_true * _log_probabilities(y_pred, from_logits, axis), axis=axis)


def _log_probabilities(y_pred, from_logits, axis):
    if from_logits:
        return gc.log_softmax(y_pred, axis=axis)
    normalized = y_pred / gc.sum(y_pred, axis=axis, keepdims=True)
    return gc.log(_clip_probabilities(normalized))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    labels = sparse_labels(y_true, y_pred)
    onehot = gc.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return -gc.sum(onehot * _log_probabilities(y_pred, from_logits, axis), axis=axis)


def sparse_labels(y_true, y_pred):
    """Integer class indices shaped like y_pred without its class axis."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = gc.reshape(y_true, tuple(-1 if d is None else d for d in y_true.shape[:-1]))
    if y_true.dtype not in ("int32", "int64"):
        y_true = gc.cast(y_true, "int64")
    return y_true


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true = _as_float_like(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per_element = gc.relu(y_pred) - y_pred * y_true + gc.softplus(-gc.abs(y_pred))
    else:
        p = _clip_probabilities(y_pred)
        per_element = -(y_true * gc.log(p) + (1.0 - y_true) * gc.log(1.0 - p))
    return gc.mean(per_element, axis=axis)


def mean_squared_error(y_true, y_pred):
    return gc.mean(gc.square(y_pred - _as_float_like(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return gc.mean(gc.abs(y_pred - _as_float_like(y_true, y_pred)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true = _as_float_like(y_true, y_pred)
    diff = gc.abs(y_true - y_pred) / gc.maximum(gc.abs(y_true), backend.epsilon())
    return 100.0 * gc.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true = _as_float_like(y_true, y_pred)
    eps = backend.epsilon()
    first = gc.log(gc.maximum(y_pred, eps) + 1.0)
    second = gc.log(gc.maximum(y_true, eps) + 1.0)
    return gc.mean(gc.square(first - second), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    error = y_pred - _as_float_like(y_true, y_pred)
    abs_error = gc.abs(error)
    quadratic = 0.5 * gc.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return gc.mean(gc.where(abs_error <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    x = y_pred - _as_float_like(y_true, y_pred)
    # log(cosh(x)) = x + softplus(-2x) - log(2), without overflow for large |x|.
    return gc.mean(x + gc.softplus(-2.0 * x) - math.log(2.0), axis=-1)


def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}, as Keras does for the hinge losses."""
    is_binary = gc.min(
        gc.cast(gc.logical_or(gc.equal(y_true, 0.0), gc.equal(y_true, 1.0)), y_true.dtype)
    )
    return gc.where(is_binary > 0.5, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    y_true = _hinge_labels(_as_float_like(y_true, y_pred))
    return gc.mean(gc.relu(1.0 - y_true * y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true = _hinge_labels(_as_float_like(y_true, y_pred))
    return gc.mean(gc.square(gc.relu(1.0 - y_true * y_pred)), axis=-1)


def kl_divergence(y_true, y_pred):
    eps = backend.epsilon()
    y_true = gc.clip(_as_float_like(y_true, y_pred), eps, 1.0)
    y_pred = gc.clip(y_pred, eps, 1.0)
    return gc.sum(y_true * gc.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    y_true = _as_float_like(y_true, y_pred)
    return gc.mean(y_pred - y_true * gc.log(y_pred + backend.epsilon()), axis=-1)


mse, mae, mape, msle = (
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
)
kld = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

# ---- reduction and Loss objects ------------------------------------------------------------

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def weight_values(values, sample_weight):
    """values * sample_weight, the weight given per sample and broadcast over other axes."""
    sample_weight = gc.cast(sample_weight, values.dtype)
    while sample_weight.ndim < values.ndim:
        sample_weight = gc.expand_dims(sample_weight, -1)
    return values * sample_weight


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    if sample_weight is not None:
        values = weight_values(values, sample_weight)
    if reduction in ("none", None):
        return values
    total = gc.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return total / gc.sum(gc.cast(sample_weight, values.dtype))
    return total / gc.size(values, dtype=values.dtype)


class Loss:
    """A loss object: `loss(y_true, y_pred, sample_weight=None)` -> reduced value."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: unknown reduction. Received: "
                f"reduction={reduction!r}; choose one of {REDUCTIONS}"
            )
        self.name = name or backend.to_snake_case(type(self).__name__)
        self.reduction, self.dtype = reduction, dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        if isinstance(y_pred, Node):
            return reduce_values(self.call(y_true, y_pred), sample_weight, self.reduction)
        return evaluate_eagerly(self, y_true, y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def evaluate_eagerly(loss, y_true, y_pred, sample_weight):
    y_pred = np.asarray(y_pred, dtype=backend.floatx())
    y_true = np.asarray(y_true)
    nodes = [gc.constant(y_true), gc.constant(y_pred)]
    weight = None if sample_weight is None else gc.constant(np.asarray(sample_weight, y_pred.dtype))
    return gc.function([], loss(nodes[0], nodes[1], weight), backend="numpy")()


class LossFunctionWrapper(Loss):
    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **fn_kwargs):
        super().__init__(name=name, reduction=reduction)
        self.fn, self.fn_kwargs = fn, fn_kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _loss_class(class_name, fn, default_name, **defaults):
    def __init__(self, reduction="sum_over_batch_size", name=default_name, **kwargs):
        unknown = set(kwargs) - set(defaults)
        if unknown:
            reject_unknown(kwargs, set(defaults) | {"reduction", "name"}, class_name)
        LossFunctionWrapper.__init__(
            self, fn, name=name, reduction=reduction, **{**defaults, **kwargs}
        )

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__})


CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy",
    categorical_crossentropy,
    "categorical_crossentropy",
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy",
    sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    from_logits=False,
    axis=-1,
)
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy",
    binary_crossentropy,
    "binary_crossentropy",
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, "mean_absolute_percentage_error"
)
MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, "mean_squared_logarithmic_error"
)
Huber = _loss_class("Huber", huber, "huber_loss", delta=1.0)
LogCosh = _loss_class("LogCosh", log_cosh, "log_cosh")
Hinge = _loss_class("Hinge", hinge, "hinge")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, "squared_hinge")
KLDivergence = _loss_class("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _loss_class("Poisson", poisson, "poisson")

FUNCTIONS = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mape,
    "mape": mape,
    "mean_squared_logarithmic_error": msle,
    "msle": msle,
    "huber": huber,
    "huber_loss": huber,
    "log_cosh": log_cosh,
    "logcosh": log_cosh,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "kl_divergence": kl_divergence,
    "kld": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "poisson": poisson,
}
CLASSES = by_name(
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Huber,
    LogCosh,
    Hinge,
    SquaredHinge,
    KLDivergence,
    Poisson,
)


def get(identifier, custom_objects=None) -> Loss:
    """A Loss object from a name ('categorical_crossentropy'), a function, an object or a
    config dict. An unknown name raises a ValueError suggesting the closest known name."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if custom_objects and identifier in custom_objects:
            return get(custom_objects[identifier])
        fn = lookup(identifier, FUNCTIONS, "loss")
        return LossFunctionWrapper(fn, name=identifier)
    if isinstance(identifier, dict):
        return object_from_dict(identifier, {**CLASSES, **(custom_objects or {})}, "loss")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", "loss"))
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss):
    """A JSON-able description: a function's name, or {'class_name', 'config'}."""
    if type(loss) is LossFunctionWrapper:
        name = {fn: n for n, fn in FUNCTIONS.items()}.get(loss.fn)
        if name and not loss.fn_kwargs:
            return loss.name if loss.name in FUNCTIONS else name
        return {"class_name": "__function__", "config": getattr(loss.fn, "__name__", None)}
    return serialize_object(loss)


def loss_function(loss: Loss):
    """The underlying per-sample function (used to detect the kind of loss)."""
    return getattr(loss, "fn", None)

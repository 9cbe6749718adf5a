"""Per-sample loss functions with Keras 3 formulas: each takes graphc nodes and returns one
value per sample (the last axis reduced). Probabilities are clipped to [eps, 1 - eps] with
eps = 1e-7; the `from_logits` forms use log_softmax and the stable
`max(x, 0) - x * z + log(1 + exp(-|x|))` for binary cross-entropy.
"""

from __future__ import annotations

import math

import graphc as gc
from frontend import backend


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


def categorical_hinge(y_true, y_pred):
    """max(neg - pos + 1, 0) with pos = sum(y_true * y_pred), neg = max((1 - y_true) * y_pred)."""
    y_true = gc.cast(y_true, y_pred.dtype)
    positive = gc.sum(y_true * y_pred, axis=-1)
    negative = gc.max((1.0 - y_true) * y_pred, axis=-1)
    return gc.relu(negative - positive + 1.0)


def l2_normalize(x, axis=-1):
    """x / max(||x||, eps) along `axis` (Keras clamps the squared norm at eps^2)."""
    eps = backend.epsilon()
    square_sum = gc.sum(gc.square(x), axis=axis, keepdims=True)
    return x / gc.sqrt(gc.maximum(square_sum, eps * eps))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)): -1 for parallel vectors."""
    y_true = _as_float_like(y_true, y_pred)
    return -gc.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


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

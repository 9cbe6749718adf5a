"""Accuracy-style and regression metrics: per-sample functions and their Mean wrappers."""

from __future__ import annotations

import graphc as gc
from frontend import losses
from frontend.metrics.base import MeanMetricWrapper


def _match(a, b, dtype):
    return gc.cast(gc.equal(a, b), dtype)


def accuracy(y_true, y_pred):
    """How often predictions equal labels exactly."""
    y_true = gc.cast(y_true, y_pred.dtype)
    return (
        gc.mean(_match(y_true, y_pred, y_pred.dtype), axis=-1)
        if y_pred.ndim > 1
        else _match(y_true, y_pred, y_pred.dtype)
    )


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per sample: the fraction of outputs where (y_pred > threshold) equals y_true."""
    y_true = losses._as_float_like(y_true, y_pred)
    predicted = gc.cast(y_pred > threshold, y_pred.dtype)
    return gc.mean(_match(y_true, predicted, y_pred.dtype), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """Per sample: 1 where argmax(y_pred) is argmax(y_true) (one-hot labels), else 0."""
    return _match(gc.argmax(y_true, axis=-1), gc.argmax(y_pred, axis=-1), y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per sample: 1 where argmax(y_pred) is the integer label y_true, else 0."""
    labels = gc.cast(losses.sparse_labels(y_true, y_pred), "int64")
    return _match(labels, gc.argmax(y_pred, axis=-1), y_pred.dtype)


def _in_top_k(labels, y_pred, k):
    """1 where the label's score is among the k highest (ties count as inside, like in_top_k)."""
    onehot = gc.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    label_score = gc.sum(onehot * y_pred, axis=-1, keepdims=True)
    higher = gc.sum(gc.cast(y_pred > label_score, y_pred.dtype), axis=-1)
    return gc.cast(higher < float(k), y_pred.dtype)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1 where the one-hot label's class is among the k highest scores."""
    return _in_top_k(gc.argmax(y_true, axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1 where the integer label is among the k highest scores."""
    return _in_top_k(losses.sparse_labels(y_true, y_pred), y_pred, k)


def _wrapper(class_name, fn, default_name, **defaults):
    def __init__(self, name=default_name, dtype=None, **kwargs):
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **{**defaults, **kwargs})

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__})


Accuracy = _wrapper("Accuracy", accuracy, "accuracy")
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy", threshold=0.5)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy")
SparseCategoricalAccuracy = _wrapper(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy"
)
TopKCategoricalAccuracy = _wrapper(
    "TopKCategoricalAccuracy", top_k_categorical_accuracy, "top_k_categorical_accuracy", k=5
)
SparseTopKCategoricalAccuracy = _wrapper(
    "SparseTopKCategoricalAccuracy",
    sparse_top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy",
    k=5,
)
MeanSquaredError = _wrapper("MeanSquaredError", losses.mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", losses.mean_absolute_error, "mean_absolute_error")

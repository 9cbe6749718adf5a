"""Metrics over confusion-matrix counts at thresholds: the counts themselves (TruePositives,
...), Precision and Recall (Keras 3 rules: a prediction is positive when it is > threshold; a
label is positive when it is nonzero)."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.metrics.base import Metric
from graphc.ir import user_site


def divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


class _Confusion(Metric):
    """Counts true/false positives/negatives at each threshold (vectors of len(thresholds))."""

    def __init__(self, thresholds, class_id=None, name=None, dtype=None, num_labels=None,
                 defer=False):
        super().__init__(name, dtype)
        self.thresholds = np.asarray(thresholds, dtype=self.dtype)
        self.class_id, self.num_labels = class_id, num_labels
        self.tp = self.fp = self.tn = self.fn = None
        if not defer:  # else the first update makes them, once the label count is known
            self.make_counts(num_labels)

    def make_counts(self, num_labels=None):
        """The four count vectors, or (thresholds, labels) matrices to count each label apart."""
        self.num_labels = num_labels
        size = (len(self.thresholds),) + (() if num_labels is None else (num_labels,))
        self.tp = self.add_variable(size, name="true_positives")
        self.fp = self.add_variable(size, name="false_positives")
        self.tn = self.add_variable(size, name="true_negatives")
        self.fn = self.add_variable(size, name="false_negatives")

    def _flat(self, y_true, y_pred, sample_weight):
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
        y_pred = gc.cast(y_pred, self.dtype)
        y_true = gc.cast(y_true, y_pred.dtype)
        if y_true.ndim == y_pred.ndim - 1:
            y_true = gc.expand_dims(y_true, -1)
        flat = (-1,) if self.num_labels is None else (-1, self.num_labels)
        weight = None
        if sample_weight is not None:
            weight = gc.cast(sample_weight, y_pred.dtype)
            while weight.ndim < y_pred.ndim:
                weight = gc.expand_dims(weight, -1)
            weight = gc.reshape(gc.apply("broadcast_like", weight, y_pred), flat)
        return gc.reshape(y_true, flat), gc.reshape(y_pred, flat), weight

    def update_rules(self, y_true, y_pred, sample_weight=None):
        labels, scores, weight = self._flat(y_true, y_pred, sample_weight)
        thresholds = gc.constant(self.thresholds.reshape((-1,) + (1,) * scores.ndim))
        predicted = gc.expand_dims(scores, 0) > thresholds  # (thresholds, samples[, labels])
        positive = gc.expand_dims(gc.not_equal(labels, 0.0), 0)

        def count(mask):
            values = gc.cast(mask, self.dtype)
            if weight is not None:
                values = values * gc.expand_dims(weight, 0)
            return gc.sum(values, axis=1)

        neg_pred, neg_label = gc.logical_not(predicted), gc.logical_not(positive)
        return [
            (self.tp, self.tp + count(gc.logical_and(predicted, positive))),
            (self.fp, self.fp + count(gc.logical_and(predicted, neg_label))),
            (self.tn, self.tn + count(gc.logical_and(neg_pred, neg_label))),
            (self.fn, self.fn + count(gc.logical_and(neg_pred, positive))),
        ]

    def counts(self):
        return (self.tp.get_value(), self.fp.get_value(), self.tn.get_value(), self.fn.get_value())

    def _scalar_or_list(self, values):
        values = np.asarray(values, dtype=np.float64)
        return float(values[0]) if values.size == 1 else values.tolist()


class _ThresholdRatio(_Confusion):
    """A ratio of counts at `thresholds` (default 0.5): Precision and Recall differ only in
    which counts `result` divides."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        owner = type(self).__name__
        if top_k is not None:
            raise ValueError(
                f"{owner}: top_k is not supported. Received: top_k={top_k!r} (at {user_site()})"
            )
        self.init_thresholds = thresholds
        super().__init__(_thresholds(thresholds, owner), class_id, name or owner.lower(), dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "class_id": self.class_id,
        }


class Precision(_ThresholdRatio):
    """tp / (tp + fp) at `thresholds` (default 0.5).

    Args:
        thresholds: a float or a list of floats in [0, 1]; a score above it is positive.
        class_id: measure only this class (last axis of the predictions).
        name, dtype: as for every metric.

    Example:
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[Precision()])
    """

    def result(self):
        tp, fp, _, _ = self.counts()
        return self._scalar_or_list(divide_no_nan(tp, tp + fp))


class Recall(_ThresholdRatio):
    """tp / (tp + fn) at `thresholds` (default 0.5).

    Args: as Precision.

    Example:
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[Recall(0.3)])
    """

    def result(self):
        tp, _, _, fn = self.counts()
        return self._scalar_or_list(divide_no_nan(tp, tp + fn))


def _thresholds(thresholds, owner):
    """The thresholds as a list (0.5 when None), each checked to lie in [0, 1]."""
    if thresholds is None:
        return [0.5]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    for value in values:
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(
                f"{owner}: thresholds must be floats in [0, 1]. "
                f"Received: thresholds={thresholds!r} (at {user_site()})"
            )
    return values


class _Count(_Confusion):
    """One of the four counts at `thresholds` (default 0.5): a float, or a list for several."""

    kept = "tp"

    def __init__(self, thresholds=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        super().__init__(_thresholds(thresholds, type(self).__name__), None, name, dtype)

    def result(self):
        return self._scalar_or_list(getattr(self, self.kept).get_value())

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_Count):
    """The (weighted) number of positive labels predicted positive."""

    kept = "tp"


class FalsePositives(_Count):
    """The (weighted) number of negative labels predicted positive."""

    kept = "fp"


class TrueNegatives(_Count):
    """The (weighted) number of negative labels predicted negative."""

    kept = "tn"


class FalseNegatives(_Count):
    """The (weighted) number of positive labels predicted negative."""

    kept = "fn"

"""Metrics over confusion-matrix counts at thresholds: Precision, Recall, AUC (Keras 3 rules:
a prediction is positive when it is > threshold; a label is positive when it is nonzero)."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.metrics.base import Metric


def divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


class _Confusion(Metric):
    """Counts true/false positives/negatives at each threshold (vectors of len(thresholds))."""

    def __init__(self, thresholds, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.thresholds = np.asarray(thresholds, dtype=self.dtype)
        self.class_id = class_id
        size = (len(self.thresholds),)
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
        weight = None
        if sample_weight is not None:
            weight = gc.cast(sample_weight, y_pred.dtype)
            while weight.ndim < y_pred.ndim:
                weight = gc.expand_dims(weight, -1)
            weight = gc.reshape(gc.apply("broadcast_like", weight, y_pred), (-1,))
        return gc.reshape(y_true, (-1,)), gc.reshape(y_pred, (-1,)), weight

    def update_rules(self, y_true, y_pred, sample_weight=None):
        labels, scores, weight = self._flat(y_true, y_pred, sample_weight)
        thresholds = gc.constant(self.thresholds.reshape(-1, 1))
        predicted = gc.expand_dims(scores, 0) > thresholds  # (thresholds, samples)
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
            raise ValueError(f"{owner}: top_k is not supported. Received: top_k={top_k!r}")
        self.init_thresholds = thresholds
        super().__init__(_thresholds(thresholds), class_id, name or owner.lower(), dtype)

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


def _thresholds(thresholds):
    if thresholds is None:
        return [0.5]
    return list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]


class AUC(_Confusion):
    """Area under the ROC or PR curve, from counts at `num_thresholds` evenly spaced
    thresholds (plus one just below 0 and one just above 1), as Keras computes it."""

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        from_logits=False,
    ):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR'. Received: curve={curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                f"AUC: unknown summation_method. Received: summation_method={summation_method!r}"
            )
        self.num_thresholds, self.curve = int(num_thresholds), curve
        self.summation_method, self.from_logits = summation_method, from_logits
        self.init_thresholds = thresholds
        if thresholds is None:
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        else:
            inner = sorted(thresholds)
            self.num_thresholds = len(inner) + 2
        eps = backend.epsilon()
        super().__init__([0.0 - eps] + inner + [1.0 + eps], None, name or "auc", dtype)

    def update_rules(self, y_true, y_pred, sample_weight=None):
        if self.from_logits:
            y_pred = gc.sigmoid(y_pred)
        return super().update_rules(y_true, y_pred, sample_weight)

    def result(self):
        tp, fp, tn, fn = (np.asarray(c, np.float64) for c in self.counts())
        if self.curve == "PR" and self.summation_method == "interpolation":
            return float(interpolate_pr_auc(tp, fp, fn))
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), divide_no_nan(tp, tp + fn)
        else:
            x, y = divide_no_nan(tp, tp + fn), divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "thresholds": self.init_thresholds,
            "from_logits": self.from_logits,
        }


def interpolate_pr_auc(tp, fp, fn):
    """Davis & Goadrich's interpolation of the precision-recall curve (Keras's PR AUC)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both_positive = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(both_positive, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
    increments = divide_no_nan(
        slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
    )
    return np.sum(increments)

"""F-scores (Keras 3's FBetaScore and F1Score): true/false positive and false negative counts
per class (or in total, average='micro') accumulated in the step; the score from them."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend, losses
from frontend.metrics.base import Metric
from frontend.metrics.shapes import output_columns
from graphc.ir import user_site

AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """(1 + beta^2) precision recall / (beta^2 precision + recall), per class of (batch,
    classes) predictions. A prediction counts as positive when it is > `threshold`, or, with
    threshold=None, when it is its row's largest (and nonzero) value.

    Args:
        average: None (one score per class), 'micro' (from the summed counts), 'macro'
            (the mean of the class scores) or 'weighted' (weighted by each class's support).
        beta: a float > 0: how many times recall matters more than precision.
        threshold: a float in (0, 1], or None (the arg-max).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        owner = type(self).__name__
        if average not in AVERAGES:
            raise ValueError(
                f"{owner}: average must be one of {AVERAGES}. Received: "
                f"average={average!r}"
                f" (at {user_site()})"
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(
                f"{owner}: beta must be a Python float > 0. Received: beta={beta!r}"
                f" (at {user_site()})"
            )
        if threshold is not None and (not isinstance(threshold, float) or not 0 < threshold <= 1):
            raise ValueError(
                f"{owner}: threshold must be a Python float in (0, 1] or None. "
                f"Received: threshold={threshold!r}"
                f" (at {user_site()})"
            )
        super().__init__(name, dtype)
        self.average, self.beta, self.threshold = average, beta, threshold
        self.counts = None

    def _build(self, y_true, y_pred):
        columns = output_columns(type(self).__name__, y_true, y_pred)
        shape = () if self.average == "micro" else (columns,)
        names = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")
        self.counts = [self.add_variable(shape, name=n) for n in names]

    def update_rules(self, y_true, y_pred, sample_weight=None):
        y_pred = gc.cast(y_pred, self.dtype)
        y_true = losses._as_float_like(y_true, y_pred)
        if self.counts is None:
            self._build(y_true, y_pred)
        if self.threshold is None:
            top = gc.max(y_pred, axis=-1, keepdims=True)
            positive = gc.logical_and(y_pred >= top, gc.abs(y_pred) > 1e-9)
        else:
            positive = y_pred > self.threshold
        predicted = gc.cast(positive, self.dtype)
        axis = None if self.average == "micro" else 0

        def weighted_sum(values):
            if sample_weight is not None:
                values = losses.weight_values(values, sample_weight)
            return gc.sum(values, axis=axis)

        terms = [predicted * y_true, predicted * (1.0 - y_true), (1.0 - predicted) * y_true, y_true]
        return [(var, var + weighted_sum(t)) for var, t in zip(self.counts, terms)]

    def result(self):
        if self.counts is None:
            return 0.0
        tp, fp, fn, support = (np.asarray(v.get_value(), np.float64) for v in self.counts)
        eps, beta2 = backend.epsilon(), self.beta**2
        precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
        score = (1 + beta2) * precision * recall / (beta2 * precision + recall + eps)
        if self.average == "weighted":
            return float(np.sum(score * support / (np.sum(support) + eps)))
        if self.average is not None:
            return float(np.mean(score))
        return score.tolist()

    def get_config(self):
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config

"""AUC (Keras 3): the area under the ROC or precision-recall curve, from confusion counts at
`num_thresholds` evenly spaced thresholds (plus one just below 0 and one just above 1)
accumulated in the step; with multi_label=True each label (last axis) has its own curve and
the result is their (label_weights-weighted) mean."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.metrics.confusion import _Confusion, divide_no_nan
from graphc.ir import user_site

CURVES, SUMMATIONS = ("ROC", "PR"), ("interpolation", "minoring", "majoring")


def _checked(curve, summation_method, num_thresholds):
    curve, summation_method = str(curve).upper(), str(summation_method).lower()
    if curve not in CURVES:
        raise ValueError(
            f"AUC: curve must be 'ROC' or 'PR'. Received: curve={curve!r} (at {user_site()})"
        )
    if summation_method not in SUMMATIONS:
        raise ValueError(
            f"AUC: summation_method must be one of {SUMMATIONS}. "
            f"Received: summation_method={summation_method!r} (at {user_site()})"
        )
    if num_thresholds <= 1:
        raise ValueError(
            f"AUC: num_thresholds must be > 1. Received: {num_thresholds} (at {user_site()})"
        )
    return curve, summation_method


class AUC(_Confusion):
    """Area under the ROC or PR curve as Keras computes it (see the module docstring).

    Args:
        num_thresholds: how many thresholds (> 1) discretize the curve; ignored when
            `thresholds` is given.
        curve: 'ROC' or 'PR'. summation_method: 'interpolation' (trapezoids; for PR the
            Davis-Goadrich interpolation), 'minoring' or 'majoring'.
        multi_label: count each label apart and average the labels' AUCs (else the labels are
            flattened into one curve). num_labels: their number (default: from the data).
        label_weights: per-label weights of that average (multi_label) or of the counts.
        from_logits: apply a sigmoid to the predictions first.
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        self.curve, self.summation_method = _checked(curve, summation_method, num_thresholds)
        self.num_thresholds, self.init_thresholds = int(num_thresholds), thresholds
        self.multi_label, self.from_logits = bool(multi_label), from_logits
        self.label_weights = None if label_weights is None else list(label_weights)
        if thresholds is None:
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        else:
            inner = sorted(thresholds)
            self.num_thresholds = len(inner) + 2
        eps = backend.epsilon()
        thresholds = [0.0 - eps] + inner + [1.0 + eps]
        defer = self.multi_label and num_labels is None
        labels = num_labels if self.multi_label else None
        super().__init__(thresholds, None, name or "auc", dtype, labels, defer)

    def update_rules(self, y_true, y_pred, sample_weight=None):
        if self.tp is None:
            self.make_counts(self._labels_of(y_pred))
        if self.from_logits:
            y_pred = gc.sigmoid(y_pred)
        if self.label_weights is not None and not self.multi_label:
            weights = gc.constant(np.asarray([self.label_weights], self.dtype))
            sample_weight = (
                weights if sample_weight is None else self._times(sample_weight, weights)
            )
        return super().update_rules(y_true, y_pred, sample_weight)

    def _times(self, sample_weight, label_weights):
        """Per-sample weights times per-label weights: a (batch, labels) weight."""
        return gc.expand_dims(gc.cast(sample_weight, self.dtype), -1) * label_weights

    def _labels_of(self, y_pred):
        if y_pred.ndim < 2 or y_pred.shape[-1] is None:
            raise ValueError(
                f"AUC(multi_label=True): needs predictions with a known label axis. "
                f"Received: y_pred.shape={y_pred.shape} (at {user_site()})"
            )
        return y_pred.shape[-1]

    def result(self):
        if self.tp is None:
            return 0.0
        tp, fp, tn, fn = (np.asarray(c, np.float64) for c in self.counts())
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._mean_over_labels(interpolate_pr_auc(tp, fp, fn))
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
        return self._mean_over_labels(np.sum((x[:-1] - x[1:]) * heights, axis=0))

    def _mean_over_labels(self, by_label):
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        weights = np.asarray(self.label_weights, np.float64)
        return float(divide_no_nan(np.sum(by_label * weights), np.sum(weights)))

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "thresholds": self.init_thresholds,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }


def interpolate_pr_auc(tp, fp, fn):
    """Davis & Goadrich's interpolation of the precision-recall curve (Keras's PR AUC), summed
    over the thresholds (axis 0): one value per label for (thresholds, labels) counts."""
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
    return np.sum(increments, axis=0)

"""MeanIoU (Keras 3): a class-by-class confusion matrix accumulated in the step; the result
is the mean over classes that occurred of tp / (tp + fp + fn)."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.metrics.base import Metric
from graphc.ir import user_site


class MeanIoU(Metric):
    """Mean intersection-over-union of integer class labels.

    Args:
        num_classes: the number of classes (the confusion matrix is num_classes^2).
        ignore_class: a label value left out of the counts (e.g. a 'void' class).
        sparse_y_true, sparse_y_pred: False when that side holds scores or one-hot rows
            (the class is then its arg-max over `axis`); True when it holds class indices.
    """

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"MeanIoU: num_classes must be an int >= 2. Received: num_classes={num_classes!r}"
                f" (at {user_site()})"
            )
        super().__init__(name, dtype)
        self.num_classes, self.ignore_class = num_classes, ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_variable((num_classes, num_classes), name="total_confusion_matrix")

    def _classes(self, values, sparse):
        if not sparse:
            values = gc.argmax(values, axis=self.axis)
        return gc.cast(values, "int64")

    def _flat_weight(self, sample_weight, labels):
        """sample_weight broadcast over the labels' shape (one per pixel), flattened."""
        weight = gc.cast(sample_weight, self.dtype)
        while weight.ndim < labels.ndim:
            weight = gc.expand_dims(weight, -1)
        return gc.reshape(gc.apply("broadcast_like", weight, labels), (-1,))

    def update_rules(self, y_true, y_pred, sample_weight=None):
        labels_shaped = self._classes(y_true, self.sparse_y_true)
        labels = gc.reshape(labels_shaped, (-1,))
        predicted = gc.reshape(self._classes(y_pred, self.sparse_y_pred), (-1,))
        valid = gc.logical_and(self._in_range(labels), self._in_range(predicted))
        if self.ignore_class is not None:
            valid = gc.logical_and(valid, gc.not_equal(labels, self.ignore_class))
        weight = gc.cast(valid, self.dtype)
        if sample_weight is not None:
            weight = weight * self._flat_weight(sample_weight, labels_shaped)
        # one_hot of an out-of-range index is a zero row, and its weight is zero anyway
        true_rows = gc.one_hot(labels, self.num_classes, dtype=self.dtype)
        pred_rows = gc.one_hot(predicted, self.num_classes, dtype=self.dtype)
        weighted = true_rows * gc.expand_dims(weight, -1)
        return [(self.total_cm, self.total_cm + gc.matmul(gc.transpose(weighted), pred_rows))]

    def _in_range(self, classes):
        return gc.logical_and(classes >= 0, classes < self.num_classes)

    def result(self) -> float:
        cm = np.asarray(self.total_cm.get_value(), np.float64)
        tp = np.diag(cm)
        denominator = cm.sum(0) + cm.sum(1) - tp
        valid = np.sum(denominator != 0)
        eps = backend.epsilon()
        return float(np.sum(tp / (denominator + eps)) / (valid + eps))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }

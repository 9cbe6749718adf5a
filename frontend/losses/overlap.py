"""Overlap losses for segmentation masks (Keras 3 formulas): one minus the Dice or Tversky
index, over all axes (axis=None: one value for the batch) or over the axes given."""

from __future__ import annotations

import graphc as gc
from frontend import backend


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def dice(y_true, y_pred, axis=None):
    """1 - 2 sum(y_true y_pred) / (sum(y_true) + sum(y_pred) + eps)."""
    y_true, axis = gc.cast(y_true, y_pred.dtype), _axes(axis)
    intersection = gc.sum(y_true * y_pred, axis=axis)
    total = gc.sum(y_true, axis=axis) + gc.sum(y_pred, axis=axis) + backend.epsilon()
    return 1.0 - 2.0 * intersection / total


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - tp / (tp + alpha fp + beta fn + eps), soft counts from the probabilities;
    alpha = beta = 0.5 is the Dice loss."""
    y_true, axis = gc.cast(y_true, y_pred.dtype), _axes(axis)
    true_positives = gc.sum(y_pred * y_true, axis=axis)
    false_positives = gc.sum((1.0 - y_true) * y_pred, axis=axis)
    false_negatives = gc.sum(y_true * (1.0 - y_pred), axis=axis)
    denominator = (
        true_positives + false_positives * alpha + false_negatives * beta + backend.epsilon()
    )
    return 1.0 - true_positives / denominator

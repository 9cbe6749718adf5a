"""Focal cross-entropies (Lin et al. 2018) with Keras 3's formulas: the cross-entropy of each
output scaled down by (1 - p)^gamma where the prediction p is already confident."""

from __future__ import annotations

import graphc as gc
from frontend.losses.functions import _as_float_like, _clip_probabilities


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """mean((1 - p_t)^gamma * bce) with p_t = y p + (1 - y)(1 - p); with class balancing each
    term is also weighted alpha (label 1) or 1 - alpha (label 0)."""
    y_true = _as_float_like(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = gc.sigmoid(y_pred)
    p = _clip_probabilities(y_pred)
    bce = -(y_true * gc.log(p) + (1.0 - y_true) * gc.log(1.0 - p))
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = gc.pow(1.0 - p_t, gc.as_node(float(gamma), like=p_t)) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return gc.mean(focal, axis=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """sum(alpha (1 - p)^gamma * -y log p) over the class axis, p the normalized, clipped
    probabilities (softmax of y_pred when from_logits)."""
    y_true = gc.cast(y_true, y_pred.dtype)
    if label_smoothing:
        classes = gc.size(y_pred, axis=axis, dtype=y_pred.dtype)  # known only at run time
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        y_pred = gc.softmax(y_pred, axis=axis)
    p = _clip_probabilities(y_pred / gc.sum(y_pred, axis=axis, keepdims=True))
    modulating = gc.pow(1.0 - p, gc.as_node(float(gamma), like=p))
    return gc.sum(modulating * alpha * (-y_true * gc.log(p)), axis=axis)

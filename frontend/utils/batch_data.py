"""Keras's `keras.utils.unpack_x_y_sample_weight` (and its pack counterpart): the parts of
one batch as fit hands it to a train_step."""

from __future__ import annotations


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from what a step receives: x, (x,), (x, y) or (x, y, sw)."""
    if isinstance(data, list):
        data = tuple(data)  # Keras 3 accepts a list of parts too
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch form of Keras: x alone as (x,), else (x, y) or (x, y, sample_weight)."""
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)

"""Checks shared by the metrics that keep one accumulator per output column."""

from __future__ import annotations

from graphc.ir import user_site


def output_columns(owner: str, y_true, y_pred) -> int:
    """The number of columns of (batch, columns) predictions, or a ValueError naming the
    metric and the shapes received."""
    if y_pred.ndim != 2 or y_pred.shape[-1] is None:
        raise ValueError(
            f"{owner}: expects 2D inputs (batch_size, output_dim) with output_dim known. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
            f" (at {user_site()})"
        )
    return y_pred.shape[-1]

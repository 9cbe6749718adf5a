"""Regression metrics with Keras 3's names and formulas: per-sample means (MAPE, MSLE,
cosine similarity, log-cosh), the root of the mean squared error, and R2Score."""

from __future__ import annotations

import math
import warnings

import numpy as np

import graphc as gc
from frontend import losses
from frontend.compat import user_stacklevel
from frontend.metrics.accuracy import _wrapper
from frontend.metrics.base import Mean, Metric
from frontend.metrics.shapes import output_columns
from graphc.ir import user_site


def cosine_similarity(y_true, y_pred, axis=-1):
    """sum(l2_normalize(y_true) * l2_normalize(y_pred)): 1 for parallel vectors."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


MeanAbsolutePercentageError = _wrapper(
    "MeanAbsolutePercentageError",
    losses.mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
)
MeanSquaredLogarithmicError = _wrapper(
    "MeanSquaredLogarithmicError",
    losses.mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
)
CosineSimilarity = _wrapper("CosineSimilarity", cosine_similarity, "cosine_similarity", axis=-1)
LogCoshError = _wrapper("LogCoshError", losses.log_cosh, "logcosh")


class RootMeanSquaredError(Mean):
    """sqrt(mean((y_pred - y_true)^2)) over every element seen (weighted by sample_weight)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_rules(self, y_true, y_pred, sample_weight=None):
        error = y_pred - losses._as_float_like(y_true, y_pred)
        return self.value_rules(gc.square(error), sample_weight)

    def update_state(self, y_true, y_pred=None, sample_weight=None):
        Metric.update_state(self, y_true, y_pred, sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())


AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """The coefficient of determination 1 - SS_res / SS_tot per output column, averaged
    (`class_aggregation`) and adjusted for `num_regressors` as Keras 3 does. Expects
    (batch, outputs) values; the accumulators are made on the first update."""

    def __init__(
        self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None
    ):
        if class_aggregation not in AGGREGATIONS:
            raise ValueError(
                f"R2Score: class_aggregation must be one of {AGGREGATIONS}. "
                f"Received: class_aggregation={class_aggregation!r}"
                f" (at {user_site()})"
            )
        if num_regressors < 0:
            raise ValueError(
                f"R2Score: num_regressors must be >= 0. Received: num_regressors={num_regressors}"
                f" (at {user_site()})"
            )
        super().__init__(name, dtype)
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self.num_samples = self.add_variable(name="num_samples")
        self.sums = None

    def _build(self, y_true, y_pred):
        columns = output_columns("R2Score", y_true, y_pred)
        names = ("sum", "squared_sum", "residual", "count")
        self.sums = [self.add_variable((columns,), name=n) for n in names]

    def update_rules(self, y_true, y_pred, sample_weight=None):
        y_pred = gc.cast(y_pred, self.dtype)
        y_true = losses._as_float_like(y_true, y_pred)
        if self.sums is None:
            self._build(y_true, y_pred)
        weight = gc.apply("broadcast_like", gc.as_node(1.0, like=y_true), y_true)
        if sample_weight is not None:
            weight = losses.weight_values(weight, gc.cast(sample_weight, self.dtype))
        weighted = y_true * weight
        sums = [weighted, y_true * weighted, gc.square(y_true - y_pred) * weight, weight]
        rules = [(var, var + gc.sum(s, axis=0)) for var, s in zip(self.sums, sums)]
        nonzero = gc.max(gc.cast(gc.not_equal(weight, 0.0), self.dtype), axis=-1)
        return rules + [(self.num_samples, self.num_samples + gc.sum(nonzero))]

    def result(self):
        if self.sums is None:
            return 0.0
        total, squares, residual, count = (np.asarray(v.get_value(), np.float64) for v in self.sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = squares - total * (total / count)
            raw = 1.0 - residual / spread
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation is None:
            return raw.tolist()
        if self.class_aggregation == "uniform_average":
            score = float(np.mean(raw))
        else:
            score = float(np.sum(spread * raw) / np.sum(spread))
        return self._adjusted(score)

    def _adjusted(self, score):
        """Keras's adjusted R2: 1 - (1 - r2)(n - 1) / (n - p - 1), when n > p + 1."""
        n, p = float(self.num_samples.get_value()), self.num_regressors
        if p == 0:
            return score
        if p >= n - 1:
            warnings.warn(
                f"R2Score: num_regressors={p} needs more than {p + 1} samples (got {n:g}); "
                f"the score is not adjusted",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
            return score
        return 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)

    def get_config(self):
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }

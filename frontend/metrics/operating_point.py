"""Keras 3's metrics at an operating point: the best value of one rate among the thresholds
where another rate meets a constraint (PrecisionAtRecall, RecallAtPrecision,
SensitivityAtSpecificity, SpecificityAtSensitivity), from counts at `num_thresholds` evenly
spaced thresholds in [0, 1] accumulated in the step."""

from __future__ import annotations

import numpy as np

from frontend.metrics.confusion import _Confusion, divide_no_nan
from graphc.ir import user_site


class _AtConstraint(_Confusion):
    """max(dependent rate) over the thresholds where constrained rate >= `value` (0 if none)."""

    value_name = "value"

    def __init__(self, value, num_thresholds, class_id, name, dtype):
        owner = type(self).__name__
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(
                f"{owner}: {self.value_name} must be a float in [0, 1]. "
                f"Received: {self.value_name}={value!r}"
                f" (at {user_site()})"
            )
        if not isinstance(num_thresholds, int) or num_thresholds <= 0:
            raise ValueError(
                f"{owner}: num_thresholds must be an int > 0. "
                f"Received: num_thresholds={num_thresholds!r}"
                f" (at {user_site()})"
            )
        self.value, self.num_thresholds = float(value), num_thresholds
        if num_thresholds == 1:
            thresholds = [0.5]
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            thresholds = [0.0] + inner + [1.0]
        super().__init__(thresholds, class_id, name, dtype)

    def rates(self):
        """(constrained, dependent) rates, one per threshold."""
        raise NotImplementedError

    def result(self) -> float:
        constrained, dependent = self.rates()
        feasible = constrained >= self.value
        return float(np.max(np.where(feasible, dependent, 0.0))) if feasible.any() else 0.0

    def _rates(self):
        tp, fp, tn, fn = (np.asarray(c, np.float64) for c in self.counts())
        return {
            "precision": divide_no_nan(tp, tp + fp),
            "recall": divide_no_nan(tp, tp + fn),
            "specificity": divide_no_nan(tn, tn + fp),
        }

    def get_config(self):
        return {
            **super().get_config(),
            self.value_name: self.value,
            "num_thresholds": self.num_thresholds,
            "class_id": self.class_id,
        }


class PrecisionAtRecall(_AtConstraint):
    """The best precision among thresholds whose recall is >= `recall`."""

    value_name = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def rates(self):
        rates = self._rates()
        return rates["recall"], rates["precision"]


class RecallAtPrecision(_AtConstraint):
    """The best recall among thresholds whose precision is >= `precision`."""

    value_name = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def rates(self):
        rates = self._rates()
        return rates["precision"], rates["recall"]


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) among thresholds whose specificity is >= `specificity`."""

    value_name = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def rates(self):
        rates = self._rates()
        return rates["specificity"], rates["recall"]


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity among thresholds whose sensitivity (recall) is >= `sensitivity`."""

    value_name = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def rates(self):
        rates = self._rates()
        return rates["recall"], rates["specificity"]

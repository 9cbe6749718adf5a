"""Learning-rate schedules, computed inside the compiled step from the optimizer's iteration
counter (Keras 3 formulas). `schedule(step)` takes an int64 graph node; `schedule.value(n)`
gives the float for step n."""

from __future__ import annotations

import math

import numpy as np

import graphc as gc
from frontend.compat import lookup
from frontend.config_objects import by_name, serialize_object


def _float(step):
    return gc.cast(step, "float32")


def _floor(x):
    """floor for x >= 0 (a float -> int64 cast truncates toward zero)."""
    return gc.cast(gc.cast(x, "int64"), "float32")


def cos_of(x):
    """cos(x) of a graph node (the step counter lives in the graph) or of a Python number."""
    return gc.cos(x) if isinstance(x, gc.Node) else math.cos(x)


class LearningRateSchedule:
    def __call__(self, step):
        raise NotImplementedError

    def value(self, step: int) -> float:
        s = gc.scalar("step", dtype="int64")
        return float(self(s).eval({s: np.int64(step)}))

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _require_positive_steps(owner: str, decay_steps) -> None:
    if decay_steps <= 0:
        raise ValueError(f"{owner}: decay_steps must be > 0. Received: decay_steps={decay_steps}")


class _StepRatioDecay(LearningRateSchedule):
    """A decay driven by step / decay_steps, floored when `staircase` (Exponential and
    InverseTime share their arguments and config; only the formula differs)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        _require_positive_steps(type(self).__name__, decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase
        self.name = name or type(self).__name__

    def _ratio(self, step):
        ratio = _float(step) / float(self.decay_steps)
        return _floor(ratio) if self.staircase else ratio

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_StepRatioDecay):
    """lr * decay_rate ** (step / decay_steps) (floored exponent if staircase).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps over which the rate is multiplied by `decay_rate` (> 0).
        decay_rate: the factor per `decay_steps`.
        staircase: decay in whole steps of `decay_steps` instead of continuously.

    Example:
        Adam(learning_rate=ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9))
    """

    def __call__(self, step):
        p = self._ratio(step)
        return float(self.initial_learning_rate) * gc.pow(
            gc.as_node(float(self.decay_rate), like=p), p
        )


class InverseTimeDecay(_StepRatioDecay):
    """lr / (1 + decay_rate * step / decay_steps) (floored ratio if staircase).

    Args: as ExponentialDecay. Keras 2's `decay=d` argument of the optimizers is
    InverseTimeDecay(lr, 1, d).

    Example:
        SGD(learning_rate=InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5))
    """

    def __call__(self, step):
        return float(self.initial_learning_rate) / (
            1.0 + float(self.decay_rate) * self._ratio(step)
        )


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while step <= boundaries[i], then
    values[-1]."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"PiecewiseConstantDecay: needs one more value than boundaries. "
                f"Received: {len(boundaries)} boundaries, {len(values)} values"
            )
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        step = _float(step)
        result = gc.as_node(float(self.values[-1]), like=step) + step * 0.0
        for boundary, value in reversed(list(zip(self.boundaries, self.values))):
            result = gc.where(step <= float(boundary), float(value), result)
        return result

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate (or warmup_target after a linear warmup) to
    alpha times it over decay_steps."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        _require_positive_steps("CosineDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = (
            initial_learning_rate,
            decay_steps,
            alpha,
        )
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step, start_lr):
        fraction = step / float(self.decay_steps)
        cosine = 0.5 * (1.0 + cos_of(math.pi * fraction))
        return float(start_lr) * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _float(step)
        if self.warmup_target is None:
            return self._decay(
                gc.minimum(step, float(self.decay_steps)), self.initial_learning_rate
            )
        warm = float(self.warmup_steps)
        step = gc.minimum(step, float(self.decay_steps) + warm)
        warming = (float(self.warmup_target) - float(self.initial_learning_rate)) * (
            step / max(warm, 1.0)
        ) + float(self.initial_learning_rate)
        decaying = self._decay(gc.maximum(step - warm, 0.0), self.warmup_target)
        return gc.where(step < warm, warming, decaying)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PolynomialDecay(LearningRateSchedule):
    """(lr - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end (no cycling)."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        if cycle:
            raise ValueError("PolynomialDecay: cycle=True is not supported. Received: cycle=True")
        _require_positive_steps("PolynomialDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle, self.name = (
            end_learning_rate,
            power,
            cycle,
            name,
        )

    def __call__(self, step):
        p = gc.minimum(_float(step), float(self.decay_steps)) / float(self.decay_steps)
        span = float(self.initial_learning_rate) - float(self.end_learning_rate)
        return span * gc.pow(1.0 - p, gc.as_node(float(self.power), like=p)) + float(
            self.end_learning_rate
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


CLASSES = by_name(
    ExponentialDecay,
    InverseTimeDecay,
    PiecewiseConstantDecay,
    CosineDecay,
    PolynomialDecay,
)


def serialize(schedule) -> dict:
    return serialize_object(schedule)


def deserialize(config: dict):
    return lookup(config["class_name"], CLASSES, "learning rate schedule").from_config(
        config["config"]
    )

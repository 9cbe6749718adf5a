"""What Keras 3's base optimizer does around every algorithm's update, as graph updates:
gradient accumulation (apply the mean gradient every `gradient_accumulation_steps` batches)
and an exponential moving average of the weights (`use_ema`), optionally copied into the
weights every `ema_overwrite_frequency` steps. Both are selects inside the one fused pass
per parameter, so no step needs a branch or an extra native call."""

from __future__ import annotations

import numpy as np

import graphc as gc
from graphc.ir import user_site


def check_settings(owner, use_ema, ema_momentum, ema_overwrite_frequency, accumulation_steps):
    """The same argument checks (and messages) as Keras 3's base optimizer."""
    if accumulation_steps is not None and (
        not isinstance(accumulation_steps, int) or accumulation_steps < 2
    ):
        raise ValueError(
            f"{owner}: gradient_accumulation_steps must be an integer >= 2 or None. "
            f"Received: gradient_accumulation_steps={accumulation_steps!r}"
            f" (at {user_site()})"
        )
    if use_ema and not 0 <= ema_momentum <= 1:
        raise ValueError(
            f"{owner}: ema_momentum must be in the range [0, 1]. "
            f"Received: ema_momentum={ema_momentum!r}"
            f" (at {user_site()})"
        )
    if (
        use_ema
        and ema_overwrite_frequency is not None
        and (not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1)
    ):
        raise ValueError(
            f"{owner}: ema_overwrite_frequency must be an integer >= 1 or None. "
            f"Received: ema_overwrite_frequency={ema_overwrite_frequency!r}"
            f" (at {user_site()})"
        )


def _is_multiple(count, divisor: int):
    """count % divisor == 0 for a non-negative int64 node (the quotient truncated)."""
    quotient = gc.cast(gc.cast(count, "float64") / float(divisor), "int64")
    return gc.equal(count - quotient * divisor, 0)


class AveragingAndAccumulation:
    """Mixed into Optimizer: the slots, the gradient accumulation and the weight average."""

    def configure_averaging(self, use_ema, ema_momentum, ema_overwrite_frequency, steps):
        check_settings(type(self).__name__, use_ema, ema_momentum, ema_overwrite_frequency, steps)
        self.use_ema, self.ema_momentum = bool(use_ema), float(ema_momentum)
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.gradient_accumulation_steps = steps
        self.accumulation_counter = (
            gc.shared(np.int64(0), name=f"{self.name}/accumulation_counter") if steps else None
        )

    def build_averaging_slots(self, variables) -> None:
        if self.use_ema:
            self.add_slots(variables, "average")
        if self.gradient_accumulation_steps:
            self.add_slots(variables, "gradient_accumulator")

    def accumulated_gradients(self, grads, variables):
        """(mean gradients to apply, whether this batch applies them, accumulator rules).

        Keras's rule: every batch adds its gradient; the `steps`-th batch applies
        (g + accumulated) / steps and zeroes the accumulators."""
        steps = self.gradient_accumulation_steps
        counter = self.accumulation_counter
        following = counter + 1
        is_update = following >= steps
        rules = [(counter, gc.where(is_update, gc.as_node(0, like=following), following))]
        means = []
        for g, var in zip(grads, variables):
            accumulator = self.slot("gradient_accumulator", var)
            total = accumulator + g
            means.append(total / float(steps))
            rules.append((accumulator, gc.where(is_update, total * 0.0, total)))
        return means, is_update, rules

    def average_rules(self, rules, variables) -> list:
        """The weights' moving average updated from their new values (the first step copies
        them), and the weights replaced by it every `ema_overwrite_frequency` steps."""
        new_values = {id(var): new for var, new in rules}
        first = gc.cast(gc.not_equal(self.iterations, 0), "float32")
        momentum = first * self.ema_momentum
        averages, overwrites = [], {}
        for var in variables:
            average, new = self.slot("average", var), new_values[id(var)]
            average_new = average * gc.cast(momentum, var.dtype) + new * gc.cast(
                1.0 - momentum, var.dtype
            )
            averages.append((average, average_new))
            if self.ema_overwrite_frequency:
                overwrite = _is_multiple(self.iterations + 1, self.ema_overwrite_frequency)
                overwrites[id(var)] = gc.where(overwrite, average_new, new)
        return [(var, overwrites.get(id(var), new)) for var, new in rules] + averages

    def averages(self, variables) -> list:
        """The moving average of each variable (SwapEMAWeights swaps these in)."""
        if not self.use_ema:
            raise ValueError(
                f"{type(self).__name__}: the optimizer keeps no moving average of the "
                f"weights; create it with use_ema=True"
                f" (at {user_site()})"
            )
        return [self.slot("average", var) for var in variables]

    def finalize_variable_values(self, variables) -> None:
        """At the end of fit, as in Keras: with use_ema the weights become their average."""
        if self.use_ema and self.built:
            for var, average in zip(variables, self.averages(variables)):
                var.set_value(average.get_value())

    def averaging_config(self) -> dict:
        return {
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

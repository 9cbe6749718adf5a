"""Ftrl (follow the regularized leader, McMahan et al. 2013) with Keras 3's update rule."""

from __future__ import annotations

import graphc as gc
from frontend.optimizers.base import Optimizer
from graphc.ir import user_site


class Ftrl(Optimizer):
    """With p = -learning_rate_power (0.5 by default) and n the accumulator:
    n' = n + g^2; z += g + 2 l2_shrinkage w - (n'^p - n^p) / lr * w;
    w = (clip(z, -l1, l1) - z) / (n'^p / lr + 2 (l2 + beta / (2 lr)))."""

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        settings = {
            "initial_accumulator_value": initial_accumulator_value,
            "l1_regularization_strength": l1_regularization_strength,
            "l2_regularization_strength": l2_regularization_strength,
            "l2_shrinkage_regularization_strength": l2_shrinkage_regularization_strength,
        }
        for name, value in settings.items():
            if value < 0.0:
                raise ValueError(
                    f"Ftrl: {name} must be >= 0. Received: {name}={value} (at {user_site()})"
                )
        if learning_rate_power > 0.0:
            raise ValueError(
                f"Ftrl: learning_rate_power must be <= 0. "
                f"Received: learning_rate_power={learning_rate_power}"
                f" (at {user_site()})"
            )
        self.settings = {name: float(value) for name, value in settings.items()}
        self.learning_rate_power, self.beta = float(learning_rate_power), float(beta)

    def build_slots(self, variables):
        self.add_slots(variables, "accumulator", self.settings["initial_accumulator_value"])
        self.add_slots(variables, "linear")

    def update_step(self, grad, variable, value, lr):
        s = self.settings
        accumulator, linear = self.slot("accumulator", variable), self.slot("linear", variable)
        power = gc.as_node(-self.learning_rate_power, like=accumulator)
        l2 = s["l2_regularization_strength"] + self.beta / (2.0 * lr)
        shrunk_grad = grad + value * (2.0 * s["l2_shrinkage_regularization_strength"])
        accumulator_new = accumulator + gc.square(grad)
        scale_new = gc.pow(accumulator_new, power)
        linear_new = linear + shrunk_grad - (scale_new - gc.pow(accumulator, power)) / lr * value
        quadratic = scale_new / lr + 2.0 * l2
        l1 = s["l1_regularization_strength"]
        self.assign(linear, linear_new)
        self.assign(accumulator, accumulator_new)
        return (gc.clip(linear_new, -l1, l1) - linear_new) / quadratic

    def get_config(self):
        return {
            **super().get_config(),
            **self.settings,
            "learning_rate_power": self.learning_rate_power,
            "beta": self.beta,
        }

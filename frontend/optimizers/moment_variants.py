"""Keras 3's Adam relatives: AdamW (Adam with decoupled weight decay on by default), Lion
(the sign of an interpolated momentum) and Lamb (Adam's step scaled per tensor by the trust
ratio ||w|| / ||step||). `t` = iterations + 1."""

from __future__ import annotations

import graphc as gc
from frontend.optimizers.algorithms import Adam, _Moments
from frontend.optimizers.base import Optimizer
from graphc.ir import user_site


class AdamW(Adam):
    """Adam whose weights first decay: w -= lr * weight_decay * w (default 0.004), then the
    Adam step."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError(
                "AdamW: weight_decay must be a float. Received: weight_decay=None"
                f" (at {user_site()})"
            )
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs
        )


class Lion(Optimizer):
    """w -= lr * sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g (Chen et al. 2023)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(
                f"Lion: beta_1 must be in (0, 1] (else Lion is sign SGD). Received: "
                f"beta_1={beta_1}"
                f" (at {user_site()})"
            )
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def build_slots(self, variables):
        self.add_slots(variables, "momentum")

    def update_step(self, grad, variable, value, lr):
        m = self.slot("momentum", variable)
        mixed = m * self.beta_1 + grad * (1.0 - self.beta_1)
        # b2 m + (1 - b2) g written from `mixed`, so both updates are one fused pass
        self.assign(m, mixed + (m - grad) * (self.beta_2 - self.beta_1))
        return value - lr * gc.sign(mixed)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Lamb(_Moments):
    """Adam's moments; step = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps);
    w -= lr * r * step with r = ||w|| / ||step|| (1 where either norm is 0)."""

    def build_slots(self, variables):
        self.add_slots(variables, "momentum")
        self.add_slots(variables, "velocity")

    def update_step(self, grad, variable, value, lr):
        m, v = self.moments(grad, variable)
        m_hat = m / (1.0 - self.power(self.beta_1))
        step = m_hat / (gc.sqrt(v / (1.0 - self.power(self.beta_2))) + self.epsilon)
        w_norm = gc.sqrt(gc.sum(gc.square(value)))
        step_norm = gc.sqrt(gc.sum(gc.square(step)))
        one = gc.as_node(1.0, like=w_norm)
        safe_norm = gc.where(step_norm > 0.0, step_norm, one)  # no 0/0 in the unused branch
        ratio = gc.where(gc.logical_and(w_norm > 0.0, step_norm > 0.0), w_norm / safe_norm, one)
        return value - ratio * lr * step

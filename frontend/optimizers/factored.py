"""Adafactor (Shazeer & Stern 2018) with Keras 3's update rule: the second moment of a
matrix is kept as its row and column means (O(n + m) memory), a vector's in full."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.optimizers.base import Optimizer


def _rms(x):
    return gc.sqrt(gc.mean(gc.square(x)))


class Adafactor(Optimizer):
    """With t = iterations + 1 and b = 1 - t^beta_2_decay: G = g^2 + epsilon_1;
    rows r = b r + (1 - b) mean(G, -1), columns c = b c + (1 - b) mean(G, -2),
    v = (r / mean(r)) c (a vector: v = b v + (1 - b) G); u = g / sqrt(v), clipped to RMS
    clip_threshold; w -= max(epsilon_2, rms(w)) min(lr, 1 / sqrt(t)) u (relative_step
    also caps lr itself at 1 / sqrt(t) when it is not a schedule)."""

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_2_decay, self.epsilon_1 = float(beta_2_decay), float(epsilon_1)
        self.epsilon_2, self.clip_threshold = float(epsilon_2), float(clip_threshold)
        self.relative_step = bool(relative_step)

    def build_slots(self, variables):
        for var in variables:
            if len(var.shape) >= 2:
                self._factor_slot(var, "r", var.shape[:-1])
                self._factor_slot(var, "c", var.shape[:-2] + var.shape[-1:])
        self.add_slots(variables, "velocity")

    def _factor_slot(self, var, name, shape):
        slot = gc.shared(np.zeros(shape, var.dtype), name=f"{var.name}/{name}")
        self._slots[(name, id(var))] = slot
        self._slot_order.append(slot)

    def update_step(self, grad, variable, value, lr):
        t = self.local_step()
        if self._schedule is None and self.relative_step:
            lr = gc.minimum(lr, 1.0 / gc.sqrt(t))
        alpha = gc.maximum(_rms(value), self.epsilon_2) * gc.minimum(lr, 1.0 / gc.sqrt(t))
        squared = gc.square(grad) + self.epsilon_1
        b = 1.0 - gc.pow(t, gc.as_node(self.beta_2_decay, like=t))
        v = self.slot("velocity", variable)
        if len(variable.shape) >= 2:
            r, c = self.slot("r", variable), self.slot("c", variable)
            r_new = b * r + (1.0 - b) * gc.mean(squared, axis=-1)
            c_new = b * c + (1.0 - b) * gc.mean(squared, axis=-2)
            self.assign(r, r_new)
            self.assign(c, c_new)
            row_share = r_new / gc.mean(r_new, axis=-1, keepdims=True)
            v_new = gc.expand_dims(row_share, -1) * gc.expand_dims(c_new, -2)
        else:
            v_new = b * v + (1.0 - b) * squared
        self.assign(v, v_new)
        u = grad / gc.sqrt(v_new)
        u_hat = u / gc.maximum(_rms(u) / self.clip_threshold, 1.0)
        return value - alpha * u_hat

    def get_config(self):
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }

"""The optimizers, each with Keras 3's defaults and update formula (`t` = iterations + 1)."""

from __future__ import annotations

import warnings

import numpy as np

import graphc as gc
from frontend import backend
from frontend.compat import user_stacklevel
from frontend.optimizers.base import Optimizer


def fuzz(epsilon) -> float:
    """The epsilon to use: Keras 2 documented `epsilon=None` as "K.epsilon()" (1e-7)."""
    return backend.epsilon() if epsilon is None else float(epsilon)


class SGD(Optimizer):
    """m = momentum * m - lr * g; w += m (nesterov: w += momentum * m - lr * g);
    without momentum w -= lr * g."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1]. Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def build_slots(self, variables):
        if self.momentum:
            self.add_slots(variables, "momentum")

    def update_step(self, grad, variable, value, lr):
        if not self.momentum:
            return value - grad * lr
        m = self.slot("momentum", variable)
        m_new = m * self.momentum - grad * lr
        self.assign(m, m_new)
        if self.nesterov:
            return value + (m_new * self.momentum - grad * lr)
        return value + m_new

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2; (centered: a = rho a + (1 - rho) g, v - a^2);
    step = lr g / sqrt(v + eps); momentum accumulates steps."""

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), fuzz(epsilon)
        self.centered = bool(centered)

    def build_slots(self, variables):
        self.add_slots(variables, "velocity")
        if self.momentum > 0:
            self.add_slots(variables, "momentum")
        if self.centered:
            self.add_slots(variables, "average_gradient")

    def update_step(self, grad, variable, value, lr):
        v = self.slot("velocity", variable)
        v_new = v * self.rho + gc.square(grad) * (1 - self.rho)
        self.assign(v, v_new)
        if self.centered:
            a = self.slot("average_gradient", variable)
            a_new = a * self.rho + grad * (1 - self.rho)
            self.assign(a, a_new)
            denominator = v_new - gc.square(a_new) + self.epsilon
        else:
            denominator = v_new + self.epsilon
        increment = lr * grad / gc.sqrt(denominator)
        if self.momentum > 0:
            m = self.slot("momentum", variable)
            m_new = m * self.momentum + increment
            self.assign(m, m_new)
            return value - m_new
        return value - increment

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """acc += g^2; w -= lr g / sqrt(acc + eps); acc starts at initial_accumulator_value."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = (
            float(initial_accumulator_value),
            fuzz(epsilon),
        )

    def build_slots(self, variables):
        self.add_slots(variables, "accumulator", self.initial_accumulator_value)

    def update_step(self, grad, variable, value, lr):
        acc = self.slot("accumulator", variable)
        acc_new = acc + gc.square(grad)
        self.assign(acc, acc_new)
        return value - lr * grad / gc.sqrt(acc_new + self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "initial_accumulator_value": self.initial_accumulator_value,
        }


class Adadelta(Optimizer):
    """Eg = rho Eg + (1 - rho) g^2; d = -sqrt(Ed + eps) / sqrt(Eg + eps) g;
    Ed = rho Ed + (1 - rho) d^2; w += lr d."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), fuzz(epsilon)

    def build_slots(self, variables):
        self.add_slots(variables, "accumulated_grad")
        self.add_slots(variables, "accumulated_delta_var")

    def update_step(self, grad, variable, value, lr):
        eg, ed = (
            self.slot("accumulated_grad", variable),
            self.slot("accumulated_delta_var", variable),
        )
        eg_new = eg * self.rho + gc.square(grad) * (1 - self.rho)
        delta = -(gc.sqrt(ed + self.epsilon) * grad) / gc.sqrt(eg_new + self.epsilon)
        self.assign(eg, eg_new)
        self.assign(ed, ed * self.rho + gc.square(delta) * (1 - self.rho))
        return value + lr * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class _Moments(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), fuzz(epsilon)

    def moments(self, grad, variable, second="velocity", square=True):
        m, v = self.slot("momentum", variable), self.slot(second, variable)
        m_new = m + (grad - m) * (1 - self.beta_1)
        self.assign(m, m_new)
        if square:
            v_new = v + (gc.square(grad) - v) * (1 - self.beta_2)
            self.assign(v, v_new)
            return m_new, v_new
        return m_new, v

    def power(self, beta):
        return gc.pow(gc.as_node(beta, like=self.local_step()), self.local_step())

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adam(_Moments):
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); (amsgrad: v = max(v_hat, v));
    w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = bool(amsgrad)

    def build_slots(self, variables):
        self.add_slots(variables, "momentum")
        self.add_slots(variables, "velocity")
        if self.amsgrad:
            self.add_slots(variables, "velocity_hat")

    def update_step(self, grad, variable, value, lr):
        alpha = lr * gc.sqrt(1.0 - self.power(self.beta_2)) / (1.0 - self.power(self.beta_1))
        m, v = self.moments(grad, variable)
        if self.amsgrad:
            v_hat = self.slot("velocity_hat", variable)
            v = gc.maximum(v_hat, v)
            self.assign(v_hat, v)
        return value - m * alpha / (gc.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "amsgrad": self.amsgrad}


class Adamax(_Moments):
    """m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""

    def build_slots(self, variables):
        self.add_slots(variables, "momentum")
        self.add_slots(variables, "norm")

    def update_step(self, grad, variable, value, lr):
        m, u = self.moments(grad, variable, second="norm", square=False)
        u_new = gc.maximum(u * self.beta_2, gc.abs(grad))
        self.assign(u, u_new)
        return value - lr * m / ((1.0 - self.power(self.beta_1)) * (u_new + self.epsilon))


class Nadam(_Moments):
    """Adam with Nesterov momentum and Keras 3's momentum cache: u_t = b1 (1 - 0.5 * 0.96^t),
    u_product *= u_t each step; m_hat = u_{t+1} m / (1 - u_product u_{t+1})
    + (1 - u_t) g / (1 - u_product); w -= lr m_hat / (sqrt(v / (1 - b2^t)) + eps).

    Keras 2's `schedule_decay` (its default was 0.004) is accepted with a warning; given, the
    cache follows Keras 2's formula u_t = b1 (1 - 0.5 * 0.96^(t * schedule_decay))."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        self.schedule_decay = kwargs.pop("schedule_decay", None)
        if self.schedule_decay is not None:
            warnings.warn(
                f"Nadam: `schedule_decay` is a Keras 2 argument that Keras 3 dropped (its "
                f"momentum schedule is 0.96**t); following Keras 2, the schedule is "
                f"0.96**(t * {self.schedule_decay})",
                DeprecationWarning,
                stacklevel=user_stacklevel(),
            )
            self.schedule_decay = float(self.schedule_decay)
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)

    def build_slots(self, variables):
        self.add_slots(variables, "momentum")
        self.add_slots(variables, "velocity")
        self.u_product = gc.shared(np.float32(1.0), name=f"{self.name}/u_product")

    def extra_variables(self):
        return [self.u_product] if self.built else []

    def _u(self, step):
        if self.schedule_decay is not None:
            step = step * self.schedule_decay
        return self.beta_1 * (1.0 - 0.5 * gc.pow(gc.as_node(0.96, like=step), step))

    def before_step(self, lr):
        t = self.local_step()
        self.u_t, self.u_t1 = self._u(t), self._u(t + 1.0)
        self.u_product_t = self.u_product * self.u_t
        self.assign(self.u_product, self.u_product_t)

    def update_step(self, grad, variable, value, lr):
        m, v = self.moments(grad, variable)
        u_product_t1 = self.u_product_t * self.u_t1
        m_hat = self.u_t1 * m / (1.0 - u_product_t1) + (1.0 - self.u_t) * grad / (
            1.0 - self.u_product_t
        )
        v_hat = v / (1.0 - self.power(self.beta_2))
        return value - m_hat * lr / (gc.sqrt(v_hat) + self.epsilon)

    @classmethod
    def from_config(cls, config):
        # A saved Keras 2 schedule_decay was warned about when the optimizer was made.
        config = dict(config)
        schedule_decay = config.pop("schedule_decay", None)
        optimizer = super().from_config(config)
        optimizer.schedule_decay = schedule_decay
        return optimizer

    def get_config(self):
        config = super().get_config()
        if self.schedule_decay is not None:
            config["schedule_decay"] = self.schedule_decay
        return config

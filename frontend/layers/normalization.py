"""BatchNormalization (Keras 3 defaults: momentum 0.99, epsilon 1e-3)."""

from __future__ import annotations

import graphc as gc
from frontend import constraints, initializers, regularizers
from frontend.layers.base import Layer


class BatchNormalization(Layer):
    """Normalizes with the batch's mean and (biased) variance while training, updating moving
    averages `moving = moving * momentum + batch * (1 - momentum)`; uses the moving averages at
    inference and when the layer is frozen (trainable=False)."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def build(self, input_shape):
        axis = self.axis % len(input_shape)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"BatchNormalization '{self.name}': axis {self.axis} of the input "
                f"must be known. Received: input_shape={input_shape}"
            )
        self._axis = axis
        self._param_shape = tuple(channels if i == axis else 1 for i in range(len(input_shape)))
        shape = (channels,)
        self.gamma = (
            self.add_weight(
                shape,
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(
                shape,
                self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )
            if self.center
            else None
        )
        self.moving_mean = self.add_weight(
            shape, self.moving_mean_initializer, trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape, self.moving_variance_initializer, trainable=False, name="moving_variance"
        )

    def _broadcast(self, v):
        return gc.reshape(v, self._param_shape)

    def call(self, inputs, training=False):
        if training and self.trainable:
            axes = tuple(i for i in range(inputs.ndim) if i != self._axis)
            mean = gc.mean(inputs, axis=axes, keepdims=True)
            variance = gc.mean(gc.square(inputs - mean), axis=axes, keepdims=True)
            self._update_moving(mean, variance)
        else:
            mean = self._broadcast(self.moving_mean)
            variance = self._broadcast(self.moving_variance)
        inv = 1.0 / gc.sqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * self._broadcast(self.gamma)
        out = (inputs - mean) * inv
        return out + self._broadcast(self.beta) if self.beta is not None else out

    def _update_moving(self, mean, variance):
        m = self.momentum
        flat = (-1,)
        self.add_update(self.moving_mean, self.moving_mean * m + gc.reshape(mean, flat) * (1 - m))
        self.add_update(
            self.moving_variance, self.moving_variance * m + gc.reshape(variance, flat) * (1 - m)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }

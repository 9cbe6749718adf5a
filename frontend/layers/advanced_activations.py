"""Activation layers: Softmax, ReLU, LeakyReLU, ELU and PReLU, whose slope is learned
(Keras 3 arguments).

The module keeps Keras 1/2's name, so `from keras.layers.advanced_activations import LeakyReLU`
runs with only `keras` changed to `frontend`.
"""

from __future__ import annotations

import graphc as gc
from frontend import activations
from frontend.layers.base import Layer
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)


class Softmax(Layer):
    """softmax(inputs) along `axis`. Example: `Sequential([model, Softmax()])` turns logits
    into probabilities."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return activations.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class ReLU(Layer):
    """max(x, 0), or with Keras's options: `negative_slope * (x - threshold)` below
    `threshold`, capped at `max_value`."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: max_value must be >= 0. Received: max_value={max_value}")
        if negative_slope < 0:
            raise ValueError(
                f"ReLU: negative_slope must be >= 0. Received: negative_slope={negative_slope}"
            )
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs):
        return activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """x for x > 0, `negative_slope * x` otherwise (Keras 1/2 called the slope `alpha`)."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(
                f"LeakyReLU: negative_slope must be a float >= 0. "
                f"Received: negative_slope={negative_slope!r}"
            )
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return activations.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """x for x > 0, `alpha * (exp(x) - 1)` otherwise."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return activations.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """x for x > 0, `alpha * x` otherwise, with `alpha` a learned weight of the input's
    shape (without the batch axis); `shared_axes` share one alpha along those axes.

    Example: `PReLU(shared_axes=[1, 2])` learns one slope per channel of an image.
    """

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        set_weight_options(self, alpha=(alpha_initializer, alpha_regularizer, alpha_constraint))
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = [shared_axes] if isinstance(shared_axes, int) else list(shared_axes)
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"PReLU '{self.name}': shared axis {axis} is not a non-batch axis of "
                    f"inputs of shape {tuple(input_shape)}. "
                    f"Received: shared_axes={self.shared_axes}"
                )
            shape[axis - 1] = 1
        if None in shape:
            raise ValueError(
                f"PReLU '{self.name}': every non-shared axis needs a known size (alpha has "
                f"one slope per position). Received: input_shape={tuple(input_shape)}"
            )
        self.alpha = add_weight_with_options(self, tuple(shape), "alpha")

    def call(self, inputs):
        return gc.relu(inputs) - self.alpha * gc.relu(-inputs)

    def get_config(self):
        return {
            **super().get_config(),
            **weight_options_config(self, "alpha"),
            "shared_axes": self.shared_axes,
        }


__all__ = ["Softmax", "ReLU", "LeakyReLU", "ELU", "PReLU"]

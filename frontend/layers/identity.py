"""Identity (Keras 3): returns its input unchanged, a placeholder in a model's layer list."""

from __future__ import annotations

from frontend.layers.base import Layer


class Identity(Layer):
    """`Identity()(x)` is `x`."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def call(self, inputs):
        return inputs

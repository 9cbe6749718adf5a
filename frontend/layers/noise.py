"""Regularization layers that act only while training (Keras 3 names and defaults):
GaussianNoise, GaussianDropout, SpatialDropout1D and SpatialDropout2D. At inference each is the
identity.

Their random numbers come from graphc's counter-based random op keyed like Dropout's
(seed, layer id, training step), so a run repeats exactly and both backends agree. Normal
noise is made from two uniform streams by the Box-Muller transform.
"""

from __future__ import annotations

import math

import graphc as gc
from frontend import seeding
from frontend.layers.base import Layer
from graphc.ir import user_site


def check_rate(rate, owner: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"{owner}: `rate` must be a float in [0, 1). Received: rate={rate!r}")
    return float(rate)


def standard_normal(key, like):
    """N(0, 1) noise shaped like `like`: Box-Muller on two uniform draws of one stream."""
    uniforms = seeding.uniform_rows(key, gc.stack([like, like], axis=-1))  # batch first
    radius = gc.sqrt(-2.0 * gc.log(1.0 - uniforms[..., 0]))  # 1 - u in (0, 1]: log is finite
    return radius * gc.cos((2.0 * math.pi) * uniforms[..., 1])


class _TrainingNoise(Layer):
    """Shared by the layers below: a seed, a layer id for the key, identity at inference."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed, self.layer_id = seed, seeding.layer_id_for(seed)

    def call(self, inputs, training=False):
        if not training or not self.active():
            return inputs
        return self.noisy(inputs, seeding.dropout_key(self.layer_id))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(_TrainingNoise):
    """Adds N(0, stddev^2) noise while training. Example: `GaussianNoise(0.1)`."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(
                f"GaussianNoise: `stddev` must be a float >= 0. Received: stddev={stddev!r}"
            )
        self.stddev = float(stddev)

    def active(self) -> bool:
        return self.stddev > 0

    def noisy(self, inputs, key):
        return inputs + self.stddev * standard_normal(key, inputs)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_TrainingNoise):
    """Multiplies by 1 + N(0, rate / (1 - rate)) noise while training (mean-preserving).

    Example: `GaussianDropout(0.2)`
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = check_rate(rate, "GaussianDropout")

    def active(self) -> bool:
        return self.rate > 0

    def noisy(self, inputs, key):
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * (1.0 + stddev * standard_normal(key, inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class _SpatialDropout(_TrainingNoise):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel)."""

    rank = 1

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        owner = type(self).__name__
        self.rate = check_rate(rate, owner)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"{owner}: data_format must be 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        self.data_format = data_format

    def active(self) -> bool:
        return self.rate > 0

    def noisy(self, inputs, key):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of rank {self.rank + 2}. "
                f"Received: input_shape={inputs.shape} (at {user_site()})"
            )
        first = 2 if self.data_format == "channels_first" else 1
        index = tuple(
            slice(0, 1) if first <= axis < first + self.rank else slice(None)
            for axis in range(inputs.ndim)
        )
        keep = seeding.uniform_rows(key, inputs[index]) >= self.rate  # one draw per channel
        return inputs * (gc.cast(keep, inputs.dtype) * (1.0 / (1.0 - self.rate)))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (batch, steps, channels). Example: `SpatialDropout1D(0.2)`."""

    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of (batch, rows, cols, channels) (or channels_first)."""

    rank = 2

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, data_format, seed, **kwargs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


__all__ = ["GaussianNoise", "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D"]

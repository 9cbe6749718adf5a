"""Pooling layers (Keras names and defaults): MaxPooling1D/2D, AveragePooling1D/2D and the
global max/average poolings, with Keras's short aliases (MaxPool2D, GlobalAvgPool1D, ...).

Keras 1 spellings (`MaxPooling1D(pool_length=2, stride=2, border_mode="same")`) are renamed,
with a DeprecationWarning, by frontend/legacy_names.py.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.layers.arguments import int_tuple
from frontend.layers.base import Layer
from frontend.layers.channels import resolve_data_format, to_channels_last, to_data_format


class _Pooling(Layer):
    """Shared by the windowed poolings: `kind` is 'max' or 'avg'."""

    rank, kind = 2, "max"

    # pool_size defaults to 2 along each axis, strides to pool_size (as Keras).
    def __init__(self, pool_size=None, strides=None, padding="valid", data_format=None, **kwargs):
        owner = type(self).__name__
        super().__init__(**kwargs)
        self.pool_size = int_tuple(
            2 if pool_size is None else pool_size, self.rank, "pool_size", owner
        )
        self.strides = (
            self.pool_size if strides is None else int_tuple(strides, self.rank, "strides", owner)
        )
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(
                f"{owner}: `padding` must be 'valid' or 'same'. Received: padding={padding!r}"
            )
        self.data_format = resolve_data_format(data_format, owner)

    def call(self, inputs):
        pool = getattr(gc, f"{self.kind}_pool{self.rank}d")
        pooled = pool(to_channels_last(inputs, self.data_format), self.pool_size, self.strides,
                      self.padding)
        return to_data_format(pooled, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps (strides default to pool_size)."""

    rank, kind = 1, "max"


class MaxPooling2D(_Pooling):
    """Max over `pool_size` windows of rows and cols (strides default to pool_size)."""

    rank, kind = 2, "max"


class AveragePooling1D(_Pooling):
    """Mean over windows of `pool_size` steps; 'same' padding is left out of each mean."""

    rank, kind = 1, "avg"


class AveragePooling2D(_Pooling):
    """Mean over `pool_size` windows; 'same' padding is left out of each mean."""

    rank, kind = 2, "avg"


class _GlobalPooling(Layer):
    """Mean or max over every spatial axis: (batch, *spatial, channels) -> (batch, channels)."""

    rank, kind = 1, "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = resolve_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def call(self, inputs):
        pool = gc.global_avg_pool if self.kind == "avg" else gc.global_max_pool
        pooled = pool(self.channels_last(inputs), keepdims=self.keepdims)
        return to_data_format(pooled, self.data_format) if self.keepdims else pooled

    def channels_last(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {self.rank + 2}-d "
                f"inputs (batch, *spatial, channels). Received: {inputs.shape}"
            )
        return to_channels_last(inputs, self.data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over time; under a (batch, time) mask, the mean of the real steps only, and
    the output has no mask (Keras 3)."""

    rank, kind = 1, "avg"
    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        x = self.channels_last(inputs)
        real = gc.expand_dims(gc.cast(mask, "bool"), -1)
        total = gc.sum(gc.where(real, x, gc.constant(np.zeros((), x.dtype))), axis=1)
        pooled = total / gc.sum(gc.cast(real, x.dtype), axis=1)
        if not self.keepdims:
            return pooled
        return to_data_format(gc.expand_dims(pooled, 1), self.data_format)

    def compute_mask(self, inputs, previous_mask):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    rank, kind = 2, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    rank, kind = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    rank, kind = 2, "max"


# Keras's aliases (the same classes; configs are saved under the long names).
MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D

__all__ = [
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPool1D",
    "MaxPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
]

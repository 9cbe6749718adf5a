"""Layers that move values without arithmetic (Keras 3's reshaping family): RepeatVector,
Permute, Cropping1D and Cropping2D. (Reshape, Flatten, ZeroPadding and UpSampling live in
core.py and convolutional.py.) Each is one graphc movement op, so its gradient is the
op's own."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.layers.arguments import positive_int
from frontend.layers.base import Layer
from frontend.layers.convolutional import padding_pairs
from graphc.ir import user_site


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times.

    Example: `RepeatVector(10)` turns an encoder's last state into a decoder's input sequence.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "n", "RepeatVector")

    def call(self, inputs):
        if inputs.ndim != 2:
            raise ValueError(
                f"RepeatVector '{self.name}' expects inputs of shape (batch, features). "
                f"Received: input_shape={inputs.shape} (at {user_site()})"
            )
        ones = gc.constant(np.ones((1, self.n, 1), dtype=inputs.dtype))
        return gc.expand_dims(inputs, 1) * ones

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes: `dims` is a permutation of 1..rank (1-based, as Keras).

    Example: `Permute((2, 1))` swaps time and features of (batch, time, features).
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                f"Permute: `dims` must be a permutation of 1..{len(self.dims)} "
                f"(the batch axis stays first). Received: dims={dims}"
            )

    def call(self, inputs):
        if inputs.ndim != len(self.dims) + 1:
            raise ValueError(
                f"Permute '{self.name}': dims={self.dims} needs inputs of rank "
                f"{len(self.dims) + 1}. Received: input_shape={inputs.shape} (at {user_site()})"
            )
        return gc.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class _Cropping(Layer):
    rank = 1

    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if data_format not in (None, "channels_last", "channels_first") or (
            self.rank == 1 and data_format == "channels_first"
        ):
            raise ValueError(
                f"{owner}: data_format must be 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        self.data_format = data_format
        try:
            self.cropping = padding_pairs(cropping, self.rank, owner)
        except (ValueError, TypeError):
            raise ValueError(
                f"{owner}: `cropping` must be an int, {self.rank} ints or {self.rank} "
                f"(before, after) pairs >= 0. Received: cropping={cropping!r}"
            ) from None

    def call(self, inputs):
        first = 2 if self.data_format == "channels_first" else 1
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of rank {self.rank + 2}. "
                f"Received: input_shape={inputs.shape} (at {user_site()})"
            )
        index = [slice(None)] * inputs.ndim
        for axis, (before, after) in enumerate(self.cropping, start=first):
            size = inputs.shape[axis]
            if size is not None and before + after >= size:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': cropping {self.cropping} leaves "
                    f"nothing of axis {axis}. Received: input_shape={inputs.shape} "
                    f"(at {user_site()})"
                )
            index[axis] = slice(before, -after if after else None)
        return inputs[tuple(index)]

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


class Cropping1D(_Cropping):
    """Removes steps from (batch, steps, features): `cropping` int or (before, after)."""

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["cropping"] = config["cropping"][0]
        return config


class Cropping2D(_Cropping):
    """Removes rows and cols: int, (rows, cols) or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


__all__ = ["RepeatVector", "Permute", "Cropping1D", "Cropping2D"]

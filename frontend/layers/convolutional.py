"""Convolution layers (Keras names and defaults): Conv1D, Conv2D, and the shape-only
ZeroPadding1D/2D and UpSampling1D/2D. `data_format='channels_first'` (Keras 1's
dim_ordering='th') is supported by transposing inside the layer (frontend/layers/channels.py).

Keras 1 spellings (`Convolution1D(nb_filter=..., filter_length=..., border_mode=...)`,
`Convolution2D(nb_row=..., nb_col=..., subsample=...)`) are renamed, with a DeprecationWarning,
by frontend/legacy_names.py; `Convolution2D(32, 3, 3)` takes Keras 1's positional nb_row, nb_col.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import activations, backend
from frontend.compat import warn_deprecated
from frontend.layers.arguments import int_tuple, positive_int
from frontend.layers.base import Layer, register_layer
from frontend.layers.channels import resolve_data_format, to_channels_last, to_data_format
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)
from frontend.quantizers import int8
from graphc.ir import user_site


def conv_input_channels(layer, input_shape) -> int:
    """The channels of a (batch, *spatial, channels) input (channels first for
    data_format='channels_first'), or an error naming the layer, the shape and the user's line."""
    first = layer.data_format == "channels_first"
    channels = input_shape[1 if first else -1] if len(input_shape) == layer.rank + 2 else None
    if channels is None:
        spatial = "steps" if layer.rank == 1 else "rows, cols"
        layout = f"channels, {spatial}" if first else f"{spatial}, channels"
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects inputs of shape "
            f"(batch, {layout}) with known channels (data_format={layer.data_format!r}). "
            f"Received: input_shape={tuple(input_shape)} (at {user_site()})"
        )
    return channels


class _Conv(Layer):
    """Shared by Conv1D and Conv2D: `activation(conv(inputs, kernel) + bias)`."""

    rank = 2

    def __init__(
        self,
        filters=None,
        kernel_size=None,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        owner = type(self).__name__
        quantization = kwargs.pop("quantization", None)  # a quantized layer's saved config
        super().__init__(**kwargs)  # activity_regularizer, name, ...: the base layer's
        self.quantization = int8.check_config(self, quantization)
        self.filters = positive_int(filters, "filters", owner)
        if kernel_size is None:
            raise ValueError(f"{owner}: `kernel_size` is required. Received: kernel_size=None")
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = int_tuple(strides, self.rank, "strides", owner)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        self.padding = self.checked_padding(padding)
        if groups != 1:
            raise ValueError(
                f"{owner}: grouped convolution is not supported. Received: groups={groups}"
            )
        self.data_format, self.groups = resolve_data_format(data_format, owner), 1
        self.activation, self.use_bias = activations.get(activation), bool(use_bias)
        set_weight_options(
            self,
            kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )

    def checked_padding(self, padding) -> str:
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        if str(padding).lower() not in allowed:
            raise ValueError(
                f"{type(self).__name__}: `padding` must be one of {allowed}. "
                f"Received: padding={padding!r}"
            )
        return str(padding).lower()

    def build(self, input_shape):
        shape = self.kernel_size + (conv_input_channels(self, input_shape), self.filters)
        if self.quantization is not None:
            return int8.build_int8(self, shape)
        self.kernel = add_weight_with_options(self, shape, "kernel")
        bias_shape = (self.filters,)
        self.bias = add_weight_with_options(self, bias_shape, "bias") if self.use_bias else None

    def quantize(self, mode, **kwargs):
        """Keras 3: this layer's kernel to int8 in place (frontend/quantizers/int8.py)."""
        int8.quantize_layer(self, mode, _Conv)

    def call(self, inputs, training=False):
        conv = gc.conv1d if self.rank == 1 else gc.conv2d
        x = to_channels_last(inputs, self.data_format)
        if self.quantization is not None:
            y = int8.conv_call(self, x, training)
            return to_data_format(y, self.data_format)
        x = conv(x, self.kernel, self.strides, self.padding, self.dilation_rate)
        if self.bias is not None:
            x = x + self.bias
        return to_data_format(self.activation(x), self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "bias"),
            **int8.quantization_config(self),
        }


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); kernel (kernel_size, channels, filters).

    Example: `Conv1D(32, 5, activation="relu", padding="causal")`
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, rows, cols, channels); kernel (kh, kw, channels, filters).

    Example: `Conv2D(32, (3, 3), activation="relu")`
    """

    rank = 2


class Convolution2D(Conv2D):
    """Keras 1/2's name of Conv2D, with Keras 1's positional form `Convolution2D(nb_filter,
    nb_row, nb_col)`: `Convolution2D(32, 3, 3)` is a 3x3 kernel (not strides=3, as Keras 3's
    Conv2D(32, 3, 3) would read it). Saved and reloaded as itself."""

    def __init__(self, filters=None, nb_row=None, nb_col=None, **kwargs):
        if nb_row is not None and kwargs.get("kernel_size") is not None:
            raise TypeError(
                f"Convolution2D: got both nb_row ({nb_row!r}) and kernel_size "
                f"({kwargs['kernel_size']!r}); pass only kernel_size"
            )
        if nb_col is not None and isinstance(nb_row, (int, np.integer)):
            warn_deprecated("Convolution2D", "nb_row, nb_col", "kernel_size=(rows, cols)")
            nb_row, nb_col = (nb_row, nb_col), None
        if nb_col is not None:  # Keras 3's alias: Convolution2D(32, (3, 3), 2) is strides=2
            kwargs["strides"] = nb_col
        if nb_row is not None:
            kwargs["kernel_size"] = nb_row
        kwargs["name"] = kwargs.get("name") or backend.unique_name("conv2d")  # as Keras's alias
        super().__init__(filters, **kwargs)


register_layer(Conv1D, name="Convolution1D")  # Keras 1 configs load as Conv1D
Convolution1D = Conv1D


# ---- padding and upsampling --------------------------------------------------------------------


def padding_pairs(padding, rank: int, owner: str) -> tuple:
    """Keras's forms: int (all sides), one int per axis (both sides), or (before, after) pairs."""
    if isinstance(padding, (int, np.integer)):
        pairs = ((padding, padding),) * rank
    elif rank == 1 and len(padding) == 2 and all(isinstance(p, (int, np.integer)) for p in padding):
        pairs = (tuple(padding),)
    elif len(padding) == rank and all(isinstance(p, (int, np.integer)) for p in padding):
        pairs = tuple((p, p) for p in padding)
    else:
        pairs = tuple(tuple(p) for p in padding)
    if len(pairs) != rank or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(
            f"{owner}: `padding` must be an int, {rank} ints or {rank} "
            f"(before, after) pairs >= 0. Received: padding={padding!r}"
        )
    return tuple((int(a), int(b)) for a, b in pairs)


class _ZeroPadding(Layer):
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = resolve_data_format(data_format, type(self).__name__)
        self.padding = padding_pairs(padding, self.rank, type(self).__name__)

    def call(self, inputs):
        padded = gc.zero_pad(to_channels_last(inputs, self.data_format), self.padding)
        return to_data_format(padded, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "padding": [list(p) for p in self.padding],
            "data_format": self.data_format,
        }


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps axis: `padding` int or (before, after)."""

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zeros around rows and cols: int, (rows, cols) or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _UpSampling(Layer):
    rank = 1

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        owner = type(self).__name__
        super().__init__(**kwargs)
        if interpolation != "nearest":
            raise ValueError(
                f"{owner}: only interpolation='nearest' is supported. "
                f"Received: interpolation={interpolation!r}"
            )
        self.size = int_tuple(size, self.rank, "size", owner)
        self.data_format = resolve_data_format(data_format, owner)
        self.interpolation = interpolation

    def call(self, inputs):
        upsampled = gc.upsample(to_channels_last(inputs, self.data_format), self.size)
        return to_data_format(upsampled, self.data_format)


class UpSampling1D(_UpSampling):
    """Repeats each step `size` times."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, **kwargs)

    def get_config(self):
        return {**super().get_config(), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Repeats rows and cols `size` times (nearest neighbour)."""

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, interpolation, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


__all__ = [
    "Conv1D",
    "Conv2D",
    "Convolution1D",
    "Convolution2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "UpSampling1D",
    "UpSampling2D",
]

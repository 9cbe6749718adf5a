"""Convolution layers (Keras names and defaults): Conv1D, Conv2D, and the shape-only
ZeroPadding1D/2D and UpSampling1D/2D. channels_last only, as Keras's default.

Keras 1 spellings (`Convolution1D(nb_filter, filter_length, border_mode=..., subsample_length=...)`,
`Convolution2D(nb_filter, nb_row, nb_col, subsample=...)`) are accepted with a DeprecationWarning.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import activations, constraints, initializers, regularizers
from frontend.compat import warn_deprecated
from frontend.layers.base import Layer, register_layer


def keras1_arguments(kwargs: dict, owner: str, renames: dict) -> dict:
    """Pop the Keras 1 keywords present in `kwargs` (old -> new), warning for each; {new: value}."""
    found = {}
    for old, new in renames.items():
        if old in kwargs:
            warn_deprecated(owner, old, new)
            found[new] = kwargs.pop(old)
    return found


def check_data_format(data_format, owner: str) -> None:
    if as_data_format(data_format) not in (None, "channels_last"):
        raise ValueError(
            f"{owner}: only data_format='channels_last' is supported. "
            f"Received: data_format={data_format!r}"
        )


def as_data_format(value):
    """Keras 1's dim_ordering 'tf'/'th' as Keras 2's data_format."""
    return {"tf": "channels_last", "th": "channels_first"}.get(value, value)


def int_tuple(value, rank: int, name: str, owner: str) -> tuple:
    values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != rank or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise ValueError(
            f"{owner}: `{name}` must be an int or {rank} ints > 0. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


class _Conv(Layer):
    """Shared by Conv1D and Conv2D: `activation(conv(inputs, kernel) + bias)`."""

    rank = 2
    KERAS1 = {}

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
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        owner = type(self).__name__
        old = self.keras1(kwargs, owner)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        filters = old.get("filters", filters)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters < 1:
            raise ValueError(
                f"{owner}: `filters` must be a positive integer. Received: filters={filters!r}"
            )
        if old.get("kernel_size", kernel_size) is None:
            raise ValueError(f"{owner}: `kernel_size` is required. Received: kernel_size=None")
        self.filters = int(filters)
        self.kernel_size = int_tuple(
            old.get("kernel_size", kernel_size), self.rank, "kernel_size", owner
        )
        self.strides = int_tuple(old.get("strides", strides), self.rank, "strides", owner)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        self.padding = str(old.get("padding", padding)).lower()
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        if self.padding not in allowed:
            raise ValueError(
                f"{owner}: `padding` must be one of {allowed}. Received: padding={padding!r}"
            )
        self.data_format = as_data_format(old.get("data_format", data_format))
        check_data_format(self.data_format, owner)
        if groups != 1:
            raise ValueError(
                f"{owner}: grouped convolution is not supported. Received: groups={groups}"
            )
        self.groups = 1
        self.activation = activations.get(old.get("activation", activation))
        self.use_bias = bool(old.get("use_bias", use_bias))
        self.kernel_initializer = initializers.get(
            old.get("kernel_initializer", kernel_initializer)
        )
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(
            old.get("kernel_regularizer", kernel_regularizer)
        )
        self.bias_regularizer = regularizers.get(old.get("bias_regularizer", bias_regularizer))
        self.kernel_constraint = constraints.get(old.get("kernel_constraint", kernel_constraint))
        self.bias_constraint = constraints.get(old.get("bias_constraint", bias_constraint))

    def keras1(self, kwargs, owner) -> dict:
        return keras1_arguments(kwargs, owner, self.KERAS1)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of shape "
                f"(batch, {'steps' if self.rank == 1 else 'rows, cols'}, channels) "
                f"with known channels. Received: input_shape={input_shape}"
            )
        shape = self.kernel_size + (input_shape[-1], self.filters)
        self.kernel = self.add_weight(
            shape,
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (self.filters,),
                self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        conv = gc.conv1d if self.rank == 1 else gc.conv2d
        x = conv(inputs, self.kernel, self.strides, self.padding, self.dilation_rate)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

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
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


KERAS1_CONV = {
    "nb_filter": "filters",
    "border_mode": "padding",
    "init": "kernel_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "bias": "use_bias",
    "dim_ordering": "data_format",
}


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); kernel (kernel_size, channels, filters).

    Example: `Conv1D(32, 5, activation="relu", padding="causal")`
    """

    rank = 1
    KERAS1 = {**KERAS1_CONV, "filter_length": "kernel_size", "subsample_length": "strides"}

    def keras1(self, kwargs, owner) -> dict:
        # Keras 1 gave the input as input_dim (channels) and input_length (steps).
        if "input_length" in kwargs or ("input_dim" in kwargs and "input_shape" not in kwargs):
            warn_deprecated(owner, "input_dim/input_length", "input_shape=(steps, channels)")
            kwargs["input_shape"] = (
                kwargs.pop("input_length", None),
                kwargs.pop("input_dim", None),
            )
        return super().keras1(kwargs, owner)


class Conv2D(_Conv):
    """2-D convolution over (batch, rows, cols, channels); kernel (kh, kw, channels, filters).

    Example: `Conv2D(32, (3, 3), activation="relu")`
    """

    rank = 2
    KERAS1 = {**KERAS1_CONV, "subsample": "strides"}

    def keras1(self, kwargs, owner) -> dict:
        old = super().keras1(kwargs, owner)
        if "nb_row" in kwargs or "nb_col" in kwargs:
            warn_deprecated(owner, "nb_row/nb_col", "kernel_size=(rows, cols)")
            old["kernel_size"] = (kwargs.pop("nb_row"), kwargs.pop("nb_col"))
        return old


register_layer(Conv1D, name="Convolution1D")
register_layer(Conv2D, name="Convolution2D")
Convolution1D, Convolution2D = Conv1D, Conv2D


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
        check_data_format(data_format, type(self).__name__)
        self.data_format = data_format
        self.padding = padding_pairs(padding, self.rank, type(self).__name__)

    def call(self, inputs):
        return gc.zero_pad(inputs, self.padding)

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
        check_data_format(data_format, owner)
        if interpolation != "nearest":
            raise ValueError(
                f"{owner}: only interpolation='nearest' is supported. "
                f"Received: interpolation={interpolation!r}"
            )
        self.size = int_tuple(size, self.rank, "size", owner)
        self.data_format, self.interpolation = data_format, interpolation

    def call(self, inputs):
        return gc.upsample(inputs, self.size)


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

"""Where image layers keep channels: Keras's `data_format` ('channels_last', the default,
or 'channels_first', as Keras 1's dim_ordering='th' and Theano-era scripts use).

graphc's convolution and pooling ops work on channels-last data; a channels-first layer
transposes its input to channels-last, runs the op and transposes the result back, so the
layer's inputs, outputs and saved configs are exactly those of Keras.
"""

from __future__ import annotations

import graphc as gc
from frontend import config
from frontend.legacy_names import as_data_format


def resolve_data_format(data_format, owner: str) -> str:
    """'channels_last' or 'channels_first'; None (Keras 1: 'default') means
    `frontend.config.image_data_format()`."""
    unset = data_format is None or data_format == "default"
    value = as_data_format(config.image_data_format() if unset else data_format)
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{owner}: `data_format` must be 'channels_last' or 'channels_first' (Keras 1: "
            f"dim_ordering 'tf' or 'th'). Received: data_format={data_format!r}"
        )
    return value


def to_channels_last(x, data_format: str):
    """(batch, channels, *spatial) -> (batch, *spatial, channels) for channels-first data."""
    if data_format != "channels_first":
        return x
    return gc.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def to_data_format(x, data_format: str):
    """The inverse of `to_channels_last`: channels-last results back to the layer's format."""
    if data_format != "channels_first":
        return x
    return gc.transpose(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))

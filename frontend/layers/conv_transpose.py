"""Transposed convolution layers (Keras 3 names, defaults and configs): Conv1DTranspose and
Conv2DTranspose, the up-sampling half of convolutional autoencoders. channels_last only.

The kernel is (*kernel_size, filters, in_channels), as Keras's; the output length is Keras 3's:
'valid' (n - 1) * stride + max(dilated kernel, stride), 'same' n * stride, or with
`output_padding` (< stride) the length that leaves that many extra positions on the right.
"""

from __future__ import annotations

import numpy as np

from frontend.layers.channels import to_channels_last, to_data_format
from frontend.layers.convolutional import _Conv, conv_input_channels
from frontend.layers.weight_options import add_weight_with_options
from graphc.conv_family_api import conv_transpose


class _ConvTranspose(_Conv):
    """`activation(conv_transpose(inputs, kernel) + bias)`; Conv's options, no groups."""

    def __init__(self, filters=None, kernel_size=None, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         **kwargs)
        owner = type(self).__name__
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{owner}: `padding` must be 'valid' or 'same'. "
                             f"Received: padding={padding!r}")
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = self.checked_output_padding(output_padding)

    def checked_output_padding(self, output_padding) -> tuple:
        """Keras's: an int or one int per axis, each in [0, stride)."""
        values = (output_padding,) * self.rank if isinstance(output_padding, (int, np.integer)) \
            else tuple(output_padding)
        if len(values) != self.rank or not all(
                isinstance(e, (int, np.integer)) and 0 <= e < s
                for e, s in zip(values, self.strides)):
            raise ValueError(
                f"{type(self).__name__}: `output_padding` must be {self.rank} ints >= 0 and "
                f"smaller than `strides`. Received: output_padding={output_padding!r}, "
                f"strides={self.strides}")
        return tuple(int(e) for e in values)

    def build(self, input_shape):
        shape = self.kernel_size + (self.filters, conv_input_channels(self, input_shape))
        self.kernel = add_weight_with_options(self, shape, "kernel")
        bias_shape = (self.filters,)
        self.bias = add_weight_with_options(self, bias_shape, "bias") if self.use_bias else None

    def call(self, inputs):
        conv_input_channels(self, tuple(inputs.shape))
        x = conv_transpose(to_channels_last(inputs, self.data_format), self.kernel, self.strides,
                           self.padding, self.output_padding, self.dilation_rate, rank=self.rank)
        if self.bias is not None:
            x = x + self.bias
        return to_data_format(self.activation(x), self.data_format)

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        padding = None if self.output_padding is None else list(self.output_padding)
        return {**config, "output_padding": padding}


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution over (batch, steps, channels).

    Example: `Conv1DTranspose(16, 3, strides=2, padding="same")` doubles the steps.
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution over (batch, rows, cols, channels).

    Example: `Conv2DTranspose(32, 3, strides=2, padding="same")` doubles rows and cols.
    """

    rank = 2


Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose  # Keras 3

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Convolution1DTranspose",
           "Convolution2DTranspose"]

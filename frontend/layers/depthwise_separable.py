"""Depthwise and separable convolution layers (Keras 3 names, defaults and configs):
DepthwiseConv1D/2D (one filter bank per input channel, `depth_multiplier` outputs each) and
SeparableConv1D/2D (that, then a 1 x 1 convolution to `filters`). channels_last only.

Weights as Keras 3: the depthwise layers' `kernel` (*kernel_size, in_channels, multiplier);
the separable layers' `depthwise_kernel`, `pointwise_kernel` (*1, in * multiplier, filters).
The math is graphc.conv_family_api: the depthwise_conv op, then (separable) a 1 x 1 conv.
"""

from __future__ import annotations

from frontend import activations
from frontend.layers.arguments import int_tuple, positive_int
from frontend.layers.base import Layer
from frontend.layers.channels import (
    resolve_data_format,
    to_channels_last,
    to_data_format,
)
from frontend.layers.convolutional import conv_input_channels
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)
from graphc.conv_family_api import depthwise_conv, separable_conv


class _DepthwiseBase(Layer):
    """The window arguments, activation and bias shared by the depthwise and separable layers."""

    rank = 2

    def __init__(self, kernel_size=None, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs):
        owner = type(self).__name__
        super().__init__(**kwargs)  # activity_regularizer, name, ...: the base layer's
        if kernel_size is None:
            raise ValueError(f"{owner}: `kernel_size` is required. Received: kernel_size=None")
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = int_tuple(strides, self.rank, "strides", owner)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", owner)
        if str(padding).lower() not in ("valid", "same"):
            raise ValueError(f"{owner}: `padding` must be 'valid' or 'same'. "
                             f"Received: padding={padding!r}")
        self.padding = str(padding).lower()
        self.data_format = resolve_data_format(data_format, owner)
        self.activation, self.use_bias = activations.get(activation), bool(use_bias)
        set_weight_options(
            self,
            depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )

    def add_depthwise_kernel(self, input_shape, kernel_name):
        shape = self.kernel_size + (conv_input_channels(self, input_shape), self.depth_multiplier)
        return add_weight_with_options(self, shape, "depthwise", name=kernel_name)

    def add_bias(self, out_channels):
        self.bias = add_weight_with_options(self, (out_channels,), "bias") \
            if self.use_bias else None

    def channels_last(self, inputs):
        conv_input_channels(self, tuple(inputs.shape))
        return to_channels_last(inputs, self.data_format)

    def finish(self, x):
        """Bias and activation on the channels-last result, returned in the layer's format."""
        if self.bias is not None:
            x = x + self.bias
        return to_data_format(self.activation(x), self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "depth_multiplier": self.depth_multiplier,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


class _DepthwiseConv(_DepthwiseBase):
    def build(self, input_shape):
        self.kernel = self.add_depthwise_kernel(input_shape, "kernel")
        self.add_bias(conv_input_channels(self, input_shape) * self.depth_multiplier)

    def call(self, inputs):
        return self.finish(depthwise_conv(self.channels_last(inputs), self.kernel, self.strides,
                                          self.padding, self.dilation_rate, rank=self.rank))

    def get_config(self):
        return {**super().get_config(), **weight_options_config(self, "depthwise", "bias")}


class DepthwiseConv1D(_DepthwiseConv):
    """Per-channel 1-D convolution: (batch, steps, c) -> (batch, steps', c * depth_multiplier).

    Example: `DepthwiseConv1D(3, depth_multiplier=2, padding="same")`
    """

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Per-channel 2-D convolution: (batch, h, w, c) -> (batch, h', w', c * depth_multiplier).

    Example: `DepthwiseConv2D((3, 3), padding="same", activation="relu")`
    """

    rank = 2


class _SeparableConv(_DepthwiseBase):
    def __init__(self, filters=None, kernel_size=None, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        set_weight_options(
            self, pointwise=(pointwise_initializer, pointwise_regularizer, pointwise_constraint))

    def build(self, input_shape):
        self.depthwise_kernel = self.add_depthwise_kernel(input_shape, "depthwise_kernel")
        shape = (1,) * self.rank + (conv_input_channels(self, input_shape) * self.depth_multiplier,
                                    self.filters)
        self.pointwise_kernel = add_weight_with_options(self, shape, "pointwise",
                                                        name="pointwise_kernel")
        self.add_bias(self.filters)

    def call(self, inputs):
        return self.finish(separable_conv(
            self.channels_last(inputs), self.depthwise_kernel, self.pointwise_kernel, self.strides,
            self.padding, self.dilation_rate, rank=self.rank))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                **weight_options_config(self, "depthwise", "pointwise", "bias")}


class SeparableConv1D(_SeparableConv):
    """Depthwise then pointwise 1-D convolution: (batch, steps, c) -> (batch, steps', filters).

    Example: `SeparableConv1D(32, 5, padding="same", activation="relu")`
    """

    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise then pointwise 2-D convolution: (batch, h, w, c) -> (batch, h', w', filters).

    Example: `SeparableConv2D(64, (3, 3), depth_multiplier=2)`
    """

    rank = 2


SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D  # Keras 3

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
           "SeparableConvolution1D", "SeparableConvolution2D"]

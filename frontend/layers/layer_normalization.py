"""Normalizations over each sample's own features (no batch statistics, no moving averages):
LayerNormalization, RMSNormalization, GroupNormalization and UnitNormalization, with Keras 3's
arguments, defaults and weight names."""

from __future__ import annotations

import graphc as gc
from frontend.layers.arguments import positive_int
from frontend.layers.base import Layer
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)
from graphc.ir import user_site


def _config_axis(axis):
    """An int, or a list of ints (as Keras 3 keeps it, so configs survive JSON)."""
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)


def _axes(axis) -> tuple:
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else (int(axis),)


def _resolve_axes(layer, axes: tuple, input_shape: tuple) -> tuple:
    """`axes` as non-negative, known-size axes of the input, or an error naming the layer."""
    rank = len(input_shape)
    bad = [a for a in axes if not -rank <= a < rank or a % rank == 0]
    if bad or any(input_shape[a % rank] is None for a in axes):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': axis {layer.axis} must name known, "
            f"non-batch axes of the input. Received: input_shape={input_shape} (at {user_site()})"
        )
    return tuple(sorted(a % rank for a in axes))


def _param_broadcast(x, param, axes: tuple):
    """`param` (shaped like the normalized axes) reshaped to broadcast against `x`."""
    shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    return gc.reshape(param, shape)


def _variance(x, axes: tuple):
    """The biased variance over `axes`, kept as axes of size 1."""
    return gc.mean(gc.square(x - gc.mean(x, axis=axes, keepdims=True)), axis=axes, keepdims=True)


def standardize(x, axes: tuple, epsilon: float):
    """(x - mean) / sqrt(variance + epsilon) over `axes` (the biased variance)."""
    centered = x - gc.mean(x, axis=axes, keepdims=True)
    variance = gc.mean(gc.square(centered), axis=axes, keepdims=True)
    return centered / gc.sqrt(variance + epsilon)


def rms_scale(x, axes: tuple, epsilon: float):
    """x / sqrt(mean(x**2) + epsilon) over `axes`."""
    return x / gc.sqrt(gc.mean(gc.square(x), axis=axes, keepdims=True) + epsilon)


def l2_normalize(x, axes: tuple):
    """x / sqrt(max(sum(x**2 over `axes`), 1e-12)), as Keras 3's ops.normalize."""
    squares = gc.sum(gc.square(x), axis=axes, keepdims=True)
    return x / gc.sqrt(gc.maximum(squares, 1e-12))


class _AffineNormalization(Layer):
    """A normalization followed by `* gamma + beta` (each optional) over the normalized axes."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def _add_affine(self, shape, scale: bool, center: bool):
        self.gamma = add_weight_with_options(self, shape, "gamma") if scale else None
        self.beta = add_weight_with_options(self, shape, "beta") if center else None

    def _affine(self, out, axes):
        if self.gamma is not None:
            out = out * _param_broadcast(out, self.gamma, axes)
        if self.beta is not None:
            out = out + _param_broadcast(out, self.beta, axes)
        return out

    def _affine_config(self):
        return {
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **weight_options_config(self, "beta", "gamma"),
        }


def _set_affine_options(layer, epsilon, center, scale, beta, gamma):
    """`beta`, `gamma`: each its (initializer, regularizer, constraint)."""
    layer.epsilon, layer.center, layer.scale = float(epsilon), bool(center), bool(scale)
    set_weight_options(layer, beta=beta, gamma=gamma)


class LayerNormalization(_AffineNormalization):
    """Normalizes each sample over `axis` (default the last) to mean 0 and variance 1, then
    scales by `gamma` and shifts by `beta`. Example: `LayerNormalization(epsilon=1e-6)`."""

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        rms_scaling=False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis, self.rms_scaling = _config_axis(axis), bool(rms_scaling)
        _set_affine_options(
            self, epsilon, center, scale,
            beta=(beta_initializer, beta_regularizer, beta_constraint),
            gamma=(gamma_initializer, gamma_regularizer, gamma_constraint),
        )

    def build(self, input_shape):
        self._axes = _resolve_axes(self, _axes(self.axis), tuple(input_shape))
        # as Keras 3: rms_scaling always has gamma and never beta
        self._add_affine(tuple(input_shape[a] for a in self._axes),
                         scale=self.scale or self.rms_scaling,
                         center=self.center and not self.rms_scaling)

    def call(self, inputs):
        if self.rms_scaling:  # as Keras 3: x (not centred) over sqrt(variance + epsilon)
            out = inputs / gc.sqrt(_variance(inputs, self._axes) + self.epsilon)
            return (
                out if self.gamma is None else out * _param_broadcast(out, self.gamma, self._axes)
            )
        if self._axes == (inputs.ndim - 1,):  # the common case: one fused kernel per row
            return self._affine(gc.layer_norm(inputs, self.epsilon), self._axes)
        return self._affine(standardize(inputs, self._axes, self.epsilon), self._axes)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "rms_scaling": self.rms_scaling,
            **self._affine_config(),
        }


class RMSNormalization(Layer):
    """x / sqrt(mean(x**2 over `axis`) + epsilon) * scale (Keras 3.9; weight 'scale')."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.epsilon = _config_axis(axis), float(epsilon)

    def build(self, input_shape):
        self._axes = _resolve_axes(self, _axes(self.axis), tuple(input_shape))
        shape = tuple(input_shape[a] for a in self._axes)
        self.scale = self.add_weight(shape, "ones", name="scale")

    def call(self, inputs):
        out = rms_scale(inputs, self._axes, self.epsilon)
        return out * _param_broadcast(out, self.scale, self._axes)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class GroupNormalization(_AffineNormalization):
    """Splits the channels (`axis`, default the last) into `groups` and normalizes each group of
    each sample over its channels and all other non-batch axes."""

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.groups, self.axis = positive_int(groups, "groups", "GroupNormalization"), int(axis)
        _set_affine_options(
            self, epsilon, center, scale,
            beta=(beta_initializer, beta_regularizer, beta_constraint),
            gamma=(gamma_initializer, gamma_regularizer, gamma_constraint),
        )

    def build(self, input_shape):
        (self._axis,) = _resolve_axes(self, (self.axis,), tuple(input_shape))
        channels = input_shape[self._axis]
        if channels % self.groups:
            raise ValueError(
                f"GroupNormalization '{self.name}': the number of groups must divide the "
                f"{channels} channels of axis {self.axis}. Received: groups={self.groups}, "
                f"input_shape={tuple(input_shape)} (at {user_site()})"
            )
        self._add_affine((channels,), self.scale, self.center)

    def call(self, inputs):
        shape = tuple(-1 if d is None else d for d in inputs.shape)
        channels = shape[self._axis]
        split = (
            shape[: self._axis] + (self.groups, channels // self.groups) + shape[self._axis + 1 :]
        )
        grouped = gc.reshape(inputs, split)
        axes = tuple(i for i in range(1, len(split)) if i != self._axis)
        out = gc.reshape(standardize(grouped, axes, self.epsilon), shape)
        return self._affine(out, (self._axis,))

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            **self._affine_config(),
        }


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: x / sqrt(max(sum(x**2), 1e-12))."""

    supports_masking = True  # the mask passes through, as in Keras 3

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _config_axis(axis)

    def build(self, input_shape):
        self._axes = _resolve_axes(self, _axes(self.axis), tuple(input_shape))

    def call(self, inputs):
        return l2_normalize(inputs, self._axes)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

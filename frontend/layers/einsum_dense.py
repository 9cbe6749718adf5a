"""EinsumDense (Keras 3): `activation(einsum(equation, inputs, kernel) + bias)`, the kernel's
shape read off the equation, the input shape and `output_shape` (which omits the batch axis)."""

from __future__ import annotations

import re

import graphc as gc
from frontend import activations
from frontend.layers.base import Layer
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)
from frontend.quantizers import einsum as int8_einsum
from frontend.quantizers import int8
from graphc.ir import user_site

# "ab,bc->ac", "...b,bc->...c" (left ellipsis) and "ab...,bc->ac..." (right ellipsis)
_FORMS = (
    (r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
    (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", "left"),
    (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", "right"),
)


class EinsumDense(Layer):
    """A dense layer of any rank. Example: `EinsumDense("abc,cde->abde", output_shape=(None, 4,
    8), bias_axes="de")` projects (batch, seq, features) to (batch, seq, 4 heads, 8)."""

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        quantization = kwargs.pop("quantization", None)  # a quantized layer's saved config
        super().__init__(**kwargs)
        self.quantization = int8.check_config(self, quantization)
        self.equation = str(equation)
        self.partial_output_shape = _as_shape(output_shape)
        self.activation = activations.get(activation)
        self.bias_axes = bias_axes
        set_weight_options(
            self,
            kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )
        self._specs(self.equation)  # refuse an equation it cannot use now, not at build time

    def _specs(self, equation):
        text = equation.replace("...", "0")
        for pattern, elided in _FORMS:
            match = re.fullmatch(pattern, text)
            if match:
                return match.groups(), elided
        raise ValueError(
            f"EinsumDense '{self.name}': `equation` must be 'ab,bc->ac', '...b,bc->...c' or "
            f"'ab...,bc->ac...' in form. Received: equation={equation!r} (at {user_site()})"
        )

    def build(self, input_shape):
        kernel_shape, bias_shape, self.full_output_shape = self._analyze(tuple(input_shape))
        if self.quantization is not None:
            return int8_einsum.build_int8(self, kernel_shape, bias_shape)
        self.kernel = add_weight_with_options(self, kernel_shape, "kernel")
        self.bias = (
            add_weight_with_options(self, bias_shape, "bias") if bias_shape is not None else None
        )

    def _analyze(self, input_shape):
        """(kernel shape, bias shape or None, full output shape) as Keras 3 computes them."""
        (in_spec, w_spec, out_spec), elided_side = self._specs(self.equation)
        elided = len(input_shape) - len(in_spec)
        output = self._full_output_shape(input_shape, elided, elided_side)
        shift = elided if elided_side == "left" else 0
        in_axis = {c: i + shift for i, c in enumerate(in_spec)}
        out_axis = {c: i + shift for i, c in enumerate(out_spec)}
        self._check_equation(input_shape, output, in_spec, w_spec, out_spec, in_axis, out_axis)
        kernel = tuple(
            input_shape[in_axis[c]] if c in in_axis else output[out_axis[c]] for c in w_spec
        )
        return kernel, self._bias_shape(output, out_spec, out_axis, elided, elided_side), output

    def _full_output_shape(self, input_shape, elided, elided_side):
        output = [input_shape[0], *self.partial_output_shape]
        if elided > 0 and elided_side == "left":
            output[1:1] = input_shape[1:elided]
        elif elided > 0:
            output += input_shape[len(input_shape) - elided :]
        return tuple(output)

    def _check_equation(self, input_shape, output, in_spec, w_spec, out_spec, in_axis, out_axis):
        problem = None
        if len(in_spec) > len(input_shape):
            problem = f"the input has rank {len(input_shape)}, the equation's input {in_spec!r}"
        elif len(output) != len(out_spec) + len(input_shape) - len(in_spec):
            problem = f"output_shape {self.partial_output_shape} does not fit {out_spec!r}"
        for c in in_spec:
            known = c in out_axis and output[out_axis[c]] is not None
            if problem is None and known and output[out_axis[c]] != input_shape[in_axis[c]]:
                problem = (
                    f"output_shape has {output[out_axis[c]]} for '{c}', the input has "
                    f"{input_shape[in_axis[c]]}"
                )
        for c in w_spec + out_spec:
            if problem is None and c not in in_spec and c not in out_spec:
                problem = f"weight index '{c}' is in neither the input nor the output"
            if problem is None and c not in in_spec and c not in w_spec:
                problem = f"output index '{c}' is in neither the input nor the weight"
        if problem:
            raise ValueError(
                f"EinsumDense '{self.name}': {problem}. Received: equation={self.equation!r}, "
                f"input_shape={input_shape}, output_shape={self.partial_output_shape} "
                f"(at {user_site()})"
            )

    def _bias_shape(self, output, out_spec, out_axis, elided, elided_side):
        if self.bias_axes is None:
            return None
        missing = [c for c in self.bias_axes if c not in out_spec]
        if missing:
            raise ValueError(
                f"EinsumDense '{self.name}': bias_axes {self.bias_axes!r} name {missing}, which "
                f"the output {out_spec!r} lacks. Received: equation={self.equation!r} "
                f"(at {user_site()})"
            )
        first = min(out_spec.find(c) for c in self.bias_axes)
        shape = [output[out_axis[c]] if c in self.bias_axes else 1 for c in out_spec[first:]]
        trailing = elided if elided > 0 and elided_side != "left" else 0
        return tuple(shape) + (1,) * trailing

    def quantize(self, mode, **kwargs):
        """Keras 3: this layer's kernel to int8 in place (frontend/quantizers/einsum.py)."""
        int8_einsum.quantize_einsum(self, mode, EinsumDense)

    def call(self, inputs, training=False):
        if self.quantization is not None:
            return int8_einsum.einsum_call(self, inputs, training)
        x = gc.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": list(self.partial_output_shape),
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            **weight_options_config(self, "kernel", "bias"),
            **int8.quantization_config(self),
        }


def _as_shape(output_shape) -> tuple:
    if isinstance(output_shape, int):
        return (output_shape,)
    return tuple(None if d is None else int(d) for d in output_shape)

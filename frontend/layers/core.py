"""Core layers: Input/InputLayer, Dense, Activation, Dropout, Flatten, Reshape, Embedding,
Masking (and Lambda, defined in lambda_layer.py, importable from here as in Keras 1/2).

As in Keras 3, Dense, Activation and Dropout pass an input's mask on; Embedding(mask_zero=True)
and Masking make one (masks.py)."""

from __future__ import annotations

import math

import numpy as np

import graphc as gc
from frontend import activations, backend, seeding
from frontend.layers.arguments import positive_int
from frontend.layers.base import Layer
from frontend.layers.tensor import CallRecord, KerasTensor
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)
from frontend.quantizers import int8
from graphc.ir import user_site


class InputLayer(Layer):
    """The entry of a functional model: a graphc placeholder with a None batch dimension."""

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        name=None,
        **kwargs,
    ):
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        if sparse:
            raise ValueError(
                f"InputLayer: sparse inputs are not supported. Received: sparse={sparse}"
            )
        name = name or backend.unique_name("input_layer")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError(
                    "Input needs a shape, e.g. Input(shape=(784,)). Received: shape=None"
                )
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        placeholder = gc.placeholder(self.batch_shape, self.dtype, name=self.name)
        tensor = KerasTensor(placeholder, (self, 0, 0), name=self.name)
        self._inbound_calls.append(CallRecord(self, [], [tensor]))
        self.built = True

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": self.dtype,
            "sparse": False,
            "name": self.name,
        }


def Input(
    shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None
):
    """A symbolic input of a functional model. Example: `x = Input(shape=(784,))`."""
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported; use Input(shape=...)")
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        batch_shape=batch_shape,
        name=name,
    )
    return layer.output


class Dense(Layer):
    """`activation(inputs @ kernel + bias)` over the last axis."""

    supports_masking = True

    def __init__(
        self,
        units=None,
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
        quantization = kwargs.pop("quantization", None)  # a quantized Dense's saved config
        super().__init__(**kwargs)  # activity_regularizer, name, ...: the base layer's
        self.units = positive_int(units, "units", "Dense")
        self.quantization = int8.check_config(self, quantization)
        self.activation, self.use_bias = activations.get(activation, "Dense"), bool(use_bias)
        set_weight_options(
            self,
            kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"Dense '{self.name}': the last dimension of its input must be known. "
                f"Received: input_shape={input_shape}"
            )
        if self.quantization is not None:
            return int8.build_int8(self, (features, self.units))
        self.kernel = add_weight_with_options(self, (features, self.units), "kernel")
        self.bias = add_weight_with_options(self, (self.units,), "bias") if self.use_bias else None

    def quantize(self, mode, **kwargs):
        """Keras 3: this layer's kernel to int8 in place (frontend/quantizers/int8.py)."""
        int8.quantize_layer(self, mode, Dense)

    def call(self, inputs, training=False):
        if self.quantization is not None:
            return int8.dense_call(self, inputs, training)
        x = gc.matmul(inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "bias"),
            **int8.quantization_config(self),
        }


class Activation(Layer):
    """Applies an activation function (by name or callable)."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation, "Activation")

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout: while training, zeroes each unit with probability `rate` and scales the
    rest by 1 / (1 - rate); the identity at inference. The mask comes from graphc's
    counter-based random op, keyed by the seed, this layer and the training step."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"Dropout: `rate` must be a float in [0, 1). Received: rate={rate!r} "
                f"(at {user_site()})"
            )
        if noise_shape is not None:
            raise ValueError(
                f"Dropout: noise_shape is not supported. Received: noise_shape={noise_shape}"
            )
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self.layer_id = seeding.layer_id_for(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = seeding.uniform_rows(seeding.dropout_key(self.layer_id), inputs) >= self.rate
        return gc.where(keep, inputs / (1.0 - self.rate), 0.0)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": None, "seed": self.seed}


class Flatten(Layer):
    """Reshapes (batch, d1, d2, ...) to (batch, d1 * d2 * ...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs):
        rest = inputs.shape[1:]
        if None in rest:
            raise ValueError(
                f"Flatten '{self.name}': all non-batch dimensions must be known. "
                f"Received: input_shape={inputs.shape}"
            )
        if inputs.ndim > 2 and self.data_format == "channels_first":
            inputs = gc.transpose(inputs, (0,) + tuple(range(2, inputs.ndim)) + (1,))
        return gc.reshape(inputs, (-1, math.prod(rest)))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes the non-batch dimensions to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if list(self.target_shape).count(-1) > 1:
            raise ValueError(
                f"Reshape: at most one -1 in target_shape. "
                f"Received: target_shape={self.target_shape}"
            )

    def call(self, inputs):
        target = self.target_shape
        if -1 in target:
            total = math.prod(inputs.shape[1:])
            known = math.prod(d for d in target if d != -1)
            if total % known:
                raise ValueError(
                    f"Reshape '{self.name}': cannot reshape {inputs.shape} to (None, {target})"
                )
            target = tuple(total // known if d == -1 else d for d in target)
        if math.prod(target) != math.prod(inputs.shape[1:]):
            raise ValueError(
                f"Reshape '{self.name}': total size of the new shape {target} must "
                f"equal that of the input {inputs.shape[1:]}"
            )
        return gc.reshape(inputs, (-1,) + target)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Embedding(Layer):
    """Maps integer indices (batch, ...) to dense vectors (batch, ..., output_dim).
    With mask_zero=True, index 0 is padding: the output's mask is `inputs != 0`."""

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        input_length=None,
        **kwargs,
    ):
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = positive_int(output_dim, "output_dim", "Embedding")
        options = (embeddings_initializer, embeddings_regularizer, embeddings_constraint)
        set_weight_options(self, embeddings=options)
        self.input_length = input_length
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape):
        shape = (self.input_dim, self.output_dim)
        self.embeddings = add_weight_with_options(self, shape, "embeddings")

    def call(self, inputs):
        if inputs.dtype not in ("int32", "int64"):
            inputs = gc.cast(inputs, "int32")
        return gc.take(self.embeddings, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return gc.not_equal(inputs, gc.constant(np.zeros((), inputs.dtype)))

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            **weight_options_config(self, "embeddings"),
            "mask_zero": self.mask_zero,
        }


class Masking(Layer):
    """Marks as padding the time steps whose features all equal `mask_value`: their outputs
    are zeros and the output's mask is False there (Keras 3).

    Example: `Masking(mask_value=0.0)` on (batch, timesteps, features)
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(mask_value, (int, float)) or isinstance(mask_value, bool):
            raise ValueError(
                f"Masking: `mask_value` must be a number. Received: mask_value={mask_value!r} "
                f"(at {user_site()})"
            )
        self.mask_value = mask_value

    def compute_mask(self, inputs, mask=None):
        return self.real_steps(inputs, keepdims=False)

    def real_steps(self, inputs, keepdims: bool):
        """True where some feature differs from mask_value (Keras: any over the last axis)."""
        differs = gc.not_equal(inputs, gc.constant(np.asarray(self.mask_value, inputs.dtype)))
        return gc.max(gc.cast(differs, "int32"), axis=-1, keepdims=keepdims) > 0

    def call(self, inputs):
        keep = self.real_steps(inputs, keepdims=True)
        return gc.where(keep, inputs, gc.constant(np.zeros((), inputs.dtype)))

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


# Keras 1/2 scripts import Lambda from keras.layers.core.
from frontend.layers.lambda_layer import Lambda  # noqa: E402, F401 - re-export

"""Recurrent layers (Keras 3 names, defaults, gate orders and weight layouts): SimpleRNN, LSTM,
GRU, plus the Bidirectional and TimeDistributed wrappers (defined in wrappers.py).

Each layer projects every time step at once (x @ kernel + bias, one matmul) and runs the
recurrence as one graphc sequence op (graphc.ops.recurrent: the time loop lives inside one
kernel, so a 100-step sequence costs no more graph than a 5-step one). Weights:
kernel (features, gates * units) glorot_uniform, recurrent_kernel (units, gates * units)
orthogonal, bias zeros — LSTM (4u,) with unit_forget_bias, GRU (2, 3u) with reset_after.

Supported as in Keras: return_sequences, return_state, go_backwards, dropout (one input
mask per sequence), initial states (`layer(x, initial_state=[h, c])` or `layer([x, h, c])`).
Not supported, with a clear error: recurrent_dropout, stateful, reset_after=False, other cell
activations than Keras's defaults for LSTM/GRU. Keras 1 names (output_dim, init, inner_init,
inner_activation, W/U/b_regularizer, dropout_W) are renamed, with a DeprecationWarning, by
frontend/legacy_names.py.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import activations, seeding
from frontend.layers.arguments import positive_int
from frontend.layers.base import Layer
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)


class _RNN(Layer):
    """Shared by SimpleRNN, LSTM and GRU; subclasses set `gates` and `run(x, states)`."""

    gates = 1

    def __init__(
        self,
        units=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)  # activity_regularizer, name, ...: the base layer's
        self.units = positive_int(units, "units", type(self).__name__)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.seed, self.layer_id = bool(use_bias), seed, seeding.layer_id_for(seed)
        set_weight_options(
            self,
            kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), stateful, bool(unroll)
        self.check_supported(type(self).__name__)

    def check_supported(self, owner):
        if not 0 <= self.dropout < 1:
            raise ValueError(
                f"{owner}: `dropout` must be in [0, 1). Received: dropout={self.dropout}"
            )
        if self.recurrent_dropout:
            raise ValueError(
                f"{owner}: recurrent_dropout is not supported (the recurrence runs "
                f"as one fused op). Received: recurrent_dropout={self.recurrent_dropout}"
            )
        if self.stateful:
            raise ValueError(f"{owner}: stateful=True is not supported. Received: stateful=True")

    def check_activations(self, owner, allowed):
        for arg, allowed_names in zip(("activation", "recurrent_activation"), allowed):
            name = activations.serialize(getattr(self, arg))
            if name not in allowed_names:
                raise ValueError(
                    f"{owner}: `{arg}` must be one of {allowed_names} (the fused "
                    f"cell implements Keras's defaults). Received: {arg}={name!r}"
                )

    # ---- weights ------------------------------------------------------------------------

    def build(self, input_shape):
        if isinstance(input_shape, list):  # layer([x, *initial_states])
            input_shape = input_shape[0]
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of shape "
                f"(batch, timesteps, features) with known features. "
                f"Received: input_shape={input_shape}"
            )
        width = self.gates * self.units
        self.kernel = add_weight_with_options(self, (input_shape[-1], width), "kernel")
        self.recurrent_kernel = add_weight_with_options(
            self, (self.units, width), "recurrent", name="recurrent_kernel"
        )
        self.bias = None
        if self.use_bias:
            initial, shape = self.bias_initial_value(), self.bias_shape()
            self.bias = add_weight_with_options(self, shape, "bias", initializer=initial)

    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def bias_initial_value(self):
        return self.bias_initializer

    # ---- calling -----------------------------------------------------------------------------

    def call(self, inputs, initial_state=None, training=False):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        states = self.initial_states(initial_state)
        x = gc.reverse_time(inputs) if self.go_backwards else inputs
        if training and self.dropout:
            x = self.drop_inputs(x)
        sequence, *final = self.run(x, states)
        output = sequence if self.return_sequences else final[0]
        return [output, *final] if self.return_state else output

    def initial_states(self, initial_state) -> list:
        count = 2 if isinstance(self, LSTM) else 1
        if initial_state is None:
            return [None] * count
        states = (
            list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        )
        if len(states) != count:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' takes {count} initial "
                f"state(s). Received: {len(states)}"
            )
        return states

    def drop_inputs(self, x):
        """Keras's RNN input dropout: one mask per sequence, shared by every time step."""
        first_step = x[:, :1, :]
        keep = gc.random_uniform(seeding.dropout_key(self.layer_id), first_step) >= self.dropout
        return x * (gc.cast(keep, x.dtype) * (1.0 / (1.0 - self.dropout)))

    def get_config(self):
        config = {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "recurrent", "bias"),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": False,
            "unroll": self.unroll,
            "seed": self.seed,
        }
        if self.gates > 1:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return config


class SimpleRNN(_RNN):
    """Fully-connected RNN: h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).

    Example: `SimpleRNN(32, return_sequences=True)`
    """

    gates = 1

    def __init__(self, units=None, activation="tanh", **kwargs):
        super().__init__(units, activation, **kwargs)
        self.check_activations("SimpleRNN", (("tanh", "relu", "sigmoid", "linear"), ("sigmoid",)))

    def run(self, x, states):
        h_seq, h = gc.simple_rnn(
            x,
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            states[0],
            activations.serialize(self.activation),
        )
        return h_seq, h


class LSTM(_RNN):
    """Long short-term memory (Keras 3: gates i, f, c, o; returns [output, h, c] with
    return_state).

    Example: `LSTM(64, return_sequences=True, go_backwards=True)`
    """

    gates = 4

    def __init__(
        self,
        units=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(units, activation, recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.check_activations("LSTM", (("tanh",), ("sigmoid",)))

    def bias_initial_value(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        u, init = self.units, self.bias_initializer
        # Keras: the forget gate's bias starts at one so early training remembers.
        return lambda shape, dtype: np.concatenate(
            [init((u,), dtype), np.ones(u, dtype), init((2 * u,), dtype)]
        )

    def run(self, x, states):
        return gc.lstm(x, self.kernel, self.recurrent_kernel, self.bias, *states)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Gated recurrent unit (Keras 3: gates z, r, h; reset_after=True, bias (2, 3 * units)).

    Example: `GRU(32, return_state=True)`
    """

    gates = 3

    def __init__(
        self,
        units=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after=True,
        **kwargs,
    ):
        super().__init__(units, activation, recurrent_activation, **kwargs)
        if not reset_after:
            raise ValueError(
                "GRU: only reset_after=True (Keras 3's default) is supported. "
                "Received: reset_after=False"
            )
        self.reset_after = True
        self.check_activations("GRU", (("tanh",), ("sigmoid",)))

    def bias_shape(self) -> tuple:
        return (2, 3 * self.units)

    def run(self, x, states):
        return gc.gru(x, self.kernel, self.recurrent_kernel, self.bias, states[0])

    def get_config(self):
        return {**super().get_config(), "reset_after": True}


# The wrappers are exported with the recurrent layers (frontend.layers picks up this __all__).
from frontend.layers.wrappers import Bidirectional, TimeDistributed  # noqa: E402

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed"]

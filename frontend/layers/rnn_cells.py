"""Recurrent cells (Keras 3 names, defaults, gate orders and weight layouts): SimpleRNNCell,
LSTMCell, GRUCell and StackedRNNCells.

A cell computes one time step as plain graphc ops, `call(inputs, states, training)` ->
`(output, new_states)`; the RNN layer (rnn.py) unrolls it over the time axis. The SimpleRNN,
LSTM and GRU layers hold one of these cells (their weights and options) and run it as a fused
sequence op when its options are the ones the fused kernels implement.

Weights: kernel (features, gates * units) glorot_uniform, recurrent_kernel (units, gates *
units) orthogonal, bias zeros (LSTM (4u,) with unit_forget_bias; GRU (2, 3u) with reset_after,
else (3u,)). Gates: LSTM i, f, c, o; GRU z, r, h.

Dropout (as Keras): one input mask and one recurrent mask per sequence, drawn when the RNN
starts a sequence (it calls `reset_dropout_mask`), from the counter-based random op keyed like
Dropout's. The recurrent mask multiplies the previous output before the step uses it.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import activations, seeding
from frontend.layers.arguments import positive_int
from frontend.layers.base import Layer
from frontend.layers.registry import deserialize, serialize
from frontend.layers.weight_options import (
    add_weight_with_options,
    set_weight_options,
    weight_options_config,
)


def as_list(states) -> list:
    return list(states) if isinstance(states, (list, tuple)) else [states]


def dropout_rate(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{owner}: `{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)


def keep_mask(key, like, rate: float):
    """1 / (1 - rate) where kept, 0 where dropped (inverted dropout), shaped like `like`."""
    keep = seeding.uniform_rows(key, like) >= rate
    return gc.cast(keep, like.dtype) * (1.0 / (1.0 - rate))


def gate(z, index: int, units: int):
    """The `index`-th block of `units` columns of z."""
    return z[:, index * units : (index + 1) * units]


class _GatedCell(Layer):
    """Shared by the three cells: options, weights, dropout masks; subclasses set `gates` and
    `step(projected_inputs, states)`."""

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
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = positive_int(units, "units", owner)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.seed = bool(use_bias), seed
        set_weight_options(
            self,
            kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint),
        )
        self.dropout = dropout_rate(dropout, "dropout", owner)
        self.recurrent_dropout = dropout_rate(recurrent_dropout, "recurrent_dropout", owner)
        self.layer_id = seeding.layer_id_for(seed)
        self.recurrent_layer_id = (self.layer_id + 1) % (1 << 12)  # a stream of its own
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs inputs with a known number of "
                f"features. Received: input_shape={tuple(input_shape)}"
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

    def input_bias(self):
        return self.bias

    # ---- dropout masks, one per sequence (Keras 3's DropoutRNNCell methods) ----------------

    def get_dropout_mask(self, step_input):
        if self._dropout_mask is None:
            key = seeding.dropout_key(self.layer_id)
            self._dropout_mask = keep_mask(key, step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state):
        if self._recurrent_dropout_mask is None:
            key = seeding.dropout_key(self.recurrent_layer_id)
            self._recurrent_dropout_mask = keep_mask(key, state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    # ---- one step ----------------------------------------------------------------------------

    def call(self, inputs, states, training=False):
        states = as_list(states)
        if training and self.dropout:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout:
            states[0] = states[0] * self.get_recurrent_dropout_mask(states[0])
        projected = gc.matmul(inputs, self.kernel)
        if self.use_bias:
            projected = projected + self.input_bias()
        new_states = self.step(projected, states)
        return new_states[0], new_states

    def get_config(self):
        config = {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "recurrent", "bias"),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        if self.gates > 1:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return config


class SimpleRNNCell(_GatedCell):
    """h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel).

    Example: `RNN(SimpleRNNCell(16), return_sequences=True)`
    """

    gates = 1

    def __init__(self, units=None, activation="tanh", **kwargs):
        super().__init__(units, activation, **kwargs)

    def step(self, projected, states):
        return [self.activation(projected + gc.matmul(states[0], self.recurrent_kernel))]


class LSTMCell(_GatedCell):
    """One LSTM step (gates i, f, c, o); states [h, c].

    Example: `RNN(LSTMCell(32, recurrent_activation="hard_sigmoid"))`
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

    @property
    def state_size(self):
        return [self.units, self.units]

    def bias_initial_value(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        u, init = self.units, self.bias_initializer
        # Keras: the forget gate's bias starts at one so early training remembers.
        return lambda shape, dtype: np.concatenate(
            [init((u,), dtype), np.ones(u, dtype), init((2 * u,), dtype)]
        )

    def step(self, projected, states):
        h, c = states
        z, u = projected + gc.matmul(h, self.recurrent_kernel), self.units
        i, f, o = (self.recurrent_activation(gate(z, k, u)) for k in (0, 1, 3))
        c = f * c + i * self.activation(gate(z, 2, u))
        return [o * self.activation(c), c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_GatedCell):
    """One GRU step (gates z, r, h). reset_after=True (Keras 3's default): the reset gate
    multiplies h_{t-1} @ U_h + b_h, and the bias is (2, 3 * units) (input and recurrent rows);
    reset_after=False: it multiplies h_{t-1} before U_h, and the bias is (3 * units,).

    Example: `RNN(GRUCell(8, reset_after=False))`
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
        self.reset_after = bool(reset_after)

    def bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def step(self, projected, states):
        h, u, U = states[0], self.units, self.recurrent_kernel
        if self.reset_after:
            recurrent = gc.matmul(h, U)
            if self.use_bias:
                recurrent = recurrent + self.bias[1]
        else:
            recurrent = gc.matmul(h, U[:, : 2 * u])
        z = self.recurrent_activation(gate(projected, 0, u) + gate(recurrent, 0, u))
        r = self.recurrent_activation(gate(projected, 1, u) + gate(recurrent, 1, u))
        if self.reset_after:
            candidate_input = r * gate(recurrent, 2, u)
        else:
            candidate_input = gc.matmul(r * h, U[:, 2 * u :])
        candidate = self.activation(gate(projected, 2, u) + candidate_input)
        return [z * h + (1.0 - z) * candidate]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


def state_sizes(cell) -> list:
    """A cell's state sizes as a flat list of ints."""
    return [int(s) for s in as_list(cell.state_size)]


def output_size(cell) -> int:
    """Keras: a cell's `output_size`, else its first state's size."""
    return int(getattr(cell, "output_size", None) or state_sizes(cell)[0])


def build_cell(cell, step_shape) -> None:
    """Build `cell` (if it is not yet) for steps of shape (batch, features)."""
    if not cell.built:
        cell.build(tuple(step_shape))
        cell.built = True


class StackedRNNCells(Layer):
    """Cells run one after the other at every step, each feeding the next; the states are
    the cells' states, flattened in order. Example: `RNN([LSTMCell(8), LSTMCell(4)])`.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = [deserialize(c) if isinstance(c, dict) else c for c in cells]

    @property
    def state_size(self) -> list:
        return [size for cell in self.cells for size in state_sizes(cell)]

    @property
    def output_size(self) -> int:
        return output_size(self.cells[-1])

    def build(self, input_shape):
        for cell in self.cells:
            build_cell(cell, input_shape)
            input_shape = (input_shape[0], output_size(cell))

    def reset_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_recurrent_dropout_mask"):
                cell.reset_recurrent_dropout_mask()

    def call(self, inputs, states, training=False):
        states, new_states = as_list(states), []
        for cell in self.cells:
            count = len(state_sizes(cell))
            inputs, cell_states = cell(inputs, states[:count], training=training)
            states = states[count:]
            new_states += as_list(cell_states)
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [serialize(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        cells = [deserialize(c, custom_objects) for c in config["cells"]]
        return cls(**{**config, "cells": cells})


__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"]

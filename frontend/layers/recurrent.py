"""Recurrent layers (Keras 3 names, defaults, gate orders and weight layouts): SimpleRNN, LSTM,
GRU, plus the Bidirectional and TimeDistributed wrappers (defined in wrappers.py).

Each layer is an RNN (rnn.py) over its cell (rnn_cells.py: SimpleRNNCell, LSTMCell, GRUCell),
which holds the weights (named '<layer>/kernel', ...) and the options. With the options the
fused kernels implement (Keras's default activations — SimpleRNN: tanh, relu, sigmoid or
linear — no recurrent_dropout, GRU reset_after=True) the layer projects every time step at
once (x @ kernel + bias, one matmul) and runs the recurrence as one graphc sequence op
(graphc.ops.recurrent: the time loop lives inside one kernel, so a 100-step sequence costs no
more graph than a 5-step one). With any other options it runs the cell unrolled over the
time axis (ordinary graph ops, one cell per step; the time axis must then be known):
`layer.fused` says which. Under a mask the fused kernels take it too (masked steps keep the
states, as in Keras; the unrolled cell does the same, rnn.py).

Supported as in Keras: return_sequences, return_state, go_backwards, dropout and
recurrent_dropout (one mask per sequence each), initial states (`layer(x, initial_state=[h,
c])` or `layer([x, h, c])`), stateful=True with reset_states(), unroll (accepted). Keras 1
names (output_dim, init, inner_init, inner_activation, W/U/b_regularizer, dropout_W) are
renamed, with a DeprecationWarning, by frontend/legacy_names.py.
"""

from __future__ import annotations

import inspect
from inspect import Parameter

import numpy as np

import graphc as gc
from frontend import activations, backend
from frontend.compat import reject_unknown, signature_names
from frontend.layers.base import Layer
from frontend.layers.registry import BASE_KWARGS
from frontend.layers.rnn import RNN
from frontend.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, _GatedCell
from graphc.ops.recurrent import RNN_ACTIVATIONS

# Options that live on the cell, read through the layer as in Keras (`layer.units`, ...).
CELL_ATTRIBUTES = (
    "units", "activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout",
    "seed", "kernel", "recurrent_kernel", "bias", "unit_forget_bias", "reset_after",
    "kernel_initializer", "recurrent_initializer", "bias_initializer", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint",
)  # fmt: skip


SEQUENCE_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")


def keras_signature(cell_init, rnn_init) -> inspect.Signature:
    """The cell's keywords, then the RNN's sequence options, then **kwargs: Keras lists them all
    on SimpleRNN/LSTM/GRU, and keyword checks and Keras 1 renames read this signature."""
    cell = [p for p in inspect.signature(cell_init).parameters.values()
            if p.kind == p.POSITIONAL_OR_KEYWORD]  # fmt: skip
    sequence = [inspect.signature(rnn_init).parameters[name] for name in SEQUENCE_OPTIONS]
    return inspect.Signature(cell + sequence + [Parameter("kwargs", Parameter.VAR_KEYWORD)])


def builtin_name(fn) -> str:
    """Keras's name of a built-in activation; a user's function's name, marked, so that the
    fused kernels never take one named like a built-in (`def tanh`) for the built-in."""
    if fn in activations.ACTIVATIONS.values():
        return activations.serialize(fn)
    return f"{getattr(fn, '__name__', 'lambda')} (yours)"


class _FusedRNN(RNN):
    """Shared by SimpleRNN, LSTM and GRU: builds the cell from the layer's keywords; runs
    `fused_run` when the cell's options fit the fused kernel (`fused`), else the unrolled
    cell."""

    cell_class = SimpleRNNCell

    def __init__(self, units=None, **kwargs):
        flags = {k: kwargs.pop(k) for k in SEQUENCE_OPTIONS if k in kwargs}
        layer_only = {k: kwargs.pop(k) for k in BASE_KWARGS if k in kwargs}
        shared = {k: kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in kwargs}
        valid = signature_names(type(self).__init__, _FusedRNN.__init__, Layer.__init__)
        reject_unknown(kwargs, valid | BASE_KWARGS, type(self).__name__)
        shared.setdefault("name", backend.unique_name(backend.to_snake_case(type(self).__name__)))
        cell = self.cell_class(units, **kwargs, **shared)  # its name is ours: 'lstm/kernel'
        super().__init__(cell, **flags, **shared, **layer_only)

    def __getattr__(self, name):
        if name in CELL_ATTRIBUTES and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def fused(self) -> bool:
        """Whether the fused sequence op runs (else the cell, unrolled)."""
        return not self.cell.recurrent_dropout and self.fused_activations()

    def activation_names(self) -> tuple:
        return tuple(
            builtin_name(getattr(self.cell, a)) for a in ("activation", "recurrent_activation")
        )

    def run(self, x, states, training):
        if not self.fused:
            self.check_static_time(x, f"has options the fused kernel lacks ({self.why_unrolled()})")
            return super().run(x, states, training)
        sequence, *final = self.fused_run(self.dropped(x, training), states)
        return sequence, final[0], final

    def time_mask(self, mask, x):
        """Fused: the whole (batch, time) mask, which the kernel takes (else one per step)."""
        return self.checked_mask(mask, x) if self.fused else super().time_mask(mask, x)

    def run_masked(self, x, steps, states, training):
        """Fused (`steps` the whole mask): the kernel holds the states at masked steps; the
        output there repeats the previous one, zeros before any step ran (Keras)."""
        if not self.fused:
            return super().run_masked(x, steps, states, training)
        held, *final = self.fused_run(self.dropped(x, training), states, steps)
        shown = steps if self.zero_output_for_mask else ran_so_far(steps, x.dtype)
        zero = gc.constant(np.zeros((), x.dtype))
        sequence = gc.where(gc.expand_dims(shown, -1), held, zero)
        return sequence, sequence[:, -1], final

    def dropped(self, x, training):
        if training and self.cell.dropout:  # Keras: one input mask for every time step
            x = x * gc.expand_dims(self.cell.get_dropout_mask(x[:, 0]), 1)
        return x

    def why_unrolled(self) -> str:
        if self.cell.recurrent_dropout:
            return f"recurrent_dropout={self.cell.recurrent_dropout}"
        activation, recurrent = self.activation_names()
        return f"activation={activation!r}, recurrent_activation={recurrent!r}"

    def get_config(self):
        config = {**self.cell.get_config(), **super().get_config()}
        del config["cell"], config["zero_output_for_mask"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SimpleRNN(_FusedRNN):
    """Fully-connected RNN: h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).

    Example: `SimpleRNN(32, return_sequences=True)`
    """

    cell_class = SimpleRNNCell

    def __init__(self, units=None, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)

    def fused_activations(self) -> bool:
        return self.activation_names()[0] in RNN_ACTIVATIONS

    def why_unrolled(self) -> str:
        if self.cell.recurrent_dropout:
            return super().why_unrolled()
        return f"activation={self.activation_names()[0]!r}"

    def fused_run(self, x, states, mask=None):
        cell = self.cell
        name = activations.serialize(cell.activation)
        return gc.simple_rnn(x, cell.kernel, cell.recurrent_kernel, cell.bias, states[0], name,
                             mask)


class LSTM(_FusedRNN):
    """Long short-term memory (Keras 3: gates i, f, c, o; returns [output, h, c] with
    return_state).

    Example: `LSTM(64, return_sequences=True, go_backwards=True)`
    """

    cell_class = LSTMCell

    def __init__(
        self,
        units=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            unit_forget_bias=unit_forget_bias,
            **kwargs,
        )

    def fused_activations(self) -> bool:
        return self.activation_names() == ("tanh", "sigmoid")

    def fused_run(self, x, states, mask=None):
        cell = self.cell
        return gc.lstm(x, cell.kernel, cell.recurrent_kernel, cell.bias, *states, mask=mask)


class GRU(_FusedRNN):
    """Gated recurrent unit (Keras 3: gates z, r, h; reset_after=True with a (2, 3 * units)
    bias, or reset_after=False with a (3 * units,) one).

    Example: `GRU(32, return_state=True)`
    """

    cell_class = GRUCell

    def __init__(
        self,
        units=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after=True,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            reset_after=reset_after,
            **kwargs,
        )

    def fused_activations(self) -> bool:
        return self.cell.reset_after and self.activation_names() == ("tanh", "sigmoid")

    def why_unrolled(self) -> str:
        if not self.cell.reset_after:
            return "reset_after=False"
        return super().why_unrolled()

    def fused_run(self, x, states, mask=None):
        cell = self.cell
        return gc.gru(x, cell.kernel, cell.recurrent_kernel, cell.bias, states[0], mask)


def ran_so_far(mask, dtype):
    """(batch, time) booleans: whether any step up to t ran. A held one-unit recurrence
    (h = 1 at a kept step, else held from 0) computes it without a graph that grows with time."""
    kept = gc.expand_dims(gc.cast(mask, dtype), -1)
    one, zero = (gc.constant(np.full((1, 1), v, dtype)) for v in (1, 0))
    every, _ = gc.simple_rnn(kept, one, zero, activation="linear", mask=mask)
    return gc.greater(every[:, :, 0], 0.5)


_FusedRNN.__init__.__signature__ = keras_signature(_GatedCell.__init__, RNN.__init__)


# The wrappers are exported with the recurrent layers (frontend.layers picks up this __all__).
from frontend.layers.wrappers import Bidirectional, TimeDistributed  # noqa: E402

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed"]

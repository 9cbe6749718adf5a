"""The generic recurrent layer RNN(cell) (Keras 3), also the base of SimpleRNN, LSTM and GRU.

`RNN(cell)` unrolls the cell over the time axis: one copy of the cell's graph per time step,
so the number of time steps must be known (a None time axis is refused with the reason).
The cell is any layer with `state_size` (int or list of ints) and `call(inputs, states)` ->
`(output, new_states)`, including user-written ones, traced symbolically like any layer; a
list of cells is a StackedRNNCells. `unroll` is accepted for Keras compatibility (the
recurrence is always unrolled here, or run as a fused op by SimpleRNN/LSTM/GRU).

Shared with the fused layers: return_sequences, return_state, go_backwards (the sequence is
read backwards and the outputs are returned in that order, as Keras), initial states
(`layer(x, initial_state=[...])` or `layer([x, *states])`) and stateful=True: the final states
of a batch are kept in shared variables (one row per sample, so the batch size must be fixed
with Input(batch_size=...)/batch_input_shape) and start the next batch; `reset_states()`
zeroes them. They advance in fit, predict and eager calls.

Masks (Keras): under a (batch, time) mask (from Embedding(mask_zero=True), Masking, or
`mask=`) the cell runs unrolled, and at a masked step the states stay as they were and the
output repeats the previous one (zeros before the first real step, or always with
zero_output_for_mask=True). With return_sequences the mask passes on to the next layer.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend.layers.base import Layer
from frontend.layers.masks import first_mask
from frontend.layers.registry import deserialize, serialize
from frontend.layers.rnn_cells import StackedRNNCells, as_list, build_cell, state_sizes
from frontend.layers.tensor import current_context
from graphc.ir import user_site
from graphc.ops import make_node


def zero_states(x, size: int):
    """Zeros (batch, size), the batch size taken from x (batch, time, features) at run time."""
    one_column = make_node("broadcast_like", [gc.constant(np.zeros((1, 1), x.dtype)), x[:, 0, :1]])
    return one_column + gc.constant(np.zeros((1, size), x.dtype))


class RNN(Layer):
    """Runs a recurrent cell over a sequence (batch, time, features).

    Example: `RNN(LSTMCell(32), return_sequences=True)`, `RNN([GRUCell(8), GRUCell(4)])`, or
    a cell of your own: a Layer with `state_size` and `call(inputs, states)`.
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell, dtype=kwargs.get("dtype"))  # the RNN's compute dtype
        super().__init__(**kwargs)
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ValueError(
                f"{type(self).__name__}: `cell` must be a Layer with a `state_size` and "
                f"`call(inputs, states)`. Received: cell={cell!r}"
            )
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful = bool(go_backwards), bool(stateful)
        self.unroll, self.zero_output_for_mask = bool(unroll), bool(zero_output_for_mask)
        self.state_variables = None

    # ---- building -----------------------------------------------------------------------------

    def build(self, input_shape):
        if isinstance(input_shape, list):  # layer([x, *initial_states])
            input_shape = input_shape[0]
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of shape "
                f"(batch, timesteps, features) with known features. "
                f"Received: input_shape={input_shape} (at {user_site()})"
            )
        build_cell(self.cell, (input_shape[0], input_shape[2]))
        if self.stateful:
            self.make_state_variables(input_shape)

    def make_state_variables(self, input_shape) -> None:
        batch = input_shape[0]
        if batch is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': stateful=True carries each sample's "
                f"states to the next batch, so it needs a fixed batch size: give "
                f"Input(batch_size=...) or batch_input_shape=(batch, time, features). "
                f"Received: input_shape={tuple(input_shape)} (at {user_site()})"
            )
        self.state_variables = [
            gc.shared(np.zeros((batch, size), self.dtype), name=f"{self.name}/state_{i}")
            for i, size in enumerate(state_sizes(self.cell))
        ]

    def reset_states(self, states=None) -> None:
        """Zero the kept states (stateful=True), or set them to `states` (arrays)."""
        if self.state_variables is None:
            raise AttributeError(
                f"{type(self).__name__} '{self.name}' keeps no states: it is not stateful "
                f"or not built yet"
            )
        values = as_list(states) if states is not None else [None] * len(self.state_variables)
        for var, value in zip(self.state_variables, values):
            var.set_value(np.zeros(var.shape, var.dtype) if value is None else value)

    reset_state = reset_states  # Keras 3 has both names

    # ---- calling -----------------------------------------------------------------------------

    def call(self, inputs, initial_state=None, mask=None, training=False):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        states = self.starting_states(inputs, initial_state)
        x = gc.reverse_time(inputs) if self.go_backwards else inputs
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if hasattr(self.cell, reset):  # a new sequence draws new masks
                getattr(self.cell, reset)()
        mask = first_mask(mask)
        if mask is None:
            sequence, last, final = self.run(x, states, training)
        else:
            steps = self.time_mask(mask, inputs)
            sequence, last, final = self.run_masked(x, steps, states, training)
        context = current_context()
        if self.stateful and context is not None:
            context.updates.extend(zip(self.state_variables, final))
        output = sequence if self.return_sequences else last
        return [output, *final] if self.return_state else output

    def starting_states(self, x, initial_state) -> list:
        sizes = state_sizes(self.cell)
        if initial_state is None:
            if self.stateful:
                return list(self.state_variables)
            return [zero_states(x, size) for size in sizes]
        states = as_list(initial_state)
        if len(states) != len(sizes):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' takes {len(sizes)} initial "
                f"state(s). Received: {len(states)} (at {user_site()})"
            )
        return states

    def run(self, x, states, training):
        """(every output (batch, time, out), the last output, the final states)."""
        self.check_static_time(x, "runs its cell once per time step (unrolled)")
        outputs = []
        for t in range(x.shape[1]):
            output, states = self.cell(x[:, t], states, training=training)
            outputs.append(output)
            states = as_list(states)
        return gc.stack(outputs, axis=1), outputs[-1], states

    def time_mask(self, mask, x) -> list:
        """The mask as one (batch, 1) boolean per step, in the order the steps run."""
        mask = self.checked_mask(mask, x)
        self.check_static_time(x, "runs its cell step by step under a mask")
        return [gc.expand_dims(mask[:, t], -1) for t in range(x.shape[1])]

    def checked_mask(self, mask, x):
        """The (batch, time) mask as booleans in the order the steps run."""
        if tuple(mask.shape[1:]) != (x.shape[1],) or mask.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the mask must have shape (batch, "
                f"timesteps) = (None, {x.shape[1]}). Received: mask of shape {mask.shape} "
                f"for inputs of shape {x.shape} (at {user_site()})"
            )
        mask = gc.cast(mask, "bool")
        return gc.reverse_time(mask) if self.go_backwards else mask

    def run_masked(self, x, steps, states, training):
        """Keras's masked recurrence: at a masked step the states stay as they were and the
        output repeats the previous one (zeros with zero_output_for_mask, and before any)."""
        zero = gc.constant(np.zeros((), x.dtype))
        outputs = []
        for t, keep in enumerate(steps):
            output, new_states = self.cell(x[:, t], states, training=training)
            states = [gc.where(keep, n, s) for n, s in zip(as_list(new_states), states)]
            previous = zero if self.zero_output_for_mask or not outputs else outputs[-1]
            outputs.append(gc.where(keep, output, previous))
        return gc.stack(outputs, axis=1), outputs[-1], states

    def compute_mask(self, inputs, previous_mask):
        """The sequence's mask goes on with return_sequences; the states carry none."""
        mask = first_mask(previous_mask)
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(state_sizes(self.cell))
        return output_mask

    def check_static_time(self, x, why: str) -> None:
        if x.shape[1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' {why}, so it needs a known number of "
                f"time steps; give Input(shape=(timesteps, features)). "
                f"Received: input_shape={x.shape} (at {user_site()})"
            )

    def get_config(self):
        return {
            **super().get_config(),
            "cell": serialize(self.cell),
            **self.sequence_config(),
        }

    def sequence_config(self) -> dict:
        return {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["cell"] = deserialize(config["cell"], custom_objects)
        return cls(**config)


__all__ = ["RNN"]

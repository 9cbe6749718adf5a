"""Layer wrappers (Keras names): Bidirectional runs a recurrent layer forwards and a copy of it
backwards and merges the two; TimeDistributed applies a layer to every time step.
"""

from __future__ import annotations

import graphc as gc
from frontend.layers.base import Layer
from frontend.layers.masks import first_mask
from frontend.layers.registry import deserialize

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def layer_config(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def layer_from_config(config: dict):
    return deserialize(config)


def copy_layer(layer, name: str, **changes):
    """A fresh, unbuilt layer with `layer`'s config, renamed and changed."""
    config = layer_config(layer)
    config["config"] = {**config["config"], "name": name, **changes}
    return layer_from_config(config)


def without_prefix(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs `layer` over the sequence and a copy of it over the reversed sequence.

    merge_mode: 'concat' (default), 'sum', 'mul', 'ave' or None (a list of both outputs). With
    return_sequences the backward outputs are put back in forward time order before merging;
    with return_state the forward layer's final states come before the backward layer's.
    Example: `Bidirectional(LSTM(32, return_sequences=True))`
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if isinstance(layer, dict):
            layer = layer_from_config(layer)
        if isinstance(backward_layer, dict):
            backward_layer = layer_from_config(backward_layer)
        super().__init__(weights=weights, **kwargs)
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards"):
            raise ValueError(
                f"Bidirectional needs a recurrent layer (SimpleRNN, LSTM, GRU). "
                f"Received: layer={layer!r}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Bidirectional: `merge_mode` must be one of {MERGE_MODES}. "
                f"Received: merge_mode={merge_mode!r}"
            )
        self.merge_mode = merge_mode
        base = without_prefix(layer.name, "forward_")
        self.forward_layer = copy_layer(layer, f"forward_{base}")
        self.backward_layer = backward_layer or copy_layer(
            layer, f"backward_{base}", go_backwards=not layer.go_backwards
        )
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for direction in (self.forward_layer, self.backward_layer):
            # Keras: under a mask, masked steps of returned sequences are zeros both ways
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = self.return_sequences

    def call(self, inputs, initial_state=None, mask=None, training=False):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        options = {"mask": first_mask(mask), "training": training}
        y_fw = self.forward_layer(inputs, initial_state=forward_state, **options)
        y_bw = self.backward_layer(inputs, initial_state=backward_state, **options)
        states = []
        if self.return_state:
            (y_fw, *states_fw), (y_bw, *states_bw) = y_fw, y_bw
            states = states_fw + states_bw
        if self.return_sequences:
            y_bw = gc.reverse_time(y_bw)
        output = self.merge(y_fw, y_bw)
        if not self.return_state:
            return output
        return (output if isinstance(output, list) else [output]) + states

    def compute_mask(self, inputs, previous_mask):
        """The sequence's mask, on each output (merge_mode=None) or the merged one."""
        mask = first_mask(previous_mask) if self.return_sequences else None
        return [mask, mask] if self.merge_mode is None else mask

    def merge(self, a, b):
        if self.merge_mode == "concat":
            return gc.concatenate([a, b], axis=-1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        if self.merge_mode == "ave":
            return (a + b) * 0.5
        return [a, b]

    def get_config(self):
        return {
            **super().get_config(),
            "layer": layer_config(self.forward_layer),
            "backward_layer": layer_config(self.backward_layer),
            "merge_mode": self.merge_mode,
        }


class TimeDistributed(Layer):
    """Applies `layer` to every time step: (batch, time, ...) -> (batch, time, ...out).

    The steps are folded into the batch (one call of `layer` on batch * time rows); the
    number of time steps may be None (known at run time). A (batch, time) mask passes on to
    the output, as in Keras 2. Example: `TimeDistributed(Dense(8))`
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = layer_from_config(layer)
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs a Layer. Received: layer={layer!r}")
        self.layer = layer

    def call(self, inputs, training=False):
        rest = inputs.shape[2:]
        if inputs.ndim < 3 or None in rest:
            raise ValueError(
                f"TimeDistributed '{self.name}' needs inputs (batch, time, ...) whose "
                f"dimensions after the time axis are known. Received: {inputs.shape}"
            )
        folded = gc.reshape(inputs, (-1, *rest))  # time steps join the batch
        outputs = self.layer(folded, training=training)
        return gc.unfold_like(outputs, inputs, axes=2)  # batch and time, known or not

    def get_config(self):
        return {**super().get_config(), "layer": layer_config(self.layer)}

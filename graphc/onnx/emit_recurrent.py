"""ONNX RNN, LSTM and GRU nodes for graphc's recurrent sequence ops.

The ONNX node reads the layer's input, kernel and biases (graphc/onnx/recurrent_sources.py) with
the gates in ONNX's order: LSTM's Keras order i, f, c, o becomes ONNX's i, o, f, c; GRU's z, r, h
and ONNX's agree, and Keras 3's reset_after=True is ONNX's linear_before_reset=1.

graphc's LSTM and GRU ops return a packed tensor of states and gate activations that the
layers slice. ONNX gives every h and the last c: a slice of anything else (gate activations,
earlier c) is reported as not exportable (`slot_read_problem`). SimpleRNN's output is every h.
"""

from __future__ import annotations

import numpy as np

from graphc.onnx.builder import OnnxBuilder
from graphc.onnx.emit_masked_recurrent import emit_masked
from graphc.onnx.emit_shape import emit_index
from graphc.onnx.recurrent_sources import recurrent_sources

PACKED_OPS = ("lstm_seq", "gru_seq")
GATE_ORDERS = {"simple_rnn_seq": (0,), "lstm_seq": (0, 3, 1, 2), "gru_seq": (0, 1, 2)}
RNN_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "linear": "Affine"}


def gate_columns(units: int, order) -> np.ndarray:
    """The columns of a Keras-ordered (..., gates * units) tensor in ONNX's gate order."""
    return np.concatenate([np.arange(g * units, (g + 1) * units) for g in order])


def batch_major(b: OnnxBuilder, x: str) -> str:
    return b.transpose(x, [1, 0, 2])


def in_onnx_order(b: OnnxBuilder, value: str, columns: np.ndarray, axis: int) -> str:
    if np.array_equal(columns, np.arange(len(columns))):
        return value
    return b.add("Gather", [value, b.ints(columns)], axis=axis)


def gate_matrix(b: OnnxBuilder, kernel: str, columns) -> str:
    """A (features, gates * units) kernel as ONNX's (1 direction, gates * units, features)."""
    return b.unsqueeze(b.transpose(in_onnx_order(b, kernel, columns, 1), [1, 0]), [0])


def role_values(node, ins) -> dict:
    """The ONNX value of each of the sequence op's source roles ('x', 'kernel', 'mask', ...)."""
    return {role: name for (role, _), name in zip(recurrent_sources(node).roles(), ins)}


def onnx_inputs(b: OnnxBuilder, node, ins) -> tuple[list, int]:
    """X, W, R, B, "", initial states of ONNX's node, and the number of units."""
    sources, value = recurrent_sources(node), role_values(node, ins)
    units = sources.recurrent_kernel.shape[0]
    columns = gate_columns(units, GATE_ORDERS[node.op])
    if sources.kernel is None:  # x is P, projected already: W only reorders the gates
        w = b.const(np.eye(len(columns), dtype=node.dtype)[columns][None], hint=f"{b.label}/W")
    else:
        w = gate_matrix(b, value["kernel"], columns)
    r = gate_matrix(b, value["recurrent_kernel"], columns)
    states = [b.unsqueeze(value[f"state{k}"], [0]) for k in range(len(sources.states))]
    return [batch_major(b, value["x"]), w, r, onnx_bias(b, node, value, columns), "", *states], \
        units


def onnx_bias(b: OnnxBuilder, node, value: dict, columns) -> str:
    """ONNX's B: the input bias, then the recurrent one (GRU's), zeros for an absent one."""
    biases = [value.get(role) for role in ("bias", "recurrent_bias")]
    if not any(biases):
        return ""
    parts = [
        in_onnx_order(b, v, columns, 0) if v else
        b.const(np.zeros(len(columns), node.dtype), hint=f"{b.label}/zero_bias")
        for v in biases
    ]
    return b.unsqueeze(b.add("Concat", parts, axis=0), [0])


def every_h(b, y: str) -> str:
    """ONNX's Y (time, 1 direction, batch, units) as (batch, time, units)."""
    return batch_major(b, b.squeeze(y, [1]))


def emit_sequence(fused_emitter):
    """An emitter writing a masked op as a Scan, an unmasked one with `fused_emitter`'s node."""
    def emit(b, node, ins):
        value = role_values(node, ins)
        if "mask" in value:
            b.sequences[node] = emit_masked(b, node, value)
            return b.sequences[node][0]
        return fused_emitter(b, node, ins)
    return emit


def emit_simple_rnn(b, node, ins):
    inputs, units = onnx_inputs(b, node, ins)
    activation = node.attr("activation")
    affine = {"activation_alpha": [1.0], "activation_beta": [0.0]} if activation == "linear" else {}
    y, _ = b.add("RNN", inputs, outputs=2, hidden_size=units,
                 activations=[RNN_ACTIVATIONS[activation]], **affine)
    b.sequences[node] = {0: every_h(b, y)}
    return b.sequences[node][0]


def emit_lstm(b, node, ins):
    inputs, units = onnx_inputs(b, node, ins)
    y, _, c_last = b.add("LSTM", inputs, outputs=3, hidden_size=units)
    b.sequences[node] = {0: every_h(b, y), "last c": b.squeeze(c_last, [0])}
    return b.sequences[node][0]


def emit_gru(b, node, ins):
    inputs, units = onnx_inputs(b, node, ins)
    y, _ = b.add("GRU", inputs, outputs=2, hidden_size=units, linear_before_reset=1)
    b.sequences[node] = {0: every_h(b, y)}
    return b.sequences[node][0]


def read_slot(index, node):
    """(slot number, time item) of a getitem `index` of sequence op `node`'s packed output,
    or None when it does not read exactly one slot."""
    units = recurrent_sources(node).recurrent_kernel.shape[0]
    if len(index) != 3 or index[0] != ("slice", None, None, None) or index[2][0] != "slice":
        return None
    _, start, stop, step = index[2]
    if step not in (None, 1) or start is None or start % units or stop != start + units:
        return None
    return start // units, index[1]


def is_last_step(item, steps) -> bool:
    return item[0] == "int" and item[1] in (-1, steps - 1)


def slot_read_problem(getitem) -> str | None:
    """Why a getitem of a sequence op's packed output cannot be exported, or None."""
    node = getitem.inputs[0]
    read = read_slot(getitem.attr("index"), node)
    if read is not None and read[0] == 0:
        return None
    if read is not None and node.op == "lstm_seq" and read[0] == 1 and \
            is_last_step(read[1], node.shape[1]):
        return None
    return (f"reads {getitem.attr('index')} of the packed {node.op} output: ONNX gives every "
            f"step's h and the last c only")


def emit_slot_read(b, getitem, ins):
    node = getitem.inputs[0]
    slot, time_item = read_slot(getitem.attr("index"), node)
    if slot == 1:
        return b.add("Identity", [b.sequences[node]["last c"]])
    return emit_index(b, b.sequences[node][0], (("slice", None, None, None), time_item))


EMITTERS = {
    "simple_rnn_seq": emit_sequence(emit_simple_rnn), "lstm_seq": emit_sequence(emit_lstm),
    "gru_seq": emit_sequence(emit_gru),
}

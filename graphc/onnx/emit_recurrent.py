"""ONNX RNN, LSTM and GRU nodes for graphc's recurrent sequence ops.

graphc's sequence ops take P = x @ W + b already projected (batch, time, gates * units), the
initial state(s) and the recurrent kernel U (units, gates * units), and return a packed tensor
of states and gate activations that the layers slice. ONNX's nodes project their input
themselves: they get P with an input kernel that only reorders the gates (identity for RNN
and GRU, whose gate order z, r, h ONNX shares; Keras's i, f, c, o -> ONNX's i, o, f, c for
LSTM). GRU is Keras 3's reset_after=True, ONNX's linear_before_reset=1.

Of LSTM's and GRU's packed tensor ONNX gives every h and the last c; a slice of anything else
(gate activations, earlier c) is reported as not exportable (`slot_read_problem`).
"""

from __future__ import annotations

import numpy as np

from graphc.onnx.builder import OnnxBuilder
from graphc.onnx.emit_shape import emit_index

PACKED_OPS = ("lstm_seq", "gru_seq")  # SimpleRNN's output is every h and nothing else
LSTM_TO_ONNX_GATES = (0, 3, 1, 2)  # ONNX's gate k (i, o, f, c) is Keras's gate (i, f, c, o)[..]
RNN_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "linear": "Affine"}


def gate_columns(units: int, order) -> np.ndarray:
    """The columns of a Keras-ordered (..., gates * units) tensor in ONNX's gate order."""
    return np.concatenate([np.arange(g * units, (g + 1) * units) for g in order])


def kernel_position(node) -> int:
    """Where the recurrent kernel U is among a sequence op's inputs."""
    return 2 if node.op in ("gru_seq", "simple_rnn_seq") else 3


def batch_major(b: OnnxBuilder, x: str) -> str:
    return b.transpose(x, [1, 0, 2])


def recurrent_inputs(b, node, ins, order):
    """ONNX's X (time-major P), W (a gate-reordering identity) and R (U^T in ONNX order)."""
    units = node.inputs[kernel_position(node)].shape[0]
    gates = len(order)
    columns = gate_columns(units, order)
    eye = np.eye(gates * units, dtype=node.dtype)[columns]
    w = b.const(eye[None], hint=f"{b.label}/W_gate_order")
    reordered = b.add("Gather", [ins[kernel_position(node)], b.ints(columns)], axis=1)
    r = b.unsqueeze(b.transpose(reordered, [1, 0]), [0])
    return batch_major(b, ins[0]), w, r, units


def every_h(b, y: str) -> str:
    """ONNX's Y (time, 1 direction, batch, units) as (batch, time, units)."""
    return batch_major(b, b.squeeze(y, [1]))


def emit_simple_rnn(b, node, ins):
    x, w, r, units = recurrent_inputs(b, node, ins, (0,))
    activation = node.attr("activation")
    affine = {"activation_alpha": [1.0], "activation_beta": [0.0]} if activation == "linear" else {}
    y, _ = b.add("RNN", [x, w, r, "", "", b.unsqueeze(ins[1], [0])], outputs=2,
                 hidden_size=units, activations=[RNN_ACTIVATIONS[activation]], **affine)
    b.sequences[node] = {0: every_h(b, y)}
    return b.sequences[node][0]


def emit_lstm(b, node, ins):
    x, w, r, units = recurrent_inputs(b, node, ins, LSTM_TO_ONNX_GATES)
    states = [b.unsqueeze(s, [0]) for s in ins[1:3]]
    y, _, c_last = b.add("LSTM", [x, w, r, "", "", *states], outputs=3, hidden_size=units)
    b.sequences[node] = {0: every_h(b, y), "last c": b.squeeze(c_last, [0])}
    return b.sequences[node][0]


def emit_gru(b, node, ins):
    x, w, r, units = recurrent_inputs(b, node, ins, (0, 1, 2))
    zeros = b.const(np.zeros(3 * units, node.dtype), hint=f"{b.label}/input_bias")
    bias = b.unsqueeze(b.add("Concat", [zeros, ins[3]], axis=0), [0])
    y, _ = b.add("GRU", [x, w, r, bias, "", b.unsqueeze(ins[1], [0])], outputs=2,
                 hidden_size=units, linear_before_reset=1)
    b.sequences[node] = {0: every_h(b, y)}
    return b.sequences[node][0]


def read_slot(index, node):
    """(slot number, time item) of a getitem `index` of sequence op `node`'s packed output,
    or None when it does not read exactly one slot."""
    units = node.inputs[kernel_position(node)].shape[0]
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


EMITTERS = {"simple_rnn_seq": emit_simple_rnn, "lstm_seq": emit_lstm, "gru_seq": emit_gru}

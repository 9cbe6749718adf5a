"""Masked SimpleRNN, LSTM and GRU as an ONNX Scan over time.

ONNX's RNN, LSTM and GRU nodes skip padding only at the end of a sequence (sequence_lens);
a Keras mask may hold any pattern (pre-padding, holes). The Scan's body runs one step of the
cell as graphc's NumPy reference does (graphc/ops/recurrent.py: Keras's gate order, GRU with
reset_after) and, where the step's mask is False, keeps the states as they were (Where), so
its h output repeats the last state at a masked step, as graphc's packed h slot does.
"""

from __future__ import annotations

from onnx import helper

from graphc.onnx.builder import OnnxBuilder, elem_type
from graphc.onnx.recurrent_sources import recurrent_sources

ACTIVATION_OPS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}
STATE_COUNTS = {"simple_rnn_seq": 1, "lstm_seq": 2, "gru_seq": 1}


def emit_masked(b: OnnxBuilder, node, value: dict) -> dict:
    """The ONNX values of a masked sequence op's readable slots: 0 (every step's h, batch
    major) and, for LSTM, "last c". `value` holds the ONNX value of each source role."""
    count = STATE_COUNTS[node.op]
    P = projected(b, value)
    states = [value[f"state{k}"] for k in range(count)]
    body = step_graph(b, node, value)
    *finals, every_h = b.add(
        "Scan", [*states, P, value["mask"]], outputs=count + 1, body=body,
        num_scan_inputs=2, scan_input_axes=[1, 1], scan_output_axes=[1],
    )
    return {0: every_h, "last c": finals[1]} if node.op == "lstm_seq" else {0: every_h}


def projected(b: OnnxBuilder, value: dict) -> str:
    """P = x @ W + b, (batch, time, gates * units) in Keras's gate order (x when x is P)."""
    P = value["x"]
    if "kernel" in value:
        P = b.add("MatMul", [P, value["kernel"]])
    if "bias" in value:
        P = b.add("Add", [P, value["bias"]])
    return P


def step_graph(b: OnnxBuilder, node, value: dict):
    """The Scan body: (states..., P_t, mask_t) -> (held states..., h_t)."""
    count, dtype = STATE_COUNTS[node.op], node.dtype
    with b.subgraph() as nodes:
        old = [b.fresh(f"{b.label}/state_in") for _ in range(count)]
        p_t, mask_t = b.fresh(f"{b.label}/P_t"), b.fresh(f"{b.label}/mask_t")
        keep = b.unsqueeze(mask_t, [1])
        new = CELLS[node.op](b, node, p_t, old, value)
        held = [b.add("Where", [keep, n, o]) for n, o in zip(new, old)]
        h_t = b.add("Identity", [held[0]])
    inputs = [tensor(v, dtype) for v in (*old, p_t)] + [tensor(mask_t, "bool")]
    outputs = [tensor(v, dtype) for v in (*held, h_t)]
    return helper.make_graph(nodes, b.fresh(f"{b.label}/step"), inputs, outputs)


def tensor(name: str, dtype):
    """A body input or output of `dtype` whose shape the Scan decides."""
    return helper.make_tensor_value_info(name, elem_type(dtype), None)


def split(b: OnnxBuilder, z: str, parts: int, units: int) -> list:
    return b.add("Split", [z, b.ints([units] * parts)], outputs=parts, axis=-1)


def units_of(node) -> int:
    return recurrent_sources(node).recurrent_kernel.shape[0]


def recurrence(b: OnnxBuilder, p_t: str, h: str, value: dict) -> str:
    """P_t + h @ U."""
    return b.add("Add", [p_t, b.add("MatMul", [h, value["recurrent_kernel"]])])


def simple_rnn_cell(b, node, p_t, old, value):
    z = recurrence(b, p_t, old[0], value)
    activation = node.attr("activation")
    return [z if activation == "linear" else b.add(ACTIVATION_OPS[activation], [z])]


def lstm_cell(b, node, p_t, old, value):
    h, c = old
    zi, zf, zg, zo = split(b, recurrence(b, p_t, h, value), 4, units_of(node))
    i, f, o = (b.add("Sigmoid", [z]) for z in (zi, zf, zo))
    g = b.add("Tanh", [zg])
    c_new = b.add("Add", [b.add("Mul", [f, c]), b.add("Mul", [i, g])])
    return [b.add("Mul", [o, b.add("Tanh", [c_new])]), c_new]


def gru_cell(b, node, p_t, old, value):
    """Keras 3's reset_after GRU: the reset gate scales the recurrent projection and its bias."""
    (h,), units = old, units_of(node)
    xz, xr, xh = split(b, p_t, 3, units)
    recurrent = b.add("Add", [b.add("MatMul", [h, value["recurrent_kernel"]]),
                              value["recurrent_bias"]])
    rz, rr, rh = split(b, recurrent, 3, units)
    z, r = (b.add("Sigmoid", [b.add("Add", [x, rec])]) for x, rec in ((xz, rz), (xr, rr)))
    hh = b.add("Tanh", [b.add("Add", [xh, b.add("Mul", [r, rh])])])
    one_minus_z = b.add("Sub", [b.scalar(1, node.dtype), z])
    return [b.add("Add", [b.add("Mul", [z, h]), b.add("Mul", [one_minus_z, hh])])]


CELLS = {"simple_rnn_seq": simple_rnn_cell, "lstm_seq": lstm_cell, "gru_seq": gru_cell}

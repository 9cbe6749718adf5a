"""What an ONNX RNN, LSTM or GRU node reads of a graphc graph.

graphc's sequence ops take P = x @ W + b, projected outside the recurrence; ONNX's nodes take
x, W and b and project themselves. When P is the projection graphc's `project` builds
(reshape(matmul(reshape(x, (-1, features)), W), (-1, time, gates * units)) + b, or
matmul(x, W) + b for a run-time length), the ONNX node reads x, W and b, so the model holds the
layer's real weights; any other P is fed as x with an identity input kernel.

A masked op's last input is its bool (batch, time) mask (graphc/ops/recurrent.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.ir import Node

SEQUENCE_OPS = ("simple_rnn_seq", "lstm_seq", "gru_seq")
UNMASKED_INPUTS = {"simple_rnn_seq": 3, "lstm_seq": 4, "gru_seq": 4}


@dataclass(frozen=True)
class RecurrentSources:
    """The graph values an ONNX recurrent node reads, by role; None: absent."""

    x: Node  # (batch, time, features); P itself when `kernel` is None
    kernel: Node | None  # W (features, gates * units)
    bias: Node | None  # the input bias (gates * units,)
    states: tuple  # h0, and c0 for LSTM
    recurrent_kernel: Node  # U (units, gates * units)
    recurrent_bias: Node | None  # GRU's (gates * units,)
    mask: Node | None = None  # bool (batch, time): where the steps run

    def roles(self) -> list[tuple[str, Node]]:
        """(role, node) of every present value, in a fixed order (the emitter's inputs)."""
        named = [("x", self.x), ("kernel", self.kernel), ("bias", self.bias)]
        named += [(f"state{k}", s) for k, s in enumerate(self.states)]
        named += [("recurrent_kernel", self.recurrent_kernel),
                  ("recurrent_bias", self.recurrent_bias), ("mask", self.mask)]
        return [(role, node) for role, node in named if node is not None]


def recurrent_sources(node: Node) -> RecurrentSources:
    inputs = list(node.inputs)
    mask = inputs.pop() if len(inputs) > UNMASKED_INPUTS[node.op] else None
    P, *rest = inputs
    recurrent_bias = rest.pop() if node.op == "gru_seq" else None
    *states, U = rest
    x, kernel, bias = projection_of(P) or (P, None, None)
    return RecurrentSources(x, kernel, bias, tuple(states), U, recurrent_bias, mask)


def projection_of(P: Node):
    """(x, W, b or None) when P is x @ W (+ b) over every step, else None."""
    bias, steps, gates = None, P.shape[1], P.shape[2]
    if P.op == "add" and P.inputs[1].shape == (gates,) and P.inputs[0].shape == P.shape:
        P, bias = P.inputs
    if P.op == "reshape" and P.attr("shape") == (-1, *P.shape[1:]):
        P = P.inputs[0]
    if P.op == "add" and bias is None and P.inputs[1].shape == (gates,):  # bias on the rows
        P, bias = P.inputs
    if P.op != "matmul" or P.attr("transpose_a") or P.attr("transpose_b"):
        return None
    x, kernel = P.inputs
    if x.op == "reshape" and x.ndim == 2 and x.inputs[0].ndim == 3 and \
            x.attr("shape") == (-1, x.inputs[0].shape[2]):
        x = x.inputs[0]
    if x.ndim != 3 or x.shape[1] != steps or kernel.ndim != 2:
        return None
    return x, kernel, bias

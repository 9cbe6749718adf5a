"""The recurrent kernel U of SimpleRNN, LSTM and GRU (graphc/ops/recurrent.py): which input of
each op it is, the units and FLOPs it implies, and its gradient op recurrent_kernel_grad,
dU = sum_t h_{t-1}^T dZ_t: one op on the packed states Y (h in slot 0; h0 before step 0) and
the BPTT op's output G (dZ_t its first `gates` unit slots), so the LLVM kernel reads both in
place instead of the graph gathering h_{t-1} and dZ into (batch * time)-row copies for a
matmul."""

from __future__ import annotations

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import call, defop, dims_equal, require_float, same_dtype
from graphc.ops.cases import F, case

# Which input of each recurrent op is the recurrent kernel U (U^T for the BPTT ops), which
# their fused kernels are specialised on.
RECURRENT_KERNEL_INPUT = {"simple_rnn_seq": 2, "lstm_seq": 3, "gru_seq": 2,
                          "simple_rnn_seq_grad": 0, "lstm_seq_grad": 1, "gru_seq_grad": 1,
                          # with the input projection inside (recurrent_projected.py)
                          "simple_rnn_seq_projected": 4, "lstm_seq_projected": 5,
                          "gru_seq_projected": 4}


def recurrent_units(node) -> int:
    """The units of a recurrent op: U's rows (U^T's columns for the BPTT ops)."""
    kernel = node.inputs[RECURRENT_KERNEL_INPUT[node.op]]
    return kernel.shape[1 if node.op.endswith("_grad") else 0]


def flops_sequence(node, shape_of) -> int:
    """Each step's GEMM with U (or U^T), plus one FLOP per packed element for the cells."""
    batch, steps, width = shape_of(node)
    kernel = shape_of(node.inputs[RECURRENT_KERNEL_INPUT[node.op]])
    return batch * steps * (2 * int(np.prod(kernel)) + width)


def recurrent_kernel_grad(h0, Y, G, gates):
    """dU = sum_t h_{t-1}^T dZ_t (dZ_t: the first `gates` unit slots of G's step t)."""
    return call("recurrent_kernel_grad", h0, Y, G, gates=gates)


def infer_kernel_grad(inputs, *, gates):
    h0, Y, G = inputs
    dtype = require_float(same_dtype(inputs))
    units = h0.shape[1] if h0.ndim == 2 else None
    fits = (units is not None and Y.ndim == 3 and G.ndim == 3 and isinstance(gates, int)
            and gates >= 1 and all(map(dims_equal, Y.shape[:2], G.shape[:2]))
            and dims_equal(Y.shape[0], h0.shape[0]) and Y.shape[2] is not None
            and G.shape[2] is not None and Y.shape[2] % units == 0
            and G.shape[2] % units == 0 and G.shape[2] >= gates * units)
    if not fits:
        raise ShapeError(f"recurrent_kernel_grad: h0 (batch, units), packed states (batch, time, "
                         f"k * units) and gradients (batch, time, >= {gates} * units) expected, "
                         f"got {h0.shape}, {Y.shape}, {G.shape}")
    return (units, gates * units), dtype


def impl_kernel_grad(h0, Y, G, *, gates):
    units, steps = h0.shape[1], Y.shape[1]
    h_prev = np.concatenate([h0[:, None], Y[:, :-1, :units]], axis=1)[:, :steps]
    dZ = G[..., : gates * units]
    return h_prev.reshape(-1, units).T @ dZ.reshape(-1, gates * units)


def flops_kernel_grad(node, shape_of) -> int:
    """One multiply-add per (batch, time) row, unit and gate unit."""
    batch, steps, _ = shape_of(node.inputs[1])
    return 2 * batch * steps * int(np.prod(shape_of(node)))


defop(
    "recurrent_kernel_grad",
    infer=infer_kernel_grad,
    impl=impl_kernel_grad,
    fusion="opaque",
    flops=flops_kernel_grad,
    cases=[
        case(F((2, 3)), F((2, 4, 18)), F((2, 4, 18)), gates=4, grad=False),
        case(F((3, 2)), F((3, 5, 2)), F((3, 5, 4)), gates=1, grad=False),
    ],
    doc="The recurrent kernel's gradient sum_t h_{t-1}^T dZ_t, h_{t-1} from h0 and slot 0 of "
    "the packed states, dZ_t the first `gates` unit slots of the BPTT op's output.",
)


def infer_input_kernel_grad(inputs, *, start, stop, bias=False):
    x, G = inputs
    dtype = require_float(same_dtype(inputs))
    fits = (x.ndim == 2 and G.ndim == 3 and x.shape[1] is not None and G.shape[2] is not None
            and isinstance(start, int) and isinstance(stop, int)
            and 0 <= start < stop <= G.shape[2])
    if fits and None not in (x.shape[0], *G.shape[:2]):
        fits = x.shape[0] == G.shape[0] * G.shape[1]
    if not fits:
        raise ShapeError(f"recurrent_input_kernel_grad: inputs (batch * time, features) and "
                         f"gradients (batch, time, width) with 0 <= start < stop <= width "
                         f"expected, got {x.shape}, {G.shape}, start={start!r}, stop={stop!r}")
    return (x.shape[1] + bool(bias), stop - start), dtype


def impl_input_kernel_grad(x, G, *, start, stop, bias=False):
    dP = G.reshape(-1, G.shape[2])[:, start:stop]
    dW = x.T @ dP
    return np.concatenate([dW, dP.sum(axis=0, keepdims=True)]) if bias else dW


def flops_input_kernel_grad(node, shape_of) -> int:
    return 2 * shape_of(node.inputs[0])[0] * int(np.prod(shape_of(node)))


defop(
    "recurrent_input_kernel_grad",
    infer=infer_input_kernel_grad,
    impl=impl_input_kernel_grad,
    fusion="opaque",
    flops=flops_input_kernel_grad,
    cases=[
        case(F((8, 3)), F((2, 4, 18)), start=0, stop=12, grad=False),
        case(F((15, 2)), F((3, 5, 10)), start=6, stop=8, grad=False),
        case(F((8, 3)), F((2, 4, 18)), start=0, stop=12, bias=True, grad=False),
    ],
    doc="x^T @ G[:, :, start:stop] over the batch * time rows: the gradient of the input "
    "kernel W of P = x @ W, read from a BPTT op's output G in place (no copy of the slice); "
    "with bias=True one more row, the sum of those rows (the gradient of P's bias).",
)

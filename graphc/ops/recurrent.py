"""Recurrences over time: SimpleRNN, LSTM and GRU sequence ops with back-propagation-through-
time ops.

Why dedicated sequence ops and not a Theano-style `scan` or unrolling:
- Unrolling a 100-step LSTM builds ~100 copies of the cell (and as many again for the
  gradient): graphs, passes and LLVM modules grow with the sequence length, and compile
  time with them. A sequence op keeps the time loop *inside* one kernel, so the graph and
  the compile time are the same for 5 steps or 500.
- `scan` needs nested graphs, an executor for them in every backend and a gradient that is
  itself a scan over saved intermediates; the IR here has single-output nodes and the LLVM
  backend lowers flat graphs. Three fixed cells cover what Keras offers (SimpleRNN, LSTM,
  GRU), and each cell's equations stay readable in one place.
- It is also the fast formulation (cuDNN's): the input projection x @ W + b of *all* time
  steps is one large matmul outside the loop, and the weight gradients are large matmuls
  over the pre-activation gradients that the BPTT op returns; only h @ U stays per step.

Each forward op takes P = x @ W + b (batch, time, gates * units), the initial state(s) and
the recurrent kernel U, and returns one tensor (batch, time, k * units) that packs the
states and the gate activations the backward pass needs (cuDNN's "reserve space"); the
layers slice h (and c) out of it. Each `*_grad` op takes U^T and the upstream gradient of
that packed tensor (any slot may carry gradient; or of its last step alone, when only that step
carries any: recurrent_upstream.py) and returns, per step, the gradient of the
pre-activations followed by the gradient reaching the previous state(s) (GRU: of the input
and recurrent projections, the recurrent ones contiguous). The VJP then finishes with
`recurrent_kernel_grad` (dU = sum_t h_{t-1}^T dZ_t, read in place from the packed tensors)
and ordinary graph ops (dh0, dc0 sliced from step 0).
Second derivatives through a recurrence are not provided (the *_grad ops have no VJP).

Masks (Keras): each op takes an optional last input, a bool (batch, time) mask. At a masked
step the states stay as they were (the packed h and c slots repeat the previous step's, the
gate slots hold zeros), so the gradient of the states passes through unchanged and the gates
get none.

Gate orders are Keras 3's: LSTM i, f, c, o; GRU z, r, h with reset_after=True (the reset
gate multiplies the recurrent projection, which carries its own bias).
"""

from __future__ import annotations

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import Shaped, call, defop, dims_equal, dims_keep_batch, require_float, same_dtype
from graphc.ops.cases import F, case
from graphc.ops.elementwise import _sigmoid as sigmoid
from graphc.ops.recurrent_kernel import flops_sequence, recurrent_kernel_grad
from graphc.ops.recurrent_upstream import ALL, check_upstream, every_step, upstream

# Packed layouts, in units of `units` along the last axis.
LSTM_SLOTS = ("h", "c", "i", "f", "g", "o")
GRU_SLOTS = ("h", "z", "r", "hh", "rec_h")
RNN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def check_sequence(P, states, U, gates):
    """P (batch, time, gates*u), states (batch, u), U (u, gates*u); returns u."""
    if P.ndim != 3:
        raise ShapeError(f"projected inputs must be (batch, time, features), got {P.ndim}-d")
    if U.ndim != 2 or U.shape[1] is None or U.shape[1] % gates:
        raise ShapeError(f"recurrent kernel must be (units, {gates} * units), got {U.shape}")
    units = U.shape[1] // gates
    if not dims_equal(U.shape[0], units) or not dims_equal(P.shape[2], gates * units):
        raise ShapeError(
            f"recurrent kernel {U.shape} and projected inputs {P.shape} do not "
            f"fit {units} units with {gates} gate(s)"
        )
    for s in states:
        if (
            s.ndim != 2
            or not dims_equal(s.shape[1], units)
            or not dims_equal(s.shape[0], P.shape[0])
        ):
            raise ShapeError(f"a state must be (batch, {units}), got {s.shape}")
    return units


def packed_shape(P, units, slots):
    return (P.shape[0], P.shape[1], slots * units)


def without_mask(inputs, time_of):
    """The inputs before an optional bool (batch, time) mask, after checking the mask."""
    if inputs[-1].dtype != "bool":
        return inputs
    mask, batch_and_time = inputs[-1], time_of(inputs)
    if mask.ndim != 2 or not all(map(dims_equal, mask.shape, batch_and_time)):
        raise ShapeError(f"the mask must be (batch, time) = {batch_and_time}, got {mask.shape}")
    return inputs[:-1]


def infer_sequence(gates, slots, extra_inputs=0):
    def infer(inputs, **_):
        inputs = without_mask(inputs, lambda i: i[0].shape[:2])
        P, *states, U = inputs[: len(inputs) - extra_inputs]
        dtype = require_float(same_dtype(inputs))
        units = check_sequence(P, states, U, gates)
        for b in inputs[len(inputs) - extra_inputs :]:
            if b.shape != (gates * units,):
                raise ShapeError(f"recurrent bias must be ({gates * units},), got {b.shape}")
        return packed_shape(P, units, slots), dtype

    return infer


def infer_sequence_grad(gates, slots, grad_slots):
    def infer(inputs, **_):
        inputs = without_mask(inputs, lambda i: i[-3].shape[:2])  # Y, before gY and the mask
        *states, UT, Y, gY = inputs
        dtype = require_float(same_dtype(inputs))
        if UT.ndim != 2:
            raise ShapeError(f"transposed recurrent kernel must be ({gates} * units, units), "
                             f"got {UT.shape}")
        rows, units = UT.shape  # a run-time row count is gates * units
        U = Shaped((units, gates * units if rows is None and units is not None else rows))
        if Y.ndim != 3:
            raise ShapeError(f"packed output must be (batch, time, {slots} * units), got {Y.shape}")
        units = check_sequence(Shaped(Y.shape[:2] + (None,)), states, U, gates)
        if not dims_equal(Y.shape[2], slots * units):
            raise ShapeError(f"packed output {Y.shape} does not fit {units} units")
        check_upstream(Y, gY)
        return (Y.shape[0], Y.shape[1], grad_slots * units), dtype

    return infer


def split(a, parts):
    return np.split(a, parts, axis=-1)


def kept(mask, t, like):
    """(batch, 1) booleans: where step t runs (everywhere without a mask)."""
    return np.ones((like.shape[0], 1), bool) if mask is None else mask[:, t, None]


# ---- SimpleRNN: h_t = act(P_t + h_{t-1} U) ---------------------------------------------------

ACT = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0),
    "sigmoid": sigmoid,
    "linear": lambda a: a,
}
DACT = {
    "tanh": lambda h: 1 - h * h,
    "relu": lambda h: (h > 0).astype(h.dtype),
    "sigmoid": lambda h: h * (1 - h),
    "linear": np.ones_like,
}  # in terms of the output


def impl_rnn(P, h0, U, mask=None, *, activation):
    Y, h = np.empty_like(P), h0
    for t in range(P.shape[1]):
        h = Y[:, t] = np.where(kept(mask, t, P), ACT[activation](P[:, t] + h @ U), h)
    return Y


def impl_rnn_grad(UT, Y, gY, mask=None, *, activation):
    gY = every_step(gY, Y)
    units = UT.shape[1]
    out = np.empty(Y.shape[:2] + (2 * units,), dtype=Y.dtype)
    dh_next = np.zeros_like(Y[:, 0])
    for t in reversed(range(Y.shape[1])):
        keep, dh = kept(mask, t, Y), gY[:, t] + dh_next
        da = np.where(keep, dh * DACT[activation](Y[:, t]), 0)
        dh_next = da @ UT + np.where(keep, 0, dh)
        out[:, t] = np.concatenate([da, dh_next], axis=-1)
    return out


def infer_rnn(inputs, *, activation):
    if activation not in RNN_ACTIVATIONS:
        raise ShapeError(f"activation must be one of {RNN_ACTIVATIONS}, got {activation!r}")
    return infer_sequence(1, 1)(inputs)


def vjp_rnn(g, node):
    P, h0, U, *mask = node.inputs
    G = call("simple_rnn_seq_grad", transposed(U), node, upstream(g, node), *mask,
             activation=node.attr("activation"))
    dA = last_axis(G, 0, U.shape[0])
    dh0 = step_slice(G, 0, U.shape[0], 2 * U.shape[0])
    return dA, dh0, recurrent_kernel_grad(h0, node, G, 1), *[None] * len(mask)


# ---- LSTM (Keras 3): i, f, c, o ---------------------------------------------------------------


def impl_lstm(P, h0, c0, U, mask=None):
    units = U.shape[0]
    Y = np.empty(P.shape[:2] + (6 * units,), dtype=P.dtype)
    h, c = h0, c0
    for t in range(P.shape[1]):
        zi, zf, zg, zo = split(P[:, t] + h @ U, 4)
        i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
        c_new = f * c + i * g
        held = np.concatenate([h, c, np.zeros_like(P[:, t])], axis=-1)
        new = np.concatenate([o * np.tanh(c_new), c_new, i, f, g, o], axis=-1)
        Y[:, t] = np.where(kept(mask, t, P), new, held)
        h, c = Y[:, t, :units], Y[:, t, units : 2 * units]
    return Y


def impl_lstm_grad(c0, UT, Y, gY, mask=None):
    gY = every_step(gY, Y)
    units = UT.shape[1]
    out = np.empty(Y.shape[:2] + (6 * units,), dtype=Y.dtype)
    dh_next = np.zeros_like(c0)
    dc_next = np.zeros_like(c0)
    for t in reversed(range(Y.shape[1])):
        h, c, i, f, g, o = split(Y[:, t], 6)
        gh, gc, gi, gf, gg, go = split(gY[:, t], 6)
        c_prev = Y[:, t - 1, units : 2 * units] if t else c0
        tc = np.tanh(c)
        dh = gh + dh_next
        dc = gc + dc_next + dh * o * (1 - tc * tc)
        keep = kept(mask, t, Y)
        dz = np.concatenate(
            [
                (dc * g + gi) * i * (1 - i),
                (dc * c_prev + gf) * f * (1 - f),
                (dc * i + gg) * (1 - g * g),
                (dh * tc + go) * o * (1 - o),
            ],
            axis=-1,
        )
        dz = np.where(keep, dz, 0)  # a held step's gates (zeros in Y) lead nowhere
        dh_next, dc_next = dz @ UT + np.where(keep, 0, dh), np.where(keep, dc * f, dc)
        out[:, t] = np.concatenate([dz, dh_next, dc_next], axis=-1)
    return out


def vjp_lstm(g, node):
    P, h0, c0, U, *mask = node.inputs
    u = U.shape[0]
    G = call("lstm_seq_grad", c0, transposed(U), node, upstream(g, node), *mask)
    dZ = last_axis(G, 0, 4 * u)
    dh0, dc0 = step_slice(G, 0, 4 * u, 5 * u), step_slice(G, 0, 5 * u, 6 * u)
    return dZ, dh0, dc0, recurrent_kernel_grad(h0, node, G, 4), *[None] * len(mask)


# ---- GRU (Keras 3, reset_after=True): z, r, h ---------------------------------------------------


def impl_gru(P, h0, U, b, mask=None):
    units = U.shape[0]
    Y = np.empty(P.shape[:2] + (5 * units,), dtype=P.dtype)
    h = h0
    for t in range(P.shape[1]):
        xz, xr, xh = split(P[:, t], 3)
        rz, rr, rh = split(h @ U + b, 3)
        z, r = sigmoid(xz + rz), sigmoid(xr + rr)
        hh = np.tanh(xh + r * rh)
        new = np.concatenate([z * h + (1 - z) * hh, z, r, hh, rh], axis=-1)
        held = np.concatenate([h, np.zeros_like(P[:, t]), np.zeros_like(h)], axis=-1)
        Y[:, t] = np.where(kept(mask, t, P), new, held)
        h = Y[:, t, :units]
    return Y


def impl_gru_grad(h0, UT, Y, gY, mask=None):
    gY = every_step(gY, Y)
    units = UT.shape[1]
    out = np.empty(Y.shape[:2] + (5 * units,), dtype=Y.dtype)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(Y.shape[1])):
        h, z, r, hh, rh = split(Y[:, t], 5)
        gh, gz, gr, ghh, grh = split(gY[:, t], 5)
        h_prev = Y[:, t - 1, :units] if t else h0
        dh = gh + dh_next
        dzp = (dh * (h_prev - hh) + gz) * z * (1 - z)
        dah = (dh * (1 - z) + ghh) * (1 - hh * hh)
        drp = (dah * rh + gr) * r * (1 - r)
        keep = kept(mask, t, Y)
        dzp, drp, drh, dah = (np.where(keep, d, 0) for d in (dzp, drp, dah * r + grh, dah))
        dh_next = np.where(keep, dh * z, dh) + np.concatenate([dzp, drp, drh], axis=-1) @ UT
        out[:, t] = np.concatenate([dzp, drp, drh, dah, dh_next], axis=-1)
    return out


def vjp_gru(g, node):
    P, h0, U, b, *mask = node.inputs
    u = U.shape[0]
    G = call("gru_seq_grad", h0, transposed(U), node, upstream(g, node), *mask)
    d_rec = last_axis(G, 0, 3 * u)  # contiguous, so BPTT's dh_prev is one GEMM
    dP = call("concatenate", last_axis(G, 0, 2 * u), last_axis(G, 3 * u, 4 * u), axis=2)
    dh0 = step_slice(G, 0, 4 * u, 5 * u)
    db = call("sum", d_rec, axis=(0, 1), keepdims=False)
    return dP, dh0, recurrent_kernel_grad(h0, node, G, 3), db, *[None] * len(mask)


# ---- graph-level pieces of the VJPs ----------------------------------------------------------

def transposed(U):
    """U^T, the BPTT ops' input: a kernel of its own before them, so their threads need not
    transpose U together and meet at a barrier."""
    return call("transpose", U, axes=(1, 0))


def last_axis(x, start, stop):
    return call("getitem", x, index=(ALL, ALL, ("slice", start, stop, None)))


def step_slice(x, t, start, stop):
    return call("getitem", x, index=(ALL, ("int", t), ("slice", start, stop, None)))


# The recurrent ops' entries (recurrent_kernel.py says which input is U).
MASK24 = F((2, 4), "bool", "bool")  # a (batch, time) mask for the cases

defop(
    "simple_rnn_seq",
    flops=flops_sequence,
    infer=infer_rnn,
    impl=impl_rnn,
    vjp=vjp_rnn,
    fusion="opaque",
    dims=dims_keep_batch,
    cases=[
        case(F((2, 4, 3)), F((2, 3)), F((3, 3)), activation="tanh"),
        case(F((2, 3, 2)), F((2, 2)), F((2, 2)), activation="sigmoid"),
        case(F((2, 4, 3)), F((2, 3)), F((3, 3)), MASK24, activation="tanh"),
    ],
    doc="h_t = activation(P_t + h_{t-1} @ U) over time; returns every h (batch, time, units).",
)
defop(
    "simple_rnn_seq_grad",
    flops=flops_sequence,
    fusion="opaque",
    impl=impl_rnn_grad,
    infer=infer_sequence_grad(1, 1, 2),
    cases=[
        case(F((3, 3)), F((2, 4, 3)), F((2, 4, 3)), activation="tanh", grad=False),
        case(F((3, 3)), F((2, 4, 3)), F((2, 4, 3)), MASK24, activation="relu", grad=False),
        case(F((3, 3)), F((2, 4, 3)), F((2, 3)), activation="tanh", grad=False),  # last step
    ],
    doc="BPTT of simple_rnn_seq: per step [d pre-activation, d h_prev] (gradient input: of "
    "every step, or (batch, units) of the last alone; so for LSTM and GRU).",
)
defop(
    "lstm_seq",
    flops=flops_sequence,
    infer=infer_sequence(4, 6),
    impl=impl_lstm,
    vjp=vjp_lstm,
    fusion="opaque",
    dims=dims_keep_batch,
    cases=[
        case(F((2, 4, 12)), F((2, 3)), F((2, 3)), F((3, 12))),
        case(F((2, 4, 12)), F((2, 3)), F((2, 3)), F((3, 12)), MASK24),
    ],
    doc="LSTM over time (Keras gate order i, f, c, o); packs [h, c, i, f, g, o] per step.",
)
defop(
    "lstm_seq_grad",
    flops=flops_sequence,
    infer=infer_sequence_grad(4, 6, 6),
    impl=impl_lstm_grad,
    fusion="opaque",
    cases=[
        case(F((2, 3)), F((12, 3)), F((2, 4, 18)), F((2, 4, 18)), grad=False),
        case(F((2, 2)), F((8, 2)), F((2, 4, 12)), F((2, 4, 12)), MASK24, grad=False),
        case(F((2, 3)), F((12, 3)), F((2, 4, 18)), F((2, 18)), MASK24, grad=False),
    ],
    doc="BPTT of lstm_seq: per step [dz_i, dz_f, dz_c, dz_o, d h_prev, d c_prev].",
)
defop(
    "gru_seq",
    flops=flops_sequence,
    infer=infer_sequence(3, 5, extra_inputs=1),
    impl=impl_gru,
    vjp=vjp_gru,
    fusion="opaque",
    dims=dims_keep_batch,
    cases=[
        case(F((2, 4, 9)), F((2, 3)), F((3, 9)), F((9,))),
        case(F((2, 4, 9)), F((2, 3)), F((3, 9)), F((9,)), MASK24),
    ],
    doc="GRU over time (Keras z, r, h; reset_after); packs [h, z, r, hh, "
    "h_prev @ U_h + b_h] per step.",
)
defop(
    "gru_seq_grad",
    flops=flops_sequence,
    infer=infer_sequence_grad(3, 5, 5),
    impl=impl_gru_grad,
    fusion="opaque",
    cases=[
        case(F((2, 3)), F((9, 3)), F((2, 4, 15)), F((2, 4, 15)), grad=False),
        case(F((2, 3)), F((9, 3)), F((2, 4, 15)), F((2, 4, 15)), MASK24, grad=False),
        case(F((2, 3)), F((9, 3)), F((2, 4, 15)), F((2, 15)), grad=False),
    ],
    doc="BPTT of gru_seq: per step [dz, dr, d(h_prev @ U_h + b_h), d pre-activation of hh, "
    "d h_prev].",
)

"""The six recurrent kernels (forward and BPTT of SimpleRNN, LSTM, GRU), written with the
machinery of rnn_kernels.py: each thread takes blocks of batch rows through every time step
(a GEMM with the recurrent kernel, then the pointwise cell update), with no barrier at all.
The cell equations mirror graphc/ops/recurrent.py line by line, masks included: a held step
keeps the previous states (and zero gates); its gradient passes on unchanged."""

from __future__ import annotations

from graphc.backends.llvm.irutil import c64, for_range
from graphc.backends.llvm.rnn_kernels import (
    activation,
    activation_slope,
    backward_gemm,
    hidden_before,
    project_inputs,
    recurrent_gemm,
    sigmoid,
    start,
    tanh,
    time_loop,
)


def define(module, op, dtype, units, run_block, suffix="", **flags):
    """The SPMD function of `op` (once per module): run_block(r) for each block of rows;
    flags: masked, last_only (rnn_kernels.start)."""
    fn, r = start(module, op, dtype, units, suffix, **flags)
    if r is None:
        return fn
    r.row_blocks(lambda: run_block(r))
    r.b.ret_void()
    return fn


def copy_inputs(r, t, width, slot, gates):
    """Y[n, t, slot...] = P[n, t] for this thread's rows (the GEMM then accumulates onto it)."""

    def row(n):
        src, dst = r.row(gates, n, t), r.b.add(r.row(width, n, t), c64(slot * r.u))
        for_range(r.b, c64(0), c64(gates * r.u),
                  lambda j: r.st(r.ld("P", r.b.add(src, j)), "Y", r.b.add(dst, j)), name="j")

    r.rows(row)


def cells(r, cell, t):
    """cell(t, n, k) for every row n of the block and unit k."""
    r.rows(lambda n: r.units(lambda k: cell(t, n, k)))


def accumulating_forward(r, width, slot, gates, cell):
    """Y[t, slot...] = P[t] (projected: x_t @ W + bx), += h_{t-1} @ U, then the cell update,
    for t = 0 .. T-1."""
    b = r.b
    if r.features:
        def projected_step(t):
            project_inputs(r, t, width, slot, gates, range(gates))
            recurrent_gemm(r, t, width, gates, slot, acc=True)
            cells(r, cell, t)

        time_loop(r, True, projected_step)
        return

    def step(t):
        recurrent_gemm(r, t, width, gates, slot, acc=True)
        cells(r, cell, t)
        with b.if_then(b.icmp_signed("<", t, r.last_step())):
            copy_inputs(r, b.add(t, c64(1)), width, slot, gates)

    with b.if_then(b.icmp_signed(">", r.T, c64(0))):  # no step 0 to write when T == 0
        copy_inputs(r, c64(0), width, slot, gates)
    time_loop(r, True, step)


def backward_in_time(r, width, gates, dh_slot, cell, acc=False):
    """For t = T-1 .. 0: the cell's gradients, then G[t, dh_slot] (+)= G[t, :gates] @ U^T
    (always += under a mask: the cell stores there the gradient a held step passes on)."""

    def step(t):
        cells(r, cell, t)
        backward_gemm(r, t, width, gates, dh_slot, acc=acc or r.masked)

    time_loop(r, False, step)


def define_simple_rnn(module, dtype, units, act, masked=False, features=0):
    def cell(r, t, n, k):
        at = r.b.add(r.row(1, n, t), k)
        value = activation(act, r.v("Y", at))
        if r.masked:
            value = r.hold(r.keep(n, t), value, hidden_before(r, t, 1, n, k))
        r.st(value, "Y", at)

    def run(r):
        accumulating_forward(r, 1, 0, 1, lambda t, n, k: cell(r, t, n, k))

    return define(module, "simple_rnn_seq", dtype, units, run, f"_{act}", masked=masked,
                  features=features)


def define_simple_rnn_grad(module, dtype, units, act, masked=False, last_only=False):
    def cell(r, t, n, k):
        at, keep = r.b.add(r.row(1, n, t), k), r.keep(n, t)
        dh_next = r.next_or_zero(t, lambda nx: r.v("G", r.slot(r.row(2, n, nx), 1, k)))
        dh = r.upstream(1, n, t, 0, k) + dh_next
        da = dh * activation_slope(act, r.v("Y", at))
        r.st(r.hold(keep, da, 0), "G", r.b.add(r.row(2, n, t), k))
        if r.masked:
            r.st(r.hold(keep, 0, dh), "G", r.slot(r.row(2, n, t), 1, k))

    def run(r):
        backward_in_time(r, 2, 1, 1, lambda t, n, k: cell(r, t, n, k))

    return define(module, "simple_rnn_seq_grad", dtype, units, run, f"_{act}", masked=masked,
                  last_only=last_only)


def cell_before(r, t, n, k):
    """c_{t-1}[n, k] of an LSTM: c0 at t == 0, else slot 1 of the packed output Y at t - 1."""
    b = r.b
    return r.previous(
        t,
        lambda: r.v("c0", b.add(b.mul(n, c64(r.u)), k)),
        lambda e: r.v("Y", r.slot(r.row(6, n, e), 1, k)),
    )


def lstm_cell(r, t, n, k):
    base = r.row(6, n, t)
    i, f, g, o = (
        sigmoid(r.v("Y", r.slot(base, 2, k))),
        sigmoid(r.v("Y", r.slot(base, 3, k))),
        tanh(r.v("Y", r.slot(base, 4, k))),
        sigmoid(r.v("Y", r.slot(base, 5, k))),
    )
    c_prev = cell_before(r, t, n, k)
    c = f * c_prev + i * g
    values = (o * tanh(c), c, i, f, g, o)
    if r.masked:
        held = (hidden_before(r, t, 6, n, k), c_prev, 0, 0, 0, 0)
        values = [r.hold(r.keep(n, t), v, old) for v, old in zip(values, held)]
    for s, value in enumerate(values):
        r.st(value, "Y", r.slot(base, s, k))


def lstm_grad_cell(r, t, n, k):
    base = r.row(6, n, t)
    gh, gc, gi, gf, gg, go = (r.upstream(6, n, t, s, k) for s in range(6))
    c, i, f, g, o = (r.v("Y", r.slot(base, s, k)) for s in range(1, 6))
    c_prev = cell_before(r, t, n, k)
    dh = gh + r.next_or_zero(t, lambda nx: r.v("G", r.slot(r.row(6, n, nx), 4, k)))
    dc_next = r.next_or_zero(t, lambda nx: r.v("G", r.slot(r.row(6, n, nx), 5, k)))
    tc = tanh(c)
    dc = gc + dc_next + dh * o * (1 - tc * tc)
    grads = (
        (dc * g + gi) * i * (1 - i),
        (dc * c_prev + gf) * f * (1 - f),
        (dc * i + gg) * (1 - g * g),
        (dh * tc + go) * o * (1 - o),
    )
    keep = r.keep(n, t)
    for s, value in enumerate(grads):
        r.st(r.hold(keep, value, 0), "G", r.slot(base, s, k))
    r.st(r.hold(keep, dc * f, dc), "G", r.slot(base, 5, k))
    if r.masked:
        r.st(r.hold(keep, 0, dh), "G", r.slot(base, 4, k))


def define_lstm(module, dtype, units, masked=False, features=0):
    def run(r):
        accumulating_forward(r, 6, 2, 4, lambda t, n, k: lstm_cell(r, t, n, k))

    return define(module, "lstm_seq", dtype, units, run, masked=masked, features=features)


def define_lstm_grad(module, dtype, units, masked=False, last_only=False):
    def run(r):
        backward_in_time(r, 6, 4, 4, lambda t, n, k: lstm_grad_cell(r, t, n, k))

    return define(module, "lstm_seq_grad", dtype, units, run, masked=masked, last_only=last_only)


def gru_pre_activations(r, t, n, k):
    """(z, r pre-activations, x_t W_h + bx_h, h_{t-1} U_h + b_h) of unit k: from P and the
    packed slots 2-4, or projected (gru_step): the sums in slots 2, 3, x_t W_h + bx_h in 1."""
    base = r.row(5, n, t)
    rz, rr, rh = (r.v("Y", r.slot(base, s, k)) for s in (2, 3, 4))
    if r.features:
        return rz, rr, r.v("Y", r.slot(base, 1, k)), rh
    xz, xr, xh = (r.v("P", r.slot(r.row(3, n, t), s, k)) for s in range(3))
    return xz + rz, xr + rr, xh, rh


def gru_cell(r, t, n, k):
    base = r.row(5, n, t)
    z_in, r_in, xh, rh = gru_pre_activations(r, t, n, k)
    h_prev = hidden_before(r, t, 5, n, k)
    z, reset = sigmoid(z_in), sigmoid(r_in)
    hh = tanh(xh + reset * rh)
    values = (z * h_prev + (1 - z) * hh, z, reset, hh)
    if r.masked:  # a held step also zeroes its h_prev @ U_h + b_h slot
        keep = r.keep(n, t)
        values = [r.hold(keep, v, old) for v, old in zip((*values, rh), (h_prev, 0, 0, 0, 0))]
    for s, value in enumerate(values):
        r.st(value, "Y", r.slot(base, s, k))


def gru_grad_cell(r, t, n, k):
    base = r.row(5, n, t)
    gh, gz, gr, ghh, grh = (r.upstream(5, n, t, s, k) for s in range(5))
    z, reset, hh, rh = (r.v("Y", r.slot(base, s, k)) for s in range(1, 5))
    h_prev = hidden_before(r, t, 5, n, k)
    dh = gh + r.next_or_zero(t, lambda nx: r.v("G", r.slot(r.row(5, n, nx), 4, k)))
    dzp = (dh * (h_prev - hh) + gz) * z * (1 - z)
    dah = (dh * (1 - z) + ghh) * (1 - hh * hh)
    drp = (dah * rh + gr) * reset * (1 - reset)
    values = (dzp, drp, dah * reset + grh, dah, dh * z)
    if r.masked:
        keep = r.keep(n, t)
        values = [r.hold(keep, v, old) for v, old in zip(values, (0, 0, 0, 0, dh))]
    for s, value in enumerate(values):
        r.st(value, "G", r.slot(base, s, k))


def gru_step(r, t):
    """h_{t-1} @ U + b into slots 2-4; projected, x_t @ W_zr + bx_zr added onto slots 2, 3 and
    x_t @ W_h + bx_h into slot 1 (free until the cell writes z there); then the cells."""
    recurrent_gemm(r, t, 5, 3, 2, bias=r.a["b"])
    if r.features:
        project_inputs(r, t, 5, 2, 3, range(2), acc=True)
        project_inputs(r, t, 5, 1, 3, range(2, 3))
    cells(r, lambda t, n, k: gru_cell(r, t, n, k), t)


def define_gru(module, dtype, units, masked=False, features=0):
    def run(r):
        time_loop(r, True, lambda t: gru_step(r, t))

    return define(module, "gru_seq", dtype, units, run, masked=masked, features=features)


def define_gru_grad(module, dtype, units, masked=False, last_only=False):
    def run(r):
        backward_in_time(r, 5, 3, 4, lambda t, n, k: gru_grad_cell(r, t, n, k), acc=True)

    return define(module, "gru_seq_grad", dtype, units, run, masked=masked, last_only=last_only)


DEFINE = {
    "simple_rnn_seq": define_simple_rnn,
    "simple_rnn_seq_grad": define_simple_rnn_grad,
    "lstm_seq": define_lstm,
    "lstm_seq_grad": define_lstm_grad,
    "gru_seq": define_gru,
    "gru_seq_grad": define_gru_grad,
    "simple_rnn_seq_projected": define_simple_rnn,
    "lstm_seq_projected": define_lstm,
    "gru_seq_projected": define_gru,
}

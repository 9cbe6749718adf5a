"""Kernels of the recurrent sequence ops (graphc/ops/recurrent.py): SimpleRNN, LSTM, GRU and
their back-propagation through time.

Batch rows are independent recurrences, so threads split the rows and never meet; each row
runs its time loop with the per-step product h @ U (or dz @ U^T) as a vectorizable row-times-
matrix loop. Gate pre-activations are built in the step's own output row and turned into the
packed layout in place (each unit index reads its own slots before writing them).
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const


class Rows:
    """Index helpers for one batch row of (batch, time, width) arrays and (units, n) weights."""

    def __init__(self, kb, dtype):
        self.kb, self.b, self.dtype = kb, kb.b, dtype

    def at(self, ptr, index):
        return self.kb.load(ptr, index, self.dtype)

    def put(self, value, ptr, index):
        self.kb.store(value, ptr, index, self.dtype)

    def one(self):
        return const(self.dtype, 1)

    def sub1(self, x):  # 1 - x
        return self.b.fsub(self.one(), x)

    def mat_row(self, vec, vec_off, U, n_in, n_out, dst, dst_off):
        """dst[j] += sum_k vec[k] * U[k, j] for j < n_out (dst holds its start values)."""
        b = self.b

        def over_k(k):
            a = self.at(vec, b.add(vec_off, k))
            row = b.mul(k, n_out)

            def over_j(j):
                d = b.add(dst_off, j)
                self.put(b.fadd(self.at(dst, d), b.fmul(a, self.at(U, b.add(row, j)))), dst, d)

            self.kb.loop(c64(0), n_out, over_j, name="j")

        self.kb.loop(c64(0), n_in, over_k, name="k")

    def mat_row_t(self, vec, vec_off, U, n_out, n_in, dst, dst_off):
        """dst[k] = sum_j vec[j] * U[k, j] for k < n_out (the product with U^T)."""
        b = self.b

        def over_k(k):
            row = b.mul(k, n_in)

            def over_j(j, acc):
                return [b.fadd(acc, b.fmul(self.at(vec, b.add(vec_off, j)),
                                           self.at(U, b.add(row, j))), flags=("reassoc",))]

            (total,) = self.kb.loop(c64(0), n_in, over_j, [const(self.dtype, 0)], "j")
            self.put(total, dst, b.add(dst_off, k))

        self.kb.loop(c64(0), n_out, over_k, name="k")


# Position of the recurrent kernel U among each op's inputs (its first axis is the units).
U_INDEX = {"simple_rnn_seq": 2, "lstm_seq": 3, "gru_seq": 2, "simple_rnn_seq_grad": 0,
           "lstm_seq_grad": 1, "gru_seq_grad": 1}


def sequence_kernel(body_of_row):
    """A kernel whose batch rows (split across threads) each run
    `body_of_row(kb, node, row, time steps, units)`."""

    def emit(kb, node):
        dims = kb.dims(node)
        units = kb.dims(node.inputs[U_INDEX[node.op]])[0]
        lo, hi = kb.split(dims[0])
        kb.loop(lo, hi, lambda r: body_of_row(kb, node, r, dims[1], units))
        return kb.finish()

    return emit


def activation(b, name, x, dtype):
    if name == "linear":
        return x
    if name == "relu":
        return b.select(b.fcmp_ordered("<", x, const(dtype, 0)), const(dtype, 0), x)
    return vecmath.emit_tanh(b, x) if name == "tanh" else vecmath.emit_sigmoid(b, x)


def activation_slope(b, name, y, dtype, rows):
    """d activation / d input, from the output y (as graphc.ops.recurrent.DACT)."""
    if name == "tanh":
        return rows.sub1(b.fmul(y, y))
    if name == "sigmoid":
        return b.fmul(y, rows.sub1(y))
    if name == "relu":
        return b.uitofp(b.fcmp_ordered(">", y, const(dtype, 0)), y.type)
    return rows.one()


# ---- forward ---------------------------------------------------------------------------------


def rnn_row(kb, node, r, steps, u):
    P, h0, U = kb.ins
    rows, b, act = Rows(kb, node.dtype), kb.b, node.attr("activation")

    def step(t):
        base = b.mul(b.add(b.mul(r, steps), t), u)  # Y[r, t, :] and P[r, t, :] (width u)
        kb.loop(c64(0), u, lambda j: rows.put(rows.at(P, b.add(base, j)), kb.out, b.add(base, j)))
        first = b.icmp_signed("==", t, c64(0))
        prev, off = b.select(first, h0, kb.out), b.select(first, b.mul(r, u), b.sub(base, u))
        rows.mat_row(prev, off, U, u, u, kb.out, base)
        kb.loop(c64(0), u, lambda j: rows.put(activation(b, act, rows.at(
            kb.out, b.add(base, j)), node.dtype), kb.out, b.add(base, j)))

    kb.loop(c64(0), steps, step, name="t")


def lstm_row(kb, node, r, steps, u):
    P, h0, c0, U = kb.ins
    rows, b = Rows(kb, node.dtype), kb.b
    four, six = b.mul(u, c64(4)), b.mul(u, c64(6))

    def step(t):
        rt = b.add(b.mul(r, steps), t)
        y, p = b.mul(rt, six), b.mul(rt, four)
        z = b.add(y, b.mul(u, c64(2)))  # pre-activations go in the i, f, g, o slots
        kb.loop(c64(0), four, lambda j: rows.put(rows.at(P, b.add(p, j)), kb.out, b.add(z, j)))
        first = b.icmp_signed("==", t, c64(0))
        prev = b.select(first, h0, kb.out)
        rows.mat_row(prev, b.select(first, b.mul(r, u), b.sub(y, six)), U, u, four, kb.out, z)
        c_prev = b.select(first, c0, kb.out)
        c_off = b.select(first, b.mul(r, u), b.add(b.sub(y, six), u))

        def unit(k):
            slot = lambda s: b.add(b.add(y, b.mul(u, c64(s))), k)  # noqa: E731
            i = vecmath.emit_sigmoid(b, rows.at(kb.out, slot(2)))
            f = vecmath.emit_sigmoid(b, rows.at(kb.out, slot(3)))
            g = vecmath.emit_tanh(b, rows.at(kb.out, slot(4)))
            o = vecmath.emit_sigmoid(b, rows.at(kb.out, slot(5)))
            c = b.fadd(b.fmul(f, rows.at(c_prev, b.add(c_off, k))), b.fmul(i, g))
            h = b.fmul(o, vecmath.emit_tanh(b, c))
            for s, v in enumerate((h, c, i, f, g, o)):
                rows.put(v, kb.out, slot(s))

        kb.loop(c64(0), u, unit, name="u")

    kb.loop(c64(0), steps, step, name="t")


def gru_row(kb, node, r, steps, u):
    P, h0, U, bias = kb.ins
    rows, b = Rows(kb, node.dtype), kb.b
    three, five = b.mul(u, c64(3)), b.mul(u, c64(5))

    def step(t):
        rt = b.add(b.mul(r, steps), t)
        y, p = b.mul(rt, five), b.mul(rt, three)
        rec = b.add(y, u)  # h_prev @ U + b goes in the z, r, hh slots first
        kb.loop(c64(0), three, lambda j: rows.put(rows.at(bias, j), kb.out, b.add(rec, j)))
        first = b.icmp_signed("==", t, c64(0))
        prev = b.select(first, h0, kb.out)
        prev_off = b.select(first, b.mul(r, u), b.sub(y, five))
        rows.mat_row(prev, prev_off, U, u, three, kb.out, rec)

        def unit(k):
            slot = lambda s: b.add(b.add(y, b.mul(u, c64(s))), k)  # noqa: E731
            x = lambda s: rows.at(P, b.add(b.add(p, b.mul(u, c64(s))), k))  # noqa: E731
            rz, rr, rh = (rows.at(kb.out, slot(s)) for s in (1, 2, 3))
            z = vecmath.emit_sigmoid(b, b.fadd(x(0), rz))
            rg = vecmath.emit_sigmoid(b, b.fadd(x(1), rr))
            hh = vecmath.emit_tanh(b, b.fadd(x(2), b.fmul(rg, rh)))
            hp = rows.at(prev, b.add(prev_off, k))
            h = b.fadd(b.fmul(z, hp), b.fmul(rows.sub1(z), hh))
            for s, v in enumerate((h, z, rg, hh, rh)):
                rows.put(v, kb.out, slot(s))

        kb.loop(c64(0), u, unit, name="u")

    kb.loop(c64(0), steps, step, name="t")


register("simple_rnn_seq", "kernel", sequence_kernel(rnn_row))
register("lstm_seq", "kernel", sequence_kernel(lstm_row))
register("gru_seq", "kernel", sequence_kernel(gru_row))

from graphc.backends.llvm import emit_recurrent_grad  # noqa: E402,F401  (the *_grad kernels)

"""Back-propagation through time for the recurrent sequence ops (see emit_recurrent.py).

Each batch row walks time backwards; the gradient reaching h_{t-1} (and c_{t-1}) is stored in
the step's own output row, where step t-1 reads it, so the only state is in the output.
Formulas are graphc.ops.recurrent's impl_*_grad, element for element.
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emit_recurrent import Rows, activation_slope, sequence_kernel
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const


def backwards(kb, steps, body):
    """for t = steps-1 down to 0: body(t, is_last)."""
    b = kb.b

    def step(s):
        t = b.sub(b.sub(steps, c64(1)), s)
        body(t, b.icmp_signed("==", s, c64(0)))

    kb.loop(c64(0), steps, step, name="s")


def from_next(rows, is_last, ptr, index):
    """A value the later step left in its output row (zero at the last step)."""
    b = rows.b
    safe = b.select(is_last, c64(0), index)
    return b.select(is_last, const(rows.dtype, 0), rows.at(ptr, safe))


def rnn_grad_row(kb, node, r, steps, u):
    U, Y, gY = kb.ins
    rows, b, act = Rows(kb, node.dtype), kb.b, node.attr("activation")
    two = b.mul(u, c64(2))

    def step(t, is_last):
        rt = b.add(b.mul(r, steps), t)
        o, y = b.mul(rt, two), b.mul(rt, u)

        def unit(j):
            dn = from_next(rows, is_last, kb.out, b.add(b.add(o, two), b.add(u, j)))
            slope = activation_slope(b, act, rows.at(Y, b.add(y, j)), node.dtype, rows)
            rows.put(b.fmul(b.fadd(rows.at(gY, b.add(y, j)), dn), slope), kb.out, b.add(o, j))

        kb.loop(c64(0), u, unit, name="u")
        rows.mat_row_t(kb.out, o, U, u, u, kb.out, b.add(o, u))

    backwards(kb, steps, step)


def lstm_grad_row(kb, node, r, steps, u):
    c0, U, Y, gY = kb.ins
    rows, b = Rows(kb, node.dtype), kb.b
    four, six = b.mul(u, c64(4)), b.mul(u, c64(6))

    def step(t, is_last):
        y = b.mul(b.add(b.mul(r, steps), t), six)
        first = b.icmp_signed("==", t, c64(0))
        c_prev_ptr = b.select(first, c0, Y)
        c_prev_off = b.select(first, b.mul(r, u), b.add(b.sub(y, six), u))

        def unit(k):
            at = lambda ptr, s: rows.at(ptr, b.add(b.add(y, b.mul(u, c64(s))), k))  # noqa: E731
            h, c, i, f, g, o = (at(Y, s) for s in range(6))
            gh, gc, gi, gf, gg, go = (at(gY, s) for s in range(6))
            nxt = lambda s: from_next(rows, is_last, kb.out,  # noqa: E731
                                      b.add(b.add(b.add(y, six), b.mul(u, c64(s))), k))
            c_prev = rows.at(c_prev_ptr, b.add(c_prev_off, k))
            tc = vecmath.emit_tanh(b, c)
            dh = b.fadd(gh, nxt(4))
            dc = b.fadd(b.fadd(gc, nxt(5)), b.fmul(b.fmul(dh, o), rows.sub1(b.fmul(tc, tc))))
            gate = lambda v: b.fmul(v, rows.sub1(v))  # noqa: E731
            dz = (b.fmul(b.fadd(b.fmul(dc, g), gi), gate(i)),
                  b.fmul(b.fadd(b.fmul(dc, c_prev), gf), gate(f)),
                  b.fmul(b.fadd(b.fmul(dc, i), gg), rows.sub1(b.fmul(g, g))),
                  b.fmul(b.fadd(b.fmul(dh, tc), go), gate(o)))
            for s, v in enumerate(dz + (None, b.fmul(dc, f))):
                if v is not None:
                    rows.put(v, kb.out, b.add(b.add(y, b.mul(u, c64(s))), k))

        kb.loop(c64(0), u, unit, name="u")
        rows.mat_row_t(kb.out, y, U, u, four, kb.out, b.add(y, four))

    backwards(kb, steps, step)


def gru_grad_row(kb, node, r, steps, u):
    h0, U, Y, gY = kb.ins
    rows, b = Rows(kb, node.dtype), kb.b
    three, four, five = (b.mul(u, c64(n)) for n in (3, 4, 5))

    def step(t, is_last):
        y = b.mul(b.add(b.mul(r, steps), t), five)
        first = b.icmp_signed("==", t, c64(0))
        prev_ptr = b.select(first, h0, Y)
        prev_off = b.select(first, b.mul(r, u), b.sub(y, five))
        at = lambda ptr, s, k: rows.at(ptr, b.add(b.add(y, b.mul(u, c64(s))), k))  # noqa: E731
        dh_of = lambda k: b.fadd(at(gY, 0, k), from_next(  # noqa: E731
            rows, is_last, kb.out, b.add(b.add(b.add(y, five), four), k)))

        def unit(k):
            z, rg, hh, rh = (at(Y, s, k) for s in (1, 2, 3, 4))
            gz, gr, ghh, grh = (at(gY, s, k) for s in (1, 2, 3, 4))
            h_prev, dh = rows.at(prev_ptr, b.add(prev_off, k)), dh_of(k)
            dzp = b.fmul(b.fadd(b.fmul(dh, b.fsub(h_prev, hh)), gz), b.fmul(z, rows.sub1(z)))
            dah = b.fmul(b.fadd(b.fmul(dh, rows.sub1(z)), ghh), rows.sub1(b.fmul(hh, hh)))
            drp = b.fmul(b.fadd(b.fmul(dah, rh), gr), b.fmul(rg, rows.sub1(rg)))
            drh = b.fadd(b.fmul(dah, rg), grh)
            for s, v in enumerate((dzp, drp, drh, dah)):
                rows.put(v, kb.out, b.add(b.add(y, b.mul(u, c64(s))), k))

        kb.loop(c64(0), u, unit, name="u")
        rows.mat_row_t(kb.out, y, U, u, three, kb.out, b.add(y, four))

        def add_direct(k):  # dh_prev = dh * z + [dzp, drp, drh] @ U^T
            d = b.add(b.add(y, four), k)
            rows.put(b.fadd(rows.at(kb.out, d), b.fmul(dh_of(k), at(Y, 1, k))), kb.out, d)

        kb.loop(c64(0), u, add_direct, name="u")

    backwards(kb, steps, step)


register("simple_rnn_seq_grad", "kernel", sequence_kernel(rnn_grad_row))
register("lstm_seq_grad", "kernel", sequence_kernel(lstm_grad_row))
register("gru_seq_grad", "kernel", sequence_kernel(gru_grad_row))

"""The layer_norm kernel (graphc/ops/normalization.py): each thread takes a share of the rows;
a row is read three times while it sits in cache: its mean, its variance, the output."""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const


def emit_layer_norm(kb, node):
    b, dtype = kb.b, node.dtype
    dims = kb.dims(node.inputs[0])
    width = dims[-1]
    lo, hi = kb.split(kb.count(dims[:-1]))
    count = b.sitofp(width, const(dtype, 0).type)

    def row(r):
        start = b.mul(r, width)

        def value(j):
            return kb.load(kb.ins[0], b.add(start, j), dtype)

        zero = [const(dtype, 0.0)]
        total = kb.loop(c64(0), width, lambda j, s: [b.fadd(s, value(j))], zero, name="sum")[0]
        mean = b.fdiv(total, count)

        def add_square(j, s):
            d = b.fsub(value(j), mean)
            return [b.fadd(s, b.fmul(d, d))]

        squares = kb.loop(c64(0), width, add_square, zero, name="var")[0]
        variance = b.fadd(b.fdiv(squares, count), const(dtype, node.attr("epsilon")))
        inverse = b.fdiv(
            const(dtype, 1.0), b.call(vecmath.intrinsic(b, "sqrt", variance.type, 1), [variance])
        )

        def write(j):
            kb.store(b.fmul(b.fsub(value(j), mean), inverse), kb.out, b.add(start, j), dtype)

        kb.loop(c64(0), width, write, name="out")

    kb.loop(lo, hi, row, name="row")
    return kb.finish()


register("layer_norm", "kernel", emit_layer_norm)

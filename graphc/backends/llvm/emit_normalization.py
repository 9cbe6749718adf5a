"""The layer_norm kernel and its gradient's (graphc/ops/normalization.py): each thread takes a
share of the rows; a row is read in vector chunks (row_vectors.py) while it sits in cache:
its mean, its variance, then the output (forward) or the means of g and g*y and dx (backward,
y and inv recomputed from x rather than kept from the forward pass)."""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.row_vectors import RowVectors


def emit_layer_norm(kb, node):
    def row(rv, start):
        mean, inv = _moments(kb, rv, kb.ins[0], start, node.attr("epsilon"))

        def write(j):
            y = kb.b.fmul(kb.b.fsub(rv.load(kb.ins[0], start, j), mean), inv)
            rv.store(y, kb.out, start, j)

        rv.loop(write, name="out")

    return _each_row(kb, node, row)


def emit_layer_norm_grad(kb, node):
    """dx = inv * (g - mean(g) - y * mean(g * y))."""
    b, (grad, x) = kb.b, kb.ins

    def row(rv, start):
        mean, inv = _moments(kb, rv, x, start, node.attr("epsilon"))

        def standardized(j):
            return b.fmul(b.fsub(rv.load(x, start, j), mean), inv)

        def add_terms(j, sum_g, sum_gy):
            g = rv.load(grad, start, j)
            return [b.fadd(sum_g, g), b.fadd(sum_gy, b.fmul(g, standardized(j)))]

        zero = rv.constant(0.0)
        sums = rv.loop(add_terms, [zero, zero], name="gsum")
        mean_g, mean_gy = (_row_mean(rv, total) for total in sums)

        def write(j):
            centered_g = b.fsub(b.fsub(rv.load(grad, start, j), mean_g),
                                b.fmul(standardized(j), mean_gy))
            rv.store(b.fmul(inv, centered_g), kb.out, start, j)

        rv.loop(write, name="dx")

    return _each_row(kb, node, row)


def _each_row(kb, node, row):
    """Call row(rv, start) for this thread's rows (of the output's last axis)."""
    dims = kb.dims(node)
    lo, hi = kb.split(kb.count(dims[:-1]))
    rv = RowVectors(kb, node.dtype, dims[-1])
    kb.loop(lo, hi, lambda r: row(rv, kb.b.mul(r, dims[-1])), name="row")
    return kb.finish()


def _row_mean(rv, total):
    """A splat of the row mean from a vector of partial sums."""
    b = rv.b
    return rv.splat(b.fdiv(rv.total(total), b.sitofp(rv.width, rv.V.element)))


def _moments(kb, rv, x, start, epsilon):
    """(mean, inv) of the row at `start`, splatted: inv = 1 / sqrt(variance + epsilon)."""
    b, zero = kb.b, rv.constant(0.0)
    mean = _row_mean(rv, rv.loop(lambda j, s: [b.fadd(s, rv.load(x, start, j))], [zero],
                                 name="sum")[0])

    def add_square(j, s):
        d = b.select(rv.in_row(j), b.fsub(rv.load(x, start, j), mean), zero)
        return [b.fadd(s, b.fmul(d, d))]

    variance = _row_mean(rv, rv.loop(add_square, [zero], name="var")[0])
    shifted = b.fadd(variance, rv.constant(epsilon))
    root = b.call(vecmath.intrinsic(b, "sqrt", shifted.type, 1), [shifted])
    return mean, b.fdiv(vecmath.const(rv.V, 1.0), root)


register("layer_norm", "kernel", emit_layer_norm)
register("layer_norm_grad", "kernel", emit_layer_norm_grad)

"""The masked_softmax kernel (graphc/ops/attention.py): each thread takes a share of the rows;
a row (one query's scores over the keys) is read three times while it sits in cache, in vector
chunks (row_vectors.py): its masked maximum, the exponentials and their sum (written to the
output), the scaling."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64
from graphc.backends.llvm.row_vectors import RowVectors
from graphc.ops.attention import LARGE_NEGATIVE


def emit_masked_softmax(kb, node):
    dims = kb.dims(node.inputs[0])
    lo, hi = kb.split(kb.count(dims[:-1]))
    row_vectors = RowVectors(kb, node.dtype, dims[-1])
    kb.loop(lo, hi, lambda r: _softmax_row(kb, node, row_vectors, r, dims), name="row")
    return kb.finish()


def _softmax_row(kb, node, rv, r, dims):
    """Three vector passes over score row r: masked maximum, exponentials and their sum
    (written to the output), normalization."""
    b, start = kb.b, kb.b.mul(r, dims[-1])
    valid = _key_validity(kb, node, rv, r, dims)
    scale, masked = rv.constant(node.attr("scale")), rv.constant(LARGE_NEGATIVE)

    def score(j):
        return b.select(valid(j), b.fmul(rv.load(kb.ins[0], start, j), scale), masked)

    def bigger(j, m):
        s = b.select(rv.in_row(j), score(j), rv.constant(float("-inf")))
        return [b.select(b.fcmp_ordered(">", s, m), s, m)]

    top = rv.splat(rv.maximum(rv.loop(bigger, [rv.constant(float("-inf"))], name="max")[0]))

    def exponentials(j, total):
        e = b.select(rv.in_row(j), vecmath.emit_exp(b, b.fsub(score(j), top)), rv.constant(0.0))
        rv.store(e, kb.out, start, j)
        return [b.fadd(total, e)]

    total = rv.total(rv.loop(exponentials, [rv.constant(0.0)], name="sum")[0])
    inverse = rv.splat(b.fdiv(ir.Constant(total.type, 1.0), total))

    def normalize(j):
        p = b.fmul(rv.load(kb.out, start, j), inverse)
        rv.store(b.select(valid(j), p, rv.constant(0.0)), kb.out, start, j)

    rv.loop(normalize, name="norm")


def emit_masked_softmax_grad(kb, node):
    """scale * p * (g - sum(g * p)) row by row: one pass for the sum, one for the output."""
    b, (grad, probabilities) = kb.b, kb.ins
    dims = kb.dims(node)
    lo, hi = kb.split(kb.count(dims[:-1]))
    rv = RowVectors(kb, node.dtype, dims[-1])
    scale = rv.constant(node.attr("scale"))

    def row(r):
        start = b.mul(r, dims[-1])

        def add_product(j, total):
            product = b.fmul(rv.load(grad, start, j), rv.load(probabilities, start, j))
            return [b.fadd(total, product)]

        dot = rv.splat(rv.total(rv.loop(add_product, [rv.constant(0.0)], name="dot")[0]))

        def write(j):
            p = b.fmul(rv.load(probabilities, start, j), scale)
            rv.store(b.fmul(p, b.fsub(rv.load(grad, start, j), dot)), kb.out, start, j)

        rv.loop(write, name="dx")

    kb.loop(lo, hi, row, name="row")
    return kb.finish()


def _key_validity(kb, node, rv, r, dims):
    """valid(j): <VL x i1>, where keys j.. of score row r count (mask and causality)."""
    b, x = kb.b, node.inputs[0]
    mask = node.inputs[1] if len(node.inputs) == 2 else None
    query = rv.splat(b.srem(r, dims[-2]))
    if mask is not None:
        mask_start = mask_row_start(kb, mask, x.shape, r, dims)
        per_key = not mask.shape[-1] == 1 != x.shape[-1]  # else one flag for the whole row
        row_flag = None if per_key else rv.splat(kb.load(kb.ins[1], mask_start, "bool"))

    def valid(j):
        ok = rv.splat(ir.Constant(ir.IntType(1), 1))
        if mask is not None:
            ok = rv.load_bool(kb.ins[1], mask_start, j) if per_key else row_flag
        if node.attr("causal"):
            ok = b.and_(ok, b.icmp_signed("<=", rv.positions(j), query))
        return ok

    return valid


def mask_row_start(kb, mask, score_shape, r, dims):
    """The mask's element for key 0 of score row r (scores of static shape `score_shape` and
    i64 sizes `dims`): r's coordinates over the scores' row axes dotted with the mask's
    strides (0 along the axes it broadcasts over)."""
    b, ndim = kb.b, len(score_shape)
    shape = (1,) * (ndim - mask.ndim) + tuple(mask.shape)
    sizes = [c64(1)] * (ndim - mask.ndim) + kb.dims(mask)
    strides = kb.strides(sizes)
    offset, rest = c64(0), r
    for axis in reversed(range(ndim - 1)):
        coord = b.srem(rest, dims[axis])
        rest = b.sdiv(rest, dims[axis])
        if shape[axis] != 1 or score_shape[axis] == 1:
            offset = b.add(offset, b.mul(coord, strides[axis]))
    return offset


register("masked_softmax", "kernel", emit_masked_softmax)
register("masked_softmax_grad", "kernel", emit_masked_softmax_grad)

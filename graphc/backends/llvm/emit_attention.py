"""The masked_softmax kernel (graphc/ops/attention.py): each thread takes a share of the rows;
a row (one query's scores over the keys) is read three times while it sits in cache, in vector
chunks (row_vectors.py): its masked maximum, the exponentials and their sum (written to the
output), the scaling. A row with no key that counts has every score -1e9, so it comes out
uniform (Keras's rule), or zeros with keyless_rows="zeros"; the gradient kernel gives 0 on
such rows."""

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
    valid = _key_validity(kb, node, rv, r, dims, node.inputs[1:])
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

    zeros = node.attr("keyless_rows", "uniform") == "zeros"

    def normalize(j):
        p = b.fmul(rv.load(kb.out, start, j), inverse)
        rv.store(b.select(valid(j), p, rv.constant(0.0)) if zeros else p, kb.out, start, j)

    rv.loop(normalize, name="norm")


def emit_masked_softmax_grad(kb, node):
    """scale * p * (g - sum(g * p)) row by row: one pass for the sum, one for the output (with a
    mask or causality, scale is 0 on rows where no key counts)."""
    b, (grad, probabilities) = kb.b, kb.ins[:2]
    dims = kb.dims(node)
    lo, hi = kb.split(kb.count(dims[:-1]))
    rv = RowVectors(kb, node.dtype, dims[-1])

    def row(r):
        start = b.mul(r, dims[-1])
        scale = _live_row_scale(kb, node, rv, r, dims)

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


def _live_row_scale(kb, node, rv, r, dims):
    """<VL x float>: the op's scale on score row r if a key of it counts, else 0 (without a
    mask every row counts key 0, causal or not)."""
    b, scale = kb.b, rv.constant(node.attr("scale"))
    if len(node.inputs) == 2:
        return scale
    valid = _key_validity(kb, node, rv, r, dims, node.inputs[2:])

    def any_valid(j, seen):
        return [b.or_(seen, b.and_(valid(j), rv.in_row(j)))]

    none = rv.splat(ir.Constant(ir.IntType(1), 0))
    seen = rv.loop(any_valid, [none], name="live")[0]
    live = b.icmp_unsigned("!=", b.bitcast(seen, ir.IntType(rv.vl)), ir.Constant(
        ir.IntType(rv.vl), 0))
    return b.select(live, scale, rv.constant(0.0))


def _key_validity(kb, node, rv, r, dims, masks):
    """valid(j): <VL x i1>, where keys j.. of score row r count (the mask, the one node in
    `masks` if any, read from the kernel input of the same position, and causality)."""
    b, x = kb.b, node.inputs[0]
    mask = masks[0] if masks else None
    if mask is not None:
        pointer = kb.ins[len(node.inputs) - 1]
    query = rv.splat(b.srem(r, dims[-2]))
    if mask is not None:
        mask_start = mask_row_start(kb, mask, x.shape, r, dims)
        per_key = not mask.shape[-1] == 1 != x.shape[-1]  # else one flag for the whole row
        row_flag = None if per_key else rv.splat(kb.load(pointer, mask_start, "bool"))

    def valid(j):
        ok = rv.splat(ir.Constant(ir.IntType(1), 1))
        if mask is not None:
            ok = rv.load_bool(pointer, mask_start, j) if per_key else row_flag
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

"""The masked_softmax kernel (graphc/ops/attention.py): each thread takes a share of the rows;
a row (one query's scores over the keys) is read three times while it sits in cache: its
masked maximum, the exponentials and their sum (written to the output), the scaling."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const
from graphc.ops.attention import LARGE_NEGATIVE


def emit_masked_softmax(kb, node):
    x, b, dtype = node.inputs[0], kb.b, node.dtype
    dims = kb.dims(x)
    keys = dims[-1]
    lo, hi = kb.split(kb.count(dims[:-1]))
    scale = const(dtype, node.attr("scale"))

    def row(r):
        start = b.mul(r, keys)
        valid = _key_validity(kb, node, r, dims)

        def score(j):
            scaled = b.fmul(kb.load(kb.ins[0], b.add(start, j), dtype), scale)
            return b.select(valid(j), scaled, const(dtype, LARGE_NEGATIVE))

        top = kb.loop(
            c64(0),
            keys,
            lambda j, m: [_max(b, m, score(j))],
            [const(dtype, float("-inf"))],
            name="max",
        )[0]

        def exponentials(j, total):
            e = vecmath.emit_exp(b, b.fsub(score(j), top))
            kb.store(e, kb.out, b.add(start, j), dtype)
            return [b.fadd(total, e)]

        total = kb.loop(c64(0), keys, exponentials, [const(dtype, 0.0)], name="sum")[0]
        inverse = b.fdiv(const(dtype, 1.0), total)

        def normalize(j):
            p = b.fmul(kb.load(kb.out, b.add(start, j), dtype), inverse)
            kb.store(b.select(valid(j), p, const(dtype, 0.0)), kb.out, b.add(start, j), dtype)

        kb.loop(c64(0), keys, normalize, name="norm")

    kb.loop(lo, hi, row, name="row")
    return kb.finish()


def _key_validity(kb, node, r, dims):
    """valid(j): an i1 that holds where key j of score row r counts (mask and causality)."""
    b, x = kb.b, node.inputs[0]
    mask = node.inputs[1] if len(node.inputs) == 2 else None
    query = b.srem(r, dims[-2])
    if mask is not None:
        mask_start = _mask_start(kb, mask, x, r, dims)
        key_step = c64(0) if mask.shape[-1] == 1 != x.shape[-1] else c64(1)

    def valid(j):
        ok = ir.Constant(ir.IntType(1), 1)
        if mask is not None:
            ok = kb.load(kb.ins[1], b.add(mask_start, b.mul(j, key_step)), "bool")
        if node.attr("causal"):
            ok = b.and_(ok, b.icmp_signed("<=", j, query))
        return ok

    return valid


def _mask_start(kb, mask, x, r, dims):
    """The mask's element for key 0 of score row r: r's coordinates over the scores' row axes
    dotted with the mask's strides (0 along the axes it broadcasts over)."""
    b = kb.b
    shape = (1,) * (x.ndim - mask.ndim) + tuple(mask.shape)
    sizes = [c64(1)] * (x.ndim - mask.ndim) + kb.dims(mask)
    strides = kb.strides(sizes)
    offset, rest = c64(0), r
    for axis in reversed(range(x.ndim - 1)):
        coord = b.srem(rest, dims[axis])
        rest = b.sdiv(rest, dims[axis])
        if shape[axis] != 1 or x.shape[axis] == 1:
            offset = b.add(offset, b.mul(coord, strides[axis]))
    return offset


def _max(b, a, c):
    return b.select(b.fcmp_ordered(">", c, a), c, a)


register("masked_softmax", "kernel", emit_masked_softmax)

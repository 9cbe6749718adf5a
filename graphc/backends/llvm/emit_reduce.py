"""Reductions: sum/mean/max/min as Reducers inside fused loops; argmax/argmin as kernels."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import I1, REG_TYPE, c64, const, intrinsic, is_float
from graphc.ops import REDUCTIONS, normalize_axes

# `reassoc` lets LLVM vectorize a sum. Not `nsz`: with both, InstCombine may also rewrite the
# element's own arithmetic into the accumulation and fold sum(x - x) to 0 for x = inf (found by
# the fuzzer); reassociating the accumulation alone keeps NaN and inf as NumPy has them.
REASSOC = ("reassoc",)
EXTREMA = ("reassoc", "nsz")  # llvm.maximum/minimum: as before, matching NumPy's zeros' signs


class Reducer:
    """How a reduction starts, takes one more element, and ends (mean divides by the count)."""

    def __init__(self, op):
        self.op = op

    def identity(self, dtype):
        if self.op in ("sum", "mean"):
            return const(dtype, 0)
        if is_float(dtype):
            return const(dtype, -np.inf if self.op == "max" else np.inf)
        info = np.iinfo(dtype)
        return const(dtype, info.min if self.op == "max" else info.max)

    def combine(self, b: ir.IRBuilder, acc, x):
        floating = isinstance(acc.type, (ir.FloatType, ir.DoubleType))
        if self.op in ("sum", "mean"):
            return b.fadd(acc, x, flags=REASSOC) if floating else b.add(acc, x)
        if floating:  # llvm.maximum/minimum propagate NaN, as np.max/np.min
            name = "llvm.maximum" if self.op == "max" else "llvm.minimum"
            return b.call(intrinsic(b.module, name, acc.type, 2), [acc, x], fastmath=EXTREMA)
        pred = ">" if self.op == "max" else "<"
        return b.select(b.icmp_signed(pred, x, acc), x, acc)

    def finalize(self, b: ir.IRBuilder, acc, count):
        """The reduction's value from its accumulator; `count` (i64) is the number of
        elements a mean divides by."""
        if self.op != "mean":
            return acc
        # integer means were expanded into float64 ones (passes/expand.py), as NumPy's
        return b.fdiv(acc, b.sitofp(count, acc.type))


for _op in REDUCTIONS:
    register(_op, "reduce", Reducer(_op))


def arg_extreme(op):
    """argmax/argmin: the first index of the largest (smallest) element; NaN counts as
    extreme, as in NumPy. Rows of the reduced axis are split across threads."""

    def emit(kb, node):
        x = node.inputs[0]
        dims = kb.dims(x)
        axis = node.attr("axis")
        axes = normalize_axes(axis, x.ndim)
        if axis is None:  # over the flattened array
            dims, axes = [kb.count(dims)], (0,)
        a = axes[0]
        outer, n, inner = kb.count(dims[:a]), dims[a], kb.count(dims[a + 1:])
        rows = kb.b.mul(outer, inner)
        lo, hi = kb.split(rows)
        kb.loop(lo, hi, lambda r: arg_row(kb, op, x.dtype, r, n, inner))
        return kb.finish()

    register(op, "kernel", emit)


def arg_row(kb, op, dtype, row, n, inner):
    b = kb.b
    o, i = b.sdiv(row, inner), b.srem(row, inner)
    base = b.add(b.mul(b.mul(o, n), inner), i)

    def at(j):
        return kb.load(kb.ins[0], b.add(base, b.mul(j, inner)), dtype)

    def step(j, best, best_j):
        v = at(j)
        better = better_than(b, op, dtype, v, best)
        return [b.select(better, v, best), b.select(better, j, best_j)]

    first = at(c64(0))
    _, best_j = kb.loop(c64(1), n, step, [first, c64(0)], "j")
    kb.store(best_j, kb.out, row, "int64")


def better_than(b, op, dtype, v, best):
    if is_float(dtype):
        # v wins when it is strictly better, or NaN while the best so far is not NaN.
        strict = b.fcmp_ordered(">" if op == "argmax" else "<", v, best)
        nan_v = b.fcmp_unordered("uno", v, v)
        best_ok = b.fcmp_ordered("ord", best, best)
        return b.and_(b.or_(strict, nan_v), best_ok)
    return b.icmp_signed(">" if op == "argmax" else "<", v, best)


arg_extreme("argmax")
arg_extreme("argmin")

__all__ = ["Reducer", "I1", "REG_TYPE"]

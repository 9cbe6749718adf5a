"""Kernels for ops that are not fused loops (the 'opaque' fusion class: gathers, convolution
gradients, ...).

Such a kernel is `void k(ptr out, ptr in0, ..., ptr sizes, ptr status, i32 tid, i32 nthreads)`:
buffers are contiguous in the shapes of the op's output and data inputs; `sizes` is the array
of run-time symbols, from which the kernel computes the sizes it needs (`kb.dims(node)`);
storing a nonzero i64 into `status` reports a run-time error (an index out of range), which
the executable raises after the call.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.irutil import (
    I32,
    I64,
    PTR,
    VOID,
    c64,
    for_range,
    load,
    split_range,
    store,
)


def emit_poly(b: ir.IRBuilder, poly, slots, cache: dict):
    """An i64 value of a symbolic size, from the run-time symbol array `slots`."""
    if poly.is_const:
        return c64(poly.const)
    if poly in cache:
        return cache[poly]
    total = None
    for mono, coeff in poly.terms:
        term = c64(coeff) if coeff != 1 or not mono else None
        for s in mono:
            key = ("slot", s)
            if key not in cache:
                cache[key] = b.load(b.gep(slots, [c64(s)], source_etype=I64), typ=I64)
            term = cache[key] if term is None else b.mul(term, cache[key])
        total = term if total is None else b.add(total, term)
    cache[poly] = total
    return total


class OpKernelBuilder:
    """What an op's 'kernel' emitter gets: its function, builder and helpers."""

    def __init__(self, node, inputs, module: ir.Module, name: str, syms):
        self.node, self.inputs, self.module, self.syms = node, list(inputs), module, syms
        fnty = ir.FunctionType(VOID, [PTR] * (len(inputs) + 3) + [I32, I32])
        self.fn = ir.Function(module, fnty, name=name)
        self.fn.linkage = "internal"
        self.fn.attributes.add("noinline")  # kernels stay separate: smaller step, faster O3
        args = self.fn.args
        for arg in args[:len(inputs) + 1]:
            arg.add_attribute("noalias")
        self.out, self.ins = args[0], list(args[1:len(inputs) + 1])
        self.slots, self.status = args[len(inputs) + 1], args[len(inputs) + 2]
        self.tid, self.nthreads = args[-2], args[-1]
        # Sizes are computed in the entry block, so they dominate every loop that uses them.
        entry = self.fn.append_basic_block("entry")
        start = self.fn.append_basic_block("start")
        self.pre = ir.IRBuilder(entry)
        self.pre.position_before(self.pre.branch(start))
        self.b = ir.IRBuilder(start)
        self.cache: dict = {}

    def size(self, poly):
        return emit_poly(self.pre, poly, self.slots, self.cache)

    def dims(self, node) -> list:
        return [self.size(d) for d in self.syms.shape(node)]

    def out_dims(self) -> list:
        return self.dims(self.node)

    def strides(self, dims) -> list:
        """Row-major element strides of a contiguous array with these i64 dims."""
        out, step = [], c64(1)
        for d in reversed(dims):
            out.append(step)
            step = self.b.mul(step, d)
        return list(reversed(out))

    def count(self, dims):
        total = c64(1)
        for d in dims:
            total = self.b.mul(total, d)
        return total

    def offset(self, coords, strides):
        b, idx = self.b, c64(0)
        for i, s in zip(coords, strides):
            idx = b.add(idx, b.mul(i, s))
        return idx

    def load(self, ptr, index, dtype):
        return load(self.b, ptr, index, dtype)

    def store(self, value, ptr, index, dtype):
        store(self.b, value, ptr, index, dtype)

    def loop(self, lo, hi, body, carried=(), name="i"):
        return for_range(self.b, lo, hi, body, carried, name)

    def nest(self, dims, body, coords=()):
        """Loops over every index of `dims` (row-major); body(coords list)."""
        if not dims:
            return body(list(coords))
        return self.loop(c64(0), dims[0],
                         lambda i: self.nest(dims[1:], body, tuple(coords) + (i,)))

    def split(self, n):
        """This thread's [lo, hi) share of range(n)."""
        return split_range(self.b, n, self.tid, self.nthreads)

    def only_first_thread(self):
        """Return early on every thread but the first (for small or sequential kernels)."""
        with self.b.if_then(self.b.icmp_signed("!=", self.tid, ir.Constant(I32, 0))):
            self.b.ret_void()

    def fail_if(self, cond):
        """Report a run-time error (the executable raises it after the call) when cond holds."""
        with self.b.if_then(cond):
            self.b.store(c64(1), self.status)

    def finish(self) -> ir.Function:
        self.b.ret_void()
        return self.fn

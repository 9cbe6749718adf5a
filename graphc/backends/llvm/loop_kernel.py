"""Emit a fused 'loop' kernel from its LoopPlan (see loop_plan.py for the pass structure).

The kernel is `void k(ptr bufs..., i64 sizes..., ptr claim, i32 tid, i32 nthreads)`. The first
kept axis is cut into fixed blocks whose size depends on the sizes only, never on the thread
count; the threads claim blocks one at a time from the counter at `claim` (claims.py: a thread
descheduled by a busy machine delays one block, not a fixed half) and call `k.block(ptr
bufs..., i64 sizes..., i64 lo, i64 hi)`, which runs all passes over rows [lo, hi) of that axis.
Every element is so computed by the same code over the same block whatever the number of
threads and whichever thread claims it: LLVM may reassociate a reduction differently in a
vector loop's body and its remainder, and with thread-dependent slices an element's place in
them (so its rounding) would depend on the thread count. Values
are computed by the scalar emitters of graphc.backends.llvm.emitters inside the innermost loop;
loop-invariant parts (scalars, row values) are hoisted by LLVM, and the innermost loop
vectorizes.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.bf16 import round_to_bfloat16
from graphc.backends.llvm.claims import claimed_blocks
from graphc.backends.llvm.emitters import emitter_for
from graphc.backends.llvm.irutil import (
    I32,
    I64,
    PTR,
    VOID,
    c64,
    ceil_div,
    const,
    for_range,
    load,
    smax,
    smin,
    store,
)
from graphc.backends.llvm.loop_plan import size_poly
from graphc.ops import REDUCTIONS, data_inputs

BLOCK_ELEMENTS = 4096  # about this many elements of the iteration space per block
# A split innermost axis (reductions over all outer axes: column sums, bias gradients) gets
# blocks of whole unrolled vector bodies: LLVM's main loop takes up to 4 vectors per iteration
# and runs the rest of a block in 4-lane epilogue loops. With blocks of 16 columns a 256x2048
# column sum took 2.6x as long, and a 32-column one read each row once per 16-column block.
VECTOR_ROWS = 64
# Such a block also spans about 1/COLUMN_BLOCKS of the row, up to a 4 KB page of floats: each row
# of a block is then one long run the hardware prefetcher follows (in the wide MLP step, blocks
# of 64 columns of 256x2048 gradients took ~3x as long as 1024 columns on one thread).
COLUMN_BLOCKS, MAX_COLUMNS = 4, 1024


class LoopEmitter:
    """Emission state of one loop kernel; also the `ctx` handed to scalar emitters."""

    def __init__(self, plan, module: ir.Module, name: str):
        self.plan, self.module = plan, module
        self.params = plan.param_polys()
        self.nptr = len(plan.pointers)
        args = [PTR] * self.nptr + [I64] * len(self.params)
        self.fn = kernel_function(module, name, args + [PTR, I32, I32], self.nptr)
        # all passes over one block, the same code for every block (see the module doc)
        self.block_fn = kernel_function(module, name + ".block", args + [I64, I64], self.nptr)
        self.ptrs = self.block_fn.args[:self.nptr]
        self.bind_params(self.block_fn)
        self.b = ir.IRBuilder(self.block_fn.append_basic_block("entry"))
        self.dims = [self.param(d) for d in plan.dims]
        # One reduced axis, innermost: each K element's reduction completes in one inner loop,
        # so it is stored once (no start value in memory, no read-modify-write).
        self.direct = plan.reduced.count(True) == 1 and plan.reduced[-1]
        self.lo, self.hi = self.block_fn.args[-2], self.block_fn.args[-1]
        # Where emission is: the loop coordinates, values computed there, pass kind and level.
        self.coords, self.memo, self.kind, self.level = {}, {}, "X", 0

    # ---- the ctx interface used by scalar emitters ---------------------------------------------

    def bind_params(self, fn):
        self.param_args = dict(zip(self.params, fn.args[self.nptr:self.nptr + len(self.params)]))

    def param(self, poly):
        return self.param_args[poly] if poly in self.param_args else c64(poly.const)

    def linear_index(self, node):
        return self.index(self.plan.linear[id(node)])

    # ---- kernel structure ----------------------------------------------------------------------

    def emit(self) -> ir.Function:
        for level in range(self.plan.top + 2):
            self.k_pass(level)
            if level <= self.plan.top:
                self.x_pass(level)
        self.b.ret_void()
        self.emit_thread_share()
        return self.fn

    def emit_thread_share(self):
        """The entry: the blocks this thread claims, one k.block call each; without a kept
        axis to split, thread 0 runs the one block."""
        b = self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.bind_params(self.fn)
        counter, tid, nthreads = self.fn.args[-3:]
        forward = list(self.fn.args[:-3])
        axis = self.plan.split_axis
        if axis is None:
            with b.if_then(b.icmp_signed("==", tid, ir.Constant(I32, 0))):
                b.call(self.block_fn, forward + [c64(0), c64(0)])
            b.ret_void()
            return
        dims = [self.param(d) for d in self.plan.dims]
        rows = self.block_rows(dims, axis)
        n = dims[axis]
        nblocks = ceil_div(b, n, rows)

        def block(k):
            lo = b.mul(k, rows)
            hi = b.add(lo, rows)
            hi = b.select(b.icmp_signed("<", hi, n), hi, n)
            b.call(self.block_fn, forward + [lo, hi])

        claimed_blocks(b, counter, nblocks, nthreads, block)
        b.ret_void()

    def block_rows(self, dims, axis):
        """Rows of the split axis per block: about BLOCK_ELEMENTS elements, from the sizes
        (columns of a split innermost axis: see VECTOR_ROWS and COLUMN_BLOCKS)."""
        b = self.b
        innermost = axis == len(dims) - 1
        multiple = c64(VECTOR_ROWS if innermost else 1)
        per_row = c64(1)
        for k, d in enumerate(dims):
            if k != axis:
                per_row = b.mul(per_row, d)
        per_row = smax(b, per_row, c64(1))
        units = b.mul(per_row, multiple)
        rows = b.mul(ceil_div(b, c64(BLOCK_ELEMENTS), units), multiple)
        if not innermost or len(dims) == 1:
            return rows
        spread = b.mul(ceil_div(b, ceil_div(b, dims[axis], c64(COLUMN_BLOCKS)),
                                c64(VECTOR_ROWS)), c64(VECTOR_ROWS))
        return smax(b, rows, smin(b, spread, c64(MAX_COLUMNS)))

    def nodes_at(self, level, space, reductions=False):
        return [n for n in self.plan.nodes if self.plan.level[id(n)] == level
                and (n.op in REDUCTIONS) == reductions
                and (reductions or self.plan.space[id(n)].replace("S", "X") == space)]

    def k_pass(self, level):
        """Finalize reductions of this level, compute stored K values, start the next ones."""
        plan = self.plan
        finals = self.nodes_at(level, "K", reductions=True)
        computed = [n for n in self.nodes_at(level, "K") if id(n) in plan.stores]
        starts = [] if self.direct else self.nodes_at(level + 1, "K", reductions=True)
        if not (finals or computed or starts):
            return
        axes = [a for a, red in enumerate(plan.reduced) if not red]

        def body(coords):
            self.coords, self.memo, self.kind, self.level = coords, {}, "K", level
            for r in finals:
                acc = self.load_store(r)
                count = self.param(size_poly(r, plan.syms)) if r.op == "mean" else None
                self.memo[id(r)] = reducer(r).finalize(self.b, acc, count)
                if r.op == "mean":
                    self.store_value(r, self.memo[id(r)])
            for n in computed:
                self.store_value(n, self.value(n))
            for r in starts:
                self.store_value(r, reducer(r).identity(r.dtype))

        self.nest(axes, {}, body)

    def x_pass(self, level):
        plan = self.plan
        outs = [n for n in self.nodes_at(level, "X") if id(n) in plan.stores]
        if level == 0:
            outs += plan.copies
        reds = self.nodes_at(level + 1, "K", reductions=True)
        if not (outs or reds):
            return
        axes = list(range(len(plan.dims)))
        carry = bool(reds) and bool(axes) and plan.reduced[axes[-1]]

        def body(coords, *accs):
            self.coords, self.memo, self.kind, self.level = coords, {}, "X", level
            for n in outs:
                self.store_value(n, self.value(n))
            new = []
            for k, r in enumerate(reds):
                x = self.read(r, 0)
                if carry:
                    new.append(reducer(r).combine(self.b, accs[k], x))
                else:
                    self.store_value(r, reducer(r).combine(self.b, self.load_store(r), x))
            return new

        if not carry:
            self.nest(axes, {}, lambda coords: body(coords))
            return

        def outer(coords):
            inits = [reducer(r).identity(r.dtype) for r in reds]
            accs = for_range(self.b, c64(0), self.dims[axes[-1]],
                             lambda i, *a: body({**coords, axes[-1]: i}, *a), inits, "r")
            self.coords, self.kind = {**coords, axes[-1]: c64(0)}, "X"
            for r, acc in zip(reds, accs):
                self.store_value(r, acc if self.direct else
                                 reducer(r).combine(self.b, self.load_store(r), acc))

        self.nest(axes[:-1], {}, outer)

    def nest(self, axes, coords, body):
        if not axes:
            return body(coords)
        axis = axes[0]
        split = axis == self.plan.split_axis
        lo, hi = (self.lo, self.hi) if split else (c64(0), self.dims[axis])
        for_range(self.b, lo, hi, lambda i: self.nest(axes[1:], {**coords, axis: i}, body),
                  name=f"x{axis}")

    # ---- values --------------------------------------------------------------------------------

    def index(self, access):
        b, idx = self.b, self.param(access.offset)
        for axis, i in self.coords.items():
            stride = access.strides[axis]
            if stride.is_const and stride.const == 0:
                continue
            term = i if stride.is_const and stride.const == 1 else b.mul(i, self.param(stride))
            idx = b.add(idx, term)
        return idx

    def load_access(self, access, constant=None):
        if access.ptr is None:
            return const(access.dtype, constant.attr("value").value.flat[0])
        return load(self.b, self.ptrs[access.ptr], self.index(access), access.dtype)

    def load_store(self, node):
        return self.load_access(self.plan.stores[id(node)])

    def store_value(self, node, value):
        access = self.plan.stores[id(node)]
        store(self.b, value, self.ptrs[access.ptr], self.index(access), access.dtype)

    def read(self, node, k):
        how, what, root = self.plan.reads[(id(node), k)]
        return self.value(what) if how == "node" else self.load_access(what, root)

    def value(self, node):
        if id(node) in self.memo:
            return self.memo[id(node)]
        if id(node) not in self.plan.space:  # an output copy of a view, leaf or scalar
            result = self.read(node, 0)
        elif self.from_memory(node):
            result = self.load_store(node)
        else:
            args = [self.read(node, k) for k in range(len(data_inputs(node)))]
            result = emitter_for(node, "scalar").fn(self, node, args)
            if node.dtype == "bfloat16":  # each bfloat16 op rounds once, as the interpreter
                result = round_to_bfloat16(self.b, result)
        self.memo[id(node)] = result
        return result

    def from_memory(self, node) -> bool:
        return self.plan.loads_stored(node, self.kind, self.level)


def kernel_function(module, name, args, nptr) -> ir.Function:
    fn = ir.Function(module, ir.FunctionType(VOID, args), name=name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")  # kernels stay separate: smaller step, faster O3
    for arg in fn.args[:nptr]:
        arg.add_attribute("noalias")
    return fn


def reducer(node):
    return emitter_for(node, "reduce").fn

"""Emit a fused 'loop' kernel from its LoopPlan (see loop_plan.py for the pass structure).

The kernel is `void k(ptr bufs..., i64 sizes..., i32 tid, i32 nthreads)`; every thread runs
all passes over its slice of the first kept axis. Values are computed by the scalar emitters of
graphc.backends.llvm.emitters inside the innermost loop; loop-invariant parts (scalars, row
values) are hoisted by LLVM, and the innermost loop vectorizes.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.emitters import emitter_for
from graphc.backends.llvm.irutil import (
    I32,
    I64,
    PTR,
    VOID,
    c64,
    const,
    for_range,
    load,
    split_range,
    store,
)
from graphc.backends.llvm.loop_plan import size_poly
from graphc.ops import REDUCTIONS, data_inputs


class LoopEmitter:
    """Emission state of one loop kernel; also the `ctx` handed to scalar emitters."""

    def __init__(self, plan, module: ir.Module, name: str):
        self.plan, self.module = plan, module
        self.params = plan.param_polys()
        nptr = len(plan.pointers)
        fnty = ir.FunctionType(VOID, [PTR] * nptr + [I64] * len(self.params) + [I32, I32])
        self.fn = ir.Function(module, fnty, name=name)
        self.fn.linkage = "internal"
        self.fn.attributes.add("noinline")  # kernels stay separate: smaller step, faster O3
        for arg in self.fn.args[:nptr]:
            arg.add_attribute("noalias")
        self.ptrs = self.fn.args[:nptr]
        self.param_args = dict(zip(self.params, self.fn.args[nptr:nptr + len(self.params)]))
        self.tid, self.nthreads = self.fn.args[-2], self.fn.args[-1]
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.dims = [self.param(d) for d in plan.dims]
        # One reduced axis, innermost: each K element's reduction completes in one inner loop,
        # so it is stored once (no start value in memory, no read-modify-write).
        self.direct = plan.reduced.count(True) == 1 and plan.reduced[-1]
        self.lo, self.hi = self.thread_share()
        # Where emission is: the loop coordinates, values computed there, pass kind and level.
        self.coords, self.memo, self.kind, self.level = {}, {}, "X", 0

    # ---- the ctx interface used by scalar emitters ---------------------------------------------

    def param(self, poly):
        return self.param_args[poly] if poly in self.param_args else c64(poly.const)

    def linear_index(self, node):
        return self.index(self.plan.linear[id(node)])

    # ---- kernel structure ----------------------------------------------------------------------

    def thread_share(self):
        """[lo, hi) of the split axis for this thread; without one, only thread 0 runs."""
        b, axis = self.b, self.plan.split_axis
        if axis is None:
            with b.if_then(b.icmp_signed("!=", self.tid, ir.Constant(I32, 0))):
                b.ret_void()
            return None, None
        return split_range(b, self.dims[axis], self.tid, self.nthreads)

    def emit(self) -> ir.Function:
        for level in range(self.plan.top + 2):
            self.k_pass(level)
            if level <= self.plan.top:
                self.x_pass(level)
        self.b.ret_void()
        return self.fn

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
                count = self.b.sitofp(self.param(size_poly(r, plan.syms)), acc.type) \
                    if r.op == "mean" else None
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
        self.memo[id(node)] = result
        return result

    def from_memory(self, node) -> bool:
        plan, lvl = self.plan, self.plan.level[id(node)]
        space = plan.space[id(node)]
        if space == "S" or id(node) not in plan.stores:
            return False
        if space == "K":
            return self.kind == "X" or lvl < self.level or node.op in REDUCTIONS
        return lvl < self.level


def reducer(node):
    return emitter_for(node, "reduce").fn

"""The memory plan of a schedule: a buffer for every kernel output and leaf, each kernel call
with its buffers in pointer order, the copies after the last kernel, and buffer lifetimes.

- Every kernel output gets a buffer: the user's output array, the shared variable itself when
  the schedule writes its update in place, or a temporary in the arena (placed by the
  executable with passes.memory once the run-time sizes are known).
- Lifetimes are counted in phases (schedule.assign_phases): buffers used in one phase never
  share bytes, and a buffer's bytes go to another only once every call that touched it is one
  the other's writer waits for (dep_waits.keep_arena_ordered).
"""

from __future__ import annotations

import numpy as np

from graphc.backends.llvm.dep_waits import keep_arena_ordered
from graphc.backends.llvm.loop_plan import LoopPlan
from graphc.backends.llvm.program import Buffer, Call, Program, Workspace
from graphc.backends.llvm.schedule import KernelGraph, Schedule, assign_phases
from graphc.ops import data_inputs
from graphc.ops.leaves import aligned_copy
from passes.kernels import DenseKernel, GemmKernel, LoopKernel
from passes.symbols import prod

LEAF_KINDS = {"placeholder": "input", "shared": "shared", "constant": "constant"}


class BufferTable:
    """Every buffer of a program in slot order; one per leaf (per storage for shared ones)."""

    def __init__(self, inputs, syms):
        self.inputs, self.syms = tuple(inputs), syms
        self.buffers: list = []
        self.leaves: dict = {}

    def new(self, kind, dtype, elems, **kw) -> Buffer:
        buf = Buffer(kind, dtype, elems, slot=len(self.buffers), **kw)
        self.buffers.append(buf)
        return buf

    def leaf(self, node) -> Buffer:
        key = id(node.attr("storage")) if node.op == "shared" else id(node)
        if key not in self.leaves:
            self.leaves[key] = self.new(LEAF_KINDS[node.op], node.dtype,
                                        prod(self.syms.shape(node)), **leaf_facts(self, node))
        return self.leaves[key]


def leaf_facts(table: BufferTable, node) -> dict:
    if node.op == "placeholder":
        return {"node": node, "index": next(k for k, p in enumerate(table.inputs) if p is node)}
    if node.op == "shared":
        return {"node": node, "array": node.attr("storage").value}
    value = np.ascontiguousarray(node.attr("value").value)
    return {"node": node, "array": aligned_copy(value)}


def plan_memory(schedule: Schedule, expanded) -> Program:
    """The Program of a schedule: buffers, calls in phase order, final copies, lifetimes."""
    kernels = schedule.kernels
    table = BufferTable(kernels.graph.inputs, kernels.syms)
    values = value_buffers(kernels, schedule, table)
    calls = [make_call(body, kernels, values, table) for body in schedule.order]
    copies, outputs = final_copies(kernels, values, table)
    calls = assign_phases(calls, schedule.deps)
    set_lifetimes(calls, copies, values)
    keep_arena_ordered(calls)  # kernels wait only for what they depend on (emit.py)
    inplace = [v.name or f"shared{k}" for k, (v, _) in enumerate(kernels.graph.updates)
               if id(v.attr("storage")) in schedule.inplace]
    return Program(expanded, kernels.syms, calls, table.buffers, outputs, copies, inplace, values)


def value_buffers(kernels: KernelGraph, schedule: Schedule, table: BufferTable) -> dict:
    """{value key: Buffer}: the shared variable for in-place updates, else the first output
    position that returns the value, else a temporary."""
    first_output = {}
    for k, o in enumerate(kernels.graph.outputs):
        first_output.setdefault(kernels.value_key(o), k)
    shared_of = {id(v.attr("storage")): v for v, _ in kernels.graph.updates}
    values = {key: table.leaf(shared_of[storage]) for storage, key in schedule.inplace.items()}
    for body in kernels.bodies:
        for index, out in enumerate(body.outputs):
            key = (id(body), index)
            if key in values:
                continue
            elems = prod(kernels.syms.shape(out))
            values[key] = table.new("output", out.dtype, elems, node=out,
                                    index=first_output[key]) if key in first_output else \
                table.new("temp", out.dtype, elems, node=out)
    return values


def buffer_lookup(body, kernels: KernelGraph, values: dict, table: BufferTable):
    """buffer_of(node, write) for the nodes a body reads (write=False) or writes."""
    found = {}
    for node, src in zip(body.inputs, kernels.inputs_of[id(body)]):
        found[id(node), False] = values[src] if isinstance(src, tuple) else table.leaf(src)
    for index, out in enumerate(body.outputs):
        found[id(out), True] = values[(id(body), index)]
    return lambda node, write=False: found[id(node), write]


def make_call(body, kernels: KernelGraph, values: dict, table: BufferTable) -> Call:
    buffer_of = buffer_lookup(body, kernels, values, table)
    if isinstance(body, LoopKernel):
        return loop_call(body, buffer_of, table)
    ins = list(body.operands) if isinstance(body, GemmKernel) else data_inputs(body.node)
    roots = [body.view_root(i)[0] for i in ins]
    pointers = [buffer_of(body.outputs[0], True)] + [buffer_of(r) for r in roots]
    if isinstance(body, DenseKernel):
        pointers.append(gemm_workspace(body, table))
    return Call(body, pointers, None, ins)


def loop_call(body: LoopKernel, buffer_of, table: BufferTable) -> Call:
    """A loop kernel's call; its plan's ('scratch', id) pointers become kernel-private K
    buffers."""
    plan = LoopPlan(body, buffer_of)
    keep = prod(d for a, d in enumerate(body.X) if a not in plan.R)
    scratch = {id(n): n for n in plan.scratch}
    pointers = [table.new("scratch", scratch[p[1]].dtype, keep) if isinstance(p, tuple) else p
                for p in plan.pointers]
    plan.pointers[:] = pointers
    return Call(body, list(pointers), plan)


def gemm_workspace(body: DenseKernel, table: BufferTable) -> Buffer:
    mm, syms = body.gemm, body.syms
    shape, a = syms.shape(mm), syms.shape(mm.inputs[0])
    k_dim = a[-2] if mm.attr("transpose_a") else a[-1]
    return table.new("workspace", mm.dtype, Workspace((shape[-2], shape[-1], k_dim), mm.dtype))


def final_copies(kernels: KernelGraph, values: dict, table: BufferTable):
    """(copies, output buffers): (dst, src) pairs for updates not written in place and for
    outputs whose value lives elsewhere (another output, a temporary), run after the last
    kernel; and the Buffer of each output position."""
    copies, outputs = [], []
    for var, expr in kernels.graph.updates:
        src, dst = values[kernels.value_key(expr)], table.leaf(var)
        if src is not dst:
            copies.append((dst, src))
    for k, o in enumerate(kernels.graph.outputs):
        src = values[kernels.value_key(o)]
        if not (src.kind == "output" and src.index == k):
            out = table.new("output", o.dtype, src.elems, node=src.node, index=k)
            copies.append((out, src))
            src = out
        outputs.append(src)
    return copies, outputs


def set_lifetimes(calls, copies, values: dict) -> None:
    """Temporaries live from their writer's phase to their last reader's (the copies run in
    a phase after the last); scratch and workspace buffers within their kernel's phase."""
    for call in calls:
        for buf in call.pointers:
            if buf.kind == "temp":
                buf.last = max(buf.last, call.phase)
            elif buf.kind in ("scratch", "workspace"):
                buf.first = buf.last = call.phase
        for index, _ in enumerate(call.body.outputs):
            buf = values[(id(call.body), index)]
            if buf.kind == "temp":
                buf.first = call.phase
                buf.last = max(buf.last, call.phase)
    end = calls[-1].phase + 1 if calls else 0
    for _, src in copies:
        if src.kind == "temp":
            src.last = end

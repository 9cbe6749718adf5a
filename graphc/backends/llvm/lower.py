"""Lowering: a fused graph becomes a Program, i.e. its kernels in execution order with the
buffers each one reads and writes.

- Every kernel output gets a buffer: the user's output array, the shared variable itself when
  an update can be written in place, or a temporary in the arena (planned in the executable
  with passes.memory once the run-time sizes are known).
- Updates are Theano's: all computed from old values, then stored. A new value is written
  straight into its shared variable when every other kernel that reads the old value runs
  earlier (the schedule makes that so when it can) and its own kernel reads the variable
  only at the element it writes. Otherwise it goes to a temporary and is copied at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphc.api import aligned_copy
from graphc.backends.llvm.gemm import gemm_workspace_elems
from graphc.backends.llvm.loop_plan import LoopPlan, prod_of, resolve_in
from graphc.ir import GraphError, toposort
from passes.fuse_groups import data_inputs
from passes.kernels import DenseKernel, GemmKernel, LoopKernel
from passes.symbols import Poly


@dataclass(eq=False)
class Buffer:
    """One buffer: kind in input, shared, constant, output, temp, scratch, workspace."""

    kind: str
    dtype: str
    elems: object  # Poly, or fn(symbol values, nthreads) -> int
    node: object = None
    index: int = 0  # position among the inputs / outputs
    array: object = None  # the fixed array of shared variables and constants
    slot: int = -1  # args[2 + slot] holds its address
    first: int = 0  # lifetime: schedule positions of its writer and last reader
    last: int = 0

    def count(self, values, nthreads) -> int:
        if isinstance(self.elems, Poly):
            return self.elems.evaluate(values)
        return self.elems(values, nthreads)


@dataclass(frozen=True)
class Workspace:
    """Elements of a GEMM's packing workspace, for the run-time sizes (M, N, K)."""

    dims: tuple
    dtype: str

    def __call__(self, values, nthreads) -> int:
        m, n, k = (d.evaluate(values) for d in self.dims)
        return gemm_workspace_elems(m, n, k, nthreads, self.dtype)


@dataclass(eq=False)
class Call:
    body: object
    pointers: list  # Buffers, in the kernel's pointer-argument order
    plan: LoopPlan | None = None
    inputs: list = field(default_factory=list)  # op kernels: data input nodes
    phase: int = 0  # kernels of one phase run without a barrier between them

    @property
    def name(self):
        return self.body.name

    def writes(self) -> set:
        """Buffers this kernel writes (outputs, scratch, workspace)."""
        if self.plan is None:
            out = [self.pointers[0]] + [b for b in self.pointers if b.kind == "workspace"]
        else:
            out = [self.pointers[a.ptr] for a in self.plan.stores.values()]
            out += [b for b in self.pointers if b.kind == "scratch"]
        return {id(b) for b in out}

    def reads(self) -> set:
        return {id(b) for b in self.pointers} - self.writes()


@dataclass
class Program:
    graph: object  # the expanded graph (sizes are computed on it)
    syms: object
    calls: list
    buffers: list
    outputs: list  # Buffer per output position
    copies: list  # (dst Buffer, src Buffer) run after the last kernel
    inplace: list = field(default_factory=list)  # names of shared variables updated in place
    values: dict = field(default_factory=dict)  # (id(body), output index) -> Buffer


def lower(fused, expanded) -> Program:
    return Lowering(fused, expanded).program()


class Lowering:
    def __init__(self, fused, expanded):
        self.fused, self.expanded = fused, expanded
        self.kernels = [n for n in toposort(fused.roots) if n.op == "kernel"]
        self.bodies = [k.attr("body") for k in self.kernels]
        self.syms = self.bodies[0].syms if self.bodies else None
        self.source = {}
        for k in self.kernels:
            self.source[id(k)] = (k.attr("body"), 0)
        for n in toposort(fused.roots):
            if n.op == "kernel_output":
                self.source[id(n)] = (n.attr("body"), n.attr("index"))
        self.inputs_of = {id(k.attr("body")): [self.source.get(id(i), i) for i in k.inputs]
                          for k in self.kernels}
        self.leaf_buffers: dict = {}
        self.provisional: dict = {}  # LoopPlans used only to check in-place updates
        self.value_buffers: dict = {}
        self.buffers: list = []
        self.check_placeholders()

    # ---- graph facts ---------------------------------------------------------------------------

    def check_placeholders(self):
        inputs = {id(p) for p in self.fused.inputs}
        for body in self.bodies:
            for i in body.inputs:
                if i.op == "placeholder" and id(i) not in inputs:
                    raise GraphError(f"placeholder {i.name or i!r} (built at {i.site}) is needed "
                                     f"but is not one of the function's inputs")

    def value_key(self, fused_node):
        body, index = self.source[id(fused_node)]
        return id(body), index

    def reads(self, body) -> list:
        """What a body reads: ('leaf', node) or ('value', key)."""
        out = []
        for src in self.inputs_of[id(body)]:
            out.append(("value", (id(src[0]), src[1])) if isinstance(src, tuple) else ("leaf", src))
        return out

    def depends(self, deps, start, target) -> bool:
        stack, seen = [start], set()
        while stack:
            k = stack.pop()
            if k == target:
                return True
            for d in deps[k]:
                if d not in seen:
                    seen.add(d)
                    stack.append(d)
        return False

    # ---- schedule and in-place updates ------------------------------------------------------

    def schedule(self):
        position = {id(b): k for k, b in enumerate(self.bodies)}
        deps = {k: set() for k in range(len(self.bodies))}
        for k, body in enumerate(self.bodies):
            for how, what in self.reads(body):
                if how == "value":
                    deps[k].add(position[what[0]])
        self.inplace_keys = {}
        for var, expr in self.fused.updates:
            key = self.value_key(expr)
            writer = position[key[0]]
            storage = id(var.attr("storage"))
            if key in self.inplace_keys.values() or small(var) or \
                    not self.safe_in_place(var, key):
                continue
            readers = [k for k, b in enumerate(self.bodies) if k != writer and any(
                how == "leaf" and w.op == "shared" and id(w.attr("storage")) == storage
                for how, w in self.reads(b))]
            if any(self.depends(deps, r, writer) for r in readers):
                continue
            for r in readers:
                deps[writer].add(r)
            self.inplace_keys[storage] = key
        self.deps = {id(self.bodies[k]): {id(self.bodies[d]) for d in ds}
                     for k, ds in deps.items()}
        return self.topological(deps)

    def topological(self, deps):
        done, order = set(), []
        users = {k: [u for u in deps if k in deps[u]] for k in deps}
        waiting = {k: len(deps[k]) for k in deps}
        ready = sorted(k for k in deps if not deps[k])
        while ready:
            k = ready.pop(0)
            order.append(self.bodies[k])
            done.add(k)
            for u in users[k]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    ready.append(u)
                    ready.sort()
        assert len(order) == len(self.bodies), "kernel dependencies form a cycle"
        return order

    def safe_in_place(self, var, key) -> bool:
        """Can the kernel producing `key` write the new value of `var` over the old one?"""
        body = next(b for b in self.bodies if id(b) == key[0])
        reads_var = any(i is var or (i.op == "shared" and i.attr("storage") is
                                     var.attr("storage")) for i in body.inputs)
        if not reads_var:
            return True
        if not isinstance(body, LoopKernel):
            return False
        plan = self.provisional.get(id(body))
        if plan is None:
            plan = LoopPlan(body, lambda n, write: ("node", id(n), write), self.syms)
            self.provisional[id(body)] = plan
        out = body.outputs[key[1]]
        target = plan.stores.get(id(out))
        if target is None:
            return False
        write_pass = plan_pass(plan, out)
        for (reader_id, _), (how, access, root) in plan.reads.items():
            if how == "load" and root.op == "shared" and \
                    root.attr("storage") is var.attr("storage"):
                reader = next(n for n in plan.nodes + plan.copies if id(n) == reader_id)
                if (access.strides, access.offset) != (target.strides, target.offset) or \
                        plan_pass(plan, reader, reading=True) > write_pass:
                    return False
        return True

    # ---- buffers ---------------------------------------------------------------------------------

    def new_buffer(self, kind, dtype, elems, **kw) -> Buffer:
        buf = Buffer(kind, dtype, elems, **kw)
        buf.slot = len(self.buffers)
        self.buffers.append(buf)
        return buf

    def leaf_buffer(self, node) -> Buffer:
        key = id(node.attr("storage")) if node.op == "shared" else id(node)
        if key not in self.leaf_buffers:
            elems = prod_of(self.syms.shape(node))
            if node.op == "placeholder":
                index = next(k for k, p in enumerate(self.fused.inputs) if p is node)
                buf = self.new_buffer("input", node.dtype, elems, node=node, index=index)
            elif node.op == "shared":
                buf = self.new_buffer("shared", node.dtype, elems, node=node,
                                      array=node.attr("storage").value)
            else:
                buf = self.new_buffer("constant", node.dtype, elems, node=node,
                                      array=aligned_copy(np.ascontiguousarray(
                                          node.attr("value").value)))
            self.leaf_buffers[key] = buf
        return self.leaf_buffers[key]

    def assign_values(self):
        first_output = {}
        for k, o in enumerate(self.fused.outputs):
            first_output.setdefault(self.value_key(o), k)
        shared_of = {id(v.attr("storage")): v for v, _ in self.fused.updates}
        for key_storage, key in self.inplace_keys.items():
            self.value_buffers[key] = self.leaf_buffer(shared_of[key_storage])
        for body in self.bodies:
            for index, out in enumerate(body.outputs):
                key = (id(body), index)
                if key in self.value_buffers:
                    continue
                elems = prod_of(self.syms.shape(out))
                if key in first_output:
                    self.value_buffers[key] = self.new_buffer(
                        "output", out.dtype, elems, node=out, index=first_output[key])
                else:
                    self.value_buffers[key] = self.new_buffer("temp", out.dtype, elems, node=out)

    def buffer_for(self, body):
        """buffer_of(node, write) for the nodes a body reads (write=False) or writes."""
        table = {}
        for node, src in zip(body.inputs, self.inputs_of[id(body)]):
            table[id(node), False] = self.value_buffers[(id(src[0]), src[1])] \
                if isinstance(src, tuple) else self.leaf_buffer(src)
        for index, out in enumerate(body.outputs):
            table[id(out), True] = self.value_buffers[(id(body), index)]
        return lambda node, write=False: table[id(node), write]

    # ---- calls ----------------------------------------------------------------------------------

    def make_call(self, body, position) -> Call:
        buffer_of = self.buffer_for(body)
        if isinstance(body, LoopKernel):
            plan = LoopPlan(body, buffer_of, self.syms)
            for k, ptr in enumerate(plan.pointers):
                if isinstance(ptr, tuple):  # ('scratch', id): a kernel-private K buffer
                    node = next(n for n in plan.scratch if id(n) == ptr[1])
                    keep = [d for a, d in enumerate(plan.body.X) if a not in plan.R]
                    plan.pointers[k] = self.new_buffer("scratch", node.dtype, prod_of(keep),
                                                       first=position, last=position)
            return Call(body, list(plan.pointers), plan)
        ins = list(body.operands) if isinstance(body, GemmKernel) else data_inputs(body.node)
        roots = [resolve_in(body, i)[0] for i in ins]
        pointers = [buffer_of(body.outputs[0], True)] + [buffer_of(r) for r in roots]
        if isinstance(body, DenseKernel):
            pointers.append(self.workspace(body, position))
        return Call(body, pointers, None, ins)

    def workspace(self, body, position) -> Buffer:
        mm = body.gemm
        shape = self.syms.shape(mm)
        a = self.syms.shape(mm.inputs[0])
        k_dim = a[-2] if mm.attr("transpose_a") else a[-1]
        elems = Workspace((shape[-2], shape[-1], k_dim), mm.dtype)
        return self.new_buffer("workspace", mm.dtype, elems, first=position, last=position)

    def program(self) -> Program:
        order = self.schedule()
        self.assign_values()
        calls = [self.make_call(body, k) for k, body in enumerate(order)]
        copies = self.final_copies()
        calls = assign_phases(calls, self.deps)
        self.lifetimes(calls, copies)
        outputs = [self.output_buffer(k, o) for k, o in enumerate(self.fused.outputs)]
        names = [v.name or f"shared{k}" for k, (v, _) in enumerate(self.fused.updates)
                 if id(v.attr("storage")) in self.inplace_keys]
        return Program(self.expanded, self.syms, calls, self.buffers, outputs, copies, names,
                       dict(self.value_buffers))

    def output_buffer(self, k, node) -> Buffer:
        buf = self.value_buffers[self.value_key(node)]
        return buf if buf.kind == "output" and buf.index == k else self.extra_outputs[k]

    def final_copies(self) -> list:
        copies, self.extra_outputs = [], {}
        for var, expr in self.fused.updates:
            src, dst = self.value_buffers[self.value_key(expr)], self.leaf_buffer(var)
            if src is not dst:
                copies.append((dst, src))
        for k, o in enumerate(self.fused.outputs):
            src = self.value_buffers[self.value_key(o)]
            if not (src.kind == "output" and src.index == k):
                out = self.new_buffer("output", o.dtype, src.elems, node=src.node, index=k)
                self.extra_outputs[k] = out
                copies.append((out, src))
        return copies

    def lifetimes(self, calls, copies):
        """Lifetimes in phases: buffers used in one phase never share bytes."""
        end = calls[-1].phase + 1 if calls else 0
        for call in calls:
            k = call.phase
            for buf in call.pointers:
                if buf.kind == "temp":
                    buf.last = max(buf.last, k)
                elif buf.kind in ("scratch", "workspace"):
                    buf.first = buf.last = k
            for index, _ in enumerate(call.body.outputs):
                buf = self.value_buffers[(id(call.body), index)]
                if buf.kind == "temp":
                    buf.first = k
                    buf.last = max(buf.last, k)
        for _, src in copies:
            if src.kind == "temp":
                src.last = end


def small(var) -> bool:
    """Tiny variables (a step counter) are copied at the end rather than written in place:
    in place, their kernel would wait for every reader of the old value (a barrier more)."""
    return var.attr("storage").value.size <= 64


def assign_phases(calls, deps) -> list:
    """Group kernels into phases (a barrier between phases): each phase takes, in schedule
    order, every kernel whose predecessors ran in earlier phases and that neither reads what
    the phase writes nor writes what it reads or writes. Returns the calls in phase order."""
    remaining, done, out = list(calls), set(), []
    while remaining:
        phase, read, written, taken = len(out) and out[-1].phase + 1, set(), set(), []
        for call in remaining:
            r, w = call.reads(), call.writes()
            if deps[id(call.body)] <= done and not (r & written) and not (w & (read | written)):
                call.phase = phase
                taken.append(call)
                read |= r
                written |= w
        done |= {id(c.body) for c in taken}
        out += taken
        remaining = [c for c in remaining if c not in taken]
    return out


def plan_pass(plan, node, reading=False) -> int:
    """Position of the pass that computes (or, for reductions, reads the input of) `node`:
    K-pass L is 2L, X-pass L is 2L + 1."""
    if id(node) not in plan.space:
        return 1
    level = plan.level[id(node)]
    if node.op in ("sum", "mean", "max", "min") and reading:
        return 2 * (level - 1) + 1
    return 2 * level + (1 if plan.space[id(node)] == "X" else 0)

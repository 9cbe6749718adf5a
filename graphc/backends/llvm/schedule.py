"""Scheduling a fused graph: the order its kernels run in, and which updates are written
straight into their shared variable.

Updates are Theano's: all computed from old values, then stored. A new value is written in
place when every other kernel that reads the old value can run earlier (an extra dependency
makes it so) and its own kernel reads the variable only at the element it writes, before it
stores it (inplace.safe_in_place); otherwise it goes to a temporary and is copied at the end.
Kernels run in topological order, ties broken by their order in the fused graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.backends.llvm.inplace import safe_in_place, small
from graphc.ir import Graph, GraphError, toposort


@dataclass(frozen=True)
class KernelGraph:
    """The kernels of a fused graph and where each kernel's inputs come from: a value key
    (id(body), output index) of another kernel, or a leaf node."""

    graph: Graph  # the fused graph
    bodies: tuple  # typed kernel bodies, in the fused graph's topological order
    sources: dict  # id(fused node) -> value key
    inputs_of: dict  # id(body) -> tuple of value keys or leaf nodes, one per body input

    @property
    def syms(self):
        return self.bodies[0].syms if self.bodies else None

    def value_key(self, fused_node) -> tuple:
        return self.sources[id(fused_node)]

    def value_reads(self, body) -> list:
        return [src for src in self.inputs_of[id(body)] if isinstance(src, tuple)]

    def leaf_reads(self, body) -> list:
        return [src for src in self.inputs_of[id(body)] if not isinstance(src, tuple)]


def kernel_graph(fused: Graph) -> KernelGraph:
    """The KernelGraph of a fused graph (passes.fuse.fuse_kernels)."""
    nodes = toposort(fused.roots)
    kernels = [n for n in nodes if n.op == "kernel"]
    sources = {id(n): (id(n.attr("body")), n.attr("index") if n.op == "kernel_output" else 0)
               for n in nodes if n.op in ("kernel", "kernel_output")}
    inputs_of = {id(k.attr("body")): tuple(sources.get(id(i), i) for i in k.inputs)
                 for k in kernels}
    graph = KernelGraph(fused, tuple(k.attr("body") for k in kernels), sources, inputs_of)
    check_placeholders(graph)
    return graph


def check_placeholders(kernels: KernelGraph) -> None:
    inputs = {id(p) for p in kernels.graph.inputs}
    for body in kernels.bodies:
        for i in body.inputs:
            if i.op == "placeholder" and id(i) not in inputs:
                raise GraphError(f"placeholder {i.name or i!r} (built at {i.site}) is needed "
                                 f"but is not one of the function's inputs")


@dataclass(frozen=True)
class Schedule:
    kernels: KernelGraph
    order: tuple  # kernel bodies in execution order
    deps: dict  # id(body) -> ids of the bodies it must run after
    inplace: dict  # id(storage of a shared variable) -> value key written over it


def schedule_kernels(fused: Graph) -> Schedule:
    """Dependencies, in-place updates (with the dependencies they add), execution order."""
    kernels = kernel_graph(fused)
    bodies = kernels.bodies
    position = {id(b): k for k, b in enumerate(bodies)}
    deps = {k: {position[key[0]] for key in kernels.value_reads(b)} for k, b in enumerate(bodies)}
    inplace, deps = choose_in_place(kernels, deps, position)
    order = topological(deps)
    by_id = {k: {id(bodies[d]) for d in ds} for k, ds in deps.items()}
    return Schedule(kernels, tuple(bodies[k] for k in order),
                    {id(bodies[k]): v for k, v in by_id.items()}, inplace)


def choose_in_place(kernels: KernelGraph, deps: dict, position: dict) -> tuple[dict, dict]:
    """({id(storage): value key} of the updates written in place, `deps` with the edges that
    make every other reader of the old value run before its writer)."""
    deps = {k: set(ds) for k, ds in deps.items()}
    chosen, plans = {}, {}
    for var, expr in kernels.graph.updates:
        key = kernels.value_key(expr)
        writer = position[key[0]]
        body = kernels.bodies[writer]
        if key in chosen.values() or small(var) or \
                not safe_in_place(body, body.outputs[key[1]], var, plans):
            continue
        readers = [k for k, b in enumerate(kernels.bodies)
                   if k != writer and reads_variable(kernels, b, var)]
        if any(reaches(deps, r, writer) for r in readers):
            continue
        deps[writer] |= set(readers)
        chosen[id(var.attr("storage"))] = key
    return chosen, deps


def reads_variable(kernels: KernelGraph, body, var) -> bool:
    storage = var.attr("storage")
    return any(w.op == "shared" and w.attr("storage") is storage
               for w in kernels.leaf_reads(body))


def reaches(deps: dict, start: int, target: int) -> bool:
    """Does kernel `start` depend, directly or not, on kernel `target`?"""
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


def topological(deps: dict) -> list:
    """Kernel positions in dependency order, the lowest ready position first."""
    users = {k: [u for u in deps if k in deps[u]] for k in deps}
    waiting = {k: len(deps[k]) for k in deps}
    ready, order = sorted(k for k in deps if not deps[k]), []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for u in users[k]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
                ready.sort()
    assert len(order) == len(deps), "kernel dependencies form a cycle"
    return order


def assign_phases(calls, deps) -> list:
    """Group calls into phases (a barrier between phases): each phase takes, in schedule
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

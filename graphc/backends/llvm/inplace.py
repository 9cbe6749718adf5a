"""Can a kernel write the new value of a shared variable over the old one?

Updates are Theano's: every new value is computed from old values. Written in place, the
new value of element e replaces the old one when the kernel stores it, so every load of the
variable inside the kernel must read element e only, and come before that store. When a
loop kernel's loads and stores happen is decided by loop_kernel.py: pass after pass, each
stored node computed (with the values it needs that are not stored, recomputed in that
pass) just before its store, reductions reading their inputs after the pass's stores.
EmissionOrder replays that order."""

from __future__ import annotations

from graphc.backends.llvm.loop_plan import LoopPlan
from graphc.ops import REDUCTIONS, data_inputs
from passes.kernels import LoopKernel


def small(var) -> bool:
    """Tiny variables (a step counter) are copied at the end rather than written in place:
    in place, their kernel would wait for every reader of the old value (a barrier more)."""
    return var.attr("storage").value.size <= 64


def reads_storage(node, var) -> bool:
    return node is var or (node.op == "shared" and node.attr("storage") is var.attr("storage"))


def safe_in_place(body, out, var, plans: dict) -> bool:
    """Can `body` write its output `out` (the new value of `var`) over `var`? `plans` caches
    a provisional LoopPlan and its EmissionOrder per body."""
    if not any(reads_storage(i, var) for i in body.inputs):
        return True
    if not isinstance(body, LoopKernel) or out.op in REDUCTIONS:  # an accumulator over var
        return False
    if id(body) not in plans:
        plan = LoopPlan(body, lambda n, write: ("node", id(n), write))
        plans[id(body)] = plan, EmissionOrder(plan)
    plan, order = plans[id(body)]
    target = plan.stores.get(id(out))
    if target is None:
        return False
    store_at = order.events.index(("store", id(out)))
    for at, (what, key) in enumerate(order.events):
        if what != "load":
            continue
        _, access, root = plan.reads[key]
        same_element = (access.strides, access.offset) == (target.strides, target.offset)
        if reads_storage(root, var) and (at > store_at or not same_element):
            return False
    return True


class EmissionOrder:
    """The loads and stores of one element of a LoopKernel, in the order loop_kernel.py emits
    them: `events` lists ('load', (id(reader), input k)) and ('store', id(node))."""

    def __init__(self, plan):
        self.plan, self.events = plan, []
        self.memo, self.kind, self.level = set(), "K", 0
        for level in range(plan.top + 2):
            self.start_pass("K", level)
            for node in self.stored_at(level, "K"):
                self.store(node)
            if level <= plan.top:
                self.start_pass("X", level)
                for node in self.stored_at(level, "X") + (plan.copies if level == 0 else []):
                    self.store(node)
                for reduction in self.reductions_at(level + 1):
                    self.read(reduction, 0)

    def start_pass(self, kind, level):
        self.memo, self.kind, self.level = set(), kind, level

    def stored_at(self, level, space) -> list:
        plan = self.plan
        return [n for n in plan.nodes if plan.level[id(n)] == level and id(n) in plan.stores
                and n.op not in REDUCTIONS and plan.space[id(n)].replace("S", "X") == space]

    def reductions_at(self, level) -> list:
        return [n for n in self.plan.nodes if self.plan.level[id(n)] == level
                and n.op in REDUCTIONS]

    def store(self, node):
        self.evaluate(node)
        self.events.append(("store", id(node)))

    def evaluate(self, node):
        if id(node) in self.memo:
            return
        self.memo.add(id(node))
        if id(node) not in self.plan.space:  # an output copy of a view, leaf or scalar
            self.read(node, 0)
        elif not self.from_memory(node):
            for k in range(len(data_inputs(node))):
                self.read(node, k)

    def read(self, node, k):
        how, what, _ = self.plan.reads[(id(node), k)]
        if how == "node":
            self.evaluate(what)
        else:
            self.events.append(("load", (id(node), k)))

    def from_memory(self, node) -> bool:
        """Is `node` loaded from its own store here rather than computed (as loop_kernel.py
        decides)?"""
        return self.plan.loads_stored(node, self.kind, self.level)

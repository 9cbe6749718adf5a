"""Can a kernel write the new value of a shared variable over the old one?

Updates are Theano's: every new value is computed from old values. Written in place, the
new value of element e replaces the old one when the kernel stores it, so every read of the
variable inside the kernel must happen before that store: a read of another element, or in a
later pass (loop_plan.py numbers the passes), would see the new value. Within the pass of the
store, loop_kernel.py computes each stored node (loading what it reads) just before storing it,
and reductions read their inputs after the pass's stores, so a read of the same element there
comes first only when the new value is computed from it."""

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
    a provisional LoopPlan per body."""
    if not any(reads_storage(i, var) for i in body.inputs):
        return True
    if not isinstance(body, LoopKernel) or out.op in REDUCTIONS:  # an accumulator over var
        return False
    if id(body) not in plans:
        plans[id(body)] = LoopPlan(body, lambda n, write: ("node", id(n), write))
    plan = plans[id(body)]
    target = plan.stores.get(id(out))
    if target is None:
        return False
    write_pass, before_store = plan_pass(plan, out), computed_with(plan, out)
    for (reader_id, _), (how, access, root) in plan.reads.items():
        if how == "load" and reads_storage(root, var):
            reader = next(n for n in plan.nodes + plan.copies if id(n) == reader_id)
            read_pass = plan_pass(plan, reader, reading=True)
            if (access.strides, access.offset) != (target.strides, target.offset) or \
                    read_pass > write_pass or \
                    (read_pass == write_pass and reader_id not in before_store):
                return False
    return True


def computed_with(plan, out) -> set:
    """ids of `out` and the kernel nodes its value is computed from in registers: their loads
    are emitted before `out` is stored."""
    seen, stack = {id(out)}, [out]
    while stack:
        node = stack.pop()
        if id(node) not in plan.space or node.op in REDUCTIONS:  # copies; finished sums
            continue
        for k in range(len(data_inputs(node))):
            how, what, _ = plan.reads[(id(node), k)]
            if how == "node" and id(what) not in seen:
                seen.add(id(what))
                stack.append(what)
    return seen


def plan_pass(plan, node, reading=False) -> int:
    """Position of the pass that computes (or, for reductions, reads the input of) `node`:
    K-pass L is 2L, X-pass L is 2L + 1."""
    if id(node) not in plan.space:
        return 1
    level = plan.level[id(node)]
    if node.op in REDUCTIONS and reading:
        return 2 * (level - 1) + 1
    return 2 * level + (1 if plan.space[id(node)] == "X" else 0)

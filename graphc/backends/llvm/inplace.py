"""Can a kernel write the new value of a shared variable over the old one?

Only when the kernel reads the variable (if at all) at exactly the element it writes, and
no later than the pass that writes it (loop_plan.py numbers the passes)."""

from __future__ import annotations

from graphc.backends.llvm.loop_plan import LoopPlan
from graphc.ops import REDUCTIONS
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
    if not isinstance(body, LoopKernel):
        return False
    if id(body) not in plans:
        plans[id(body)] = LoopPlan(body, lambda n, write: ("node", id(n), write))
    plan = plans[id(body)]
    target = plan.stores.get(id(out))
    if target is None:
        return False
    write_pass = plan_pass(plan, out)
    for (reader_id, _), (how, access, root) in plan.reads.items():
        if how == "load" and reads_storage(root, var):
            reader = next(n for n in plan.nodes + plan.copies if id(n) == reader_id)
            if (access.strides, access.offset) != (target.strides, target.offset) or \
                    plan_pass(plan, reader, reading=True) > write_pass:
                return False
    return True


def plan_pass(plan, node, reading=False) -> int:
    """Position of the pass that computes (or, for reductions, reads the input of) `node`:
    K-pass L is 2L, X-pass L is 2L + 1."""
    if id(node) not in plan.space:
        return 1
    level = plan.level[id(node)]
    if node.op in REDUCTIONS and reading:
        return 2 * (level - 1) + 1
    return 2 * level + (1 if plan.space[id(node)] == "X" else 0)

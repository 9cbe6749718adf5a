"""A compiled function whose program holds allreduce nodes: its phases (split.py), each one
native call, with the reductions across ranks (comm.py) run between them."""

from __future__ import annotations

import numpy as np

from graphc.distributed.comm import world
from graphc.distributed.split import split
from graphc.ir import Graph, user_site
from graphc.ops.leaves import leaf_value
from passes.autodiff import differentiate


class PhasedFunction:
    """Called like a Function: one value per input; returns the outputs and applies the
    updates (in the last phase, so they are stored once, from the reduced values).

    `phases` are the graphc.distributed.split.Phase steps and `functions` their compiled
    Functions (`functions[k].graph(stage)` draws phase k). Each phase holds its variables'
    locks while it runs, not across phases: call one PhasedFunction from one thread (every
    rank must make the same calls in the same order anyway).
    """

    def __init__(self, raw: Graph, single: bool, backend: str, name, compile_function):
        self.name, self.single, self.inputs, self.site = name, single, raw.inputs, user_site()
        self.phases = split(differentiate(raw))  # gradients through allreduce are expanded first
        self.functions = [
            compile_function(list(phase.graph.inputs), list(phase.graph.outputs),
                             phase.graph.updates, backend, f"{name or 'function'}_phase{k}")
            for k, phase in enumerate(self.phases)
        ]

    def __call__(self, *args):
        if len(args) != len(self.inputs):
            raise TypeError(
                f"function {self.name!r} expects {len(self.inputs)} arguments, got {len(args)} "
                f"(called at {user_site()})"
            )
        values = {id(p): a for p, a in zip(self.inputs, args)}
        pending = []  # reductions under way: (allreduce nodes, PendingReduction)
        for phase, function in zip(self.phases, self.functions):
            if pending and any(id(node) not in values for node in phase.feeds):
                finish(pending, values)
            outputs = function(*[value_of(node, values) for node in phase.feeds])
            values.update(zip(map(id, phase.produces), outputs))
            if phase.reductions:
                pending.append(start_reduction(phase.reductions, values))
        return outputs[0] if self.single else outputs


def value_of(node, values: dict) -> np.ndarray:
    """A node's value for the next phase: computed, given, or a leaf's own."""
    if id(node) in values:
        return values[id(node)]
    return node.get_value() if node.op == "shared" else leaf_value(node)


def start_reduction(reductions, values: dict) -> tuple:
    """Start summing the allreduce nodes' payloads over the ranks (one packed non-blocking
    message per dtype)."""
    payloads = [value_of(node.inputs[0], values) for node in reductions]
    return reductions, world().start_allreduce(payloads, "sum")


def finish(pending: list, values: dict) -> None:
    """Wait for the reductions under way; store each allreduce node's value (a mean: the
    sum divided by the number of ranks)."""
    ranks = world()
    for reductions, request in pending:
        for node, total in zip(reductions, request.wait()):
            mean = node.attr("reduce") == "mean"
            values[id(node)] = (total / ranks.size).astype(total.dtype) if mean else total
    pending.clear()

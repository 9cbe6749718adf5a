"""Reverse-mode automatic differentiation: expand every `grad` node into gradient ops.

One backward sweep per cost serves every `wrt` asked of it. Each op's gradient rule (its
VJP in the op table) is written in graph ops, so the result is an ordinary graph that the
later passes simplify and fuse like any other.
"""

from __future__ import annotations

from collections import defaultdict

from graphc.ir import FLOAT_DTYPES, Graph, GraphError, Node, toposort
from graphc.ops import OPS, call
from graphc.ops.leaves import constant_node
from graphc.ops.rebuild import rebuild

FLOATS = FLOAT_DTYPES  # bfloat16 activations pass gradients too


def differentiate(graph: Graph) -> Graph:
    """Replace each grad(cost, wrt) node with the gradient graph it stands for."""
    original = toposort(graph.roots)
    if not any(n.op == "grad" for n in original):
        return graph
    wrt_of_cost = defaultdict(list)
    for n in original:
        if n.op == "grad":
            wrt_of_cost[id(n.inputs[0])].append(n.inputs[1])
    memo: dict[int, Node] = {}
    sweeps: dict[int, dict] = {}
    for node in original:
        new = rebuild(node, (memo[id(i)] for i in node.inputs))
        if new.op == "grad":
            cost, wrt = new.inputs
            if id(cost) not in sweeps:
                targets = [memo.get(id(w), w) for w in wrt_of_cost[id(node.inputs[0])]]
                sweeps[id(cost)] = backprop(cost, targets)
            found = sweeps[id(cost)].get(id(wrt))
            new = zeros_for(new, wrt) if found is None else found
        memo[id(node)] = new
    return graph.with_roots(memo[id(r)] for r in graph.roots)


def zeros_for(grad_node: Node, wrt: Node) -> Node:
    if grad_node.attr("disconnected") == "raise":
        raise GraphError(
            f"grad: no gradient flows from the cost to {wrt.name or wrt!r} (at {grad_node.site})"
        )
    return call("broadcast_like", constant_node(0, wrt.dtype), wrt)


def on_gradient_path(cost: Node, targets) -> set:
    """Ids of float nodes that depend on some target through differentiable ops."""
    wanted = {id(t) for t in targets}
    path = set()
    for node in toposort([cost]):
        if node.dtype not in FLOATS:
            continue
        if id(node) in wanted or (
            OPS[node.op].differentiable and any(id(i) in path for i in node.inputs)
        ):
            path.add(id(node))
    return path


def backprop(cost: Node, targets) -> dict:
    """{id(target): gradient node} for each target that the cost depends on."""
    path = on_gradient_path(cost, targets)
    adjoint = {id(cost): constant_node(1, cost.dtype)}
    for node in reversed(toposort([cost])):
        g = adjoint.get(id(node))
        if g is None or id(node) not in path or not node.inputs:
            continue
        for inp, gi in zip(node.inputs, OPS[node.op].vjp(g, node)):
            if gi is None or id(inp) not in path:
                continue
            check_gradient(node, inp, gi)
            adjoint[id(inp)] = gi if id(inp) not in adjoint else adjoint[id(inp)] + gi
    return {id(t): adjoint[id(t)] for t in targets if id(t) in adjoint}


def check_gradient(node: Node, inp: Node, g: Node) -> None:
    """A gradient rule must return the input's shape and dtype; anything else is a bug in it."""
    same = len(g.shape) == len(inp.shape) and all(
        a is None or b is None or a == b for a, b in zip(g.shape, inp.shape)
    )
    if not same or g.dtype != inp.dtype:
        raise GraphError(
            f"gradient rule of {node.op} returned {g.shape} {g.dtype} for an input "
            f"of {inp.shape} {inp.dtype}"
        )

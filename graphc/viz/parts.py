"""Tell the forward pass of a graph from its backward pass, for colouring diagrams.

The backward part is the gradient computation together with the optimizer arithmetic that
consumes it: everything that exists because of a `gc.grad`. The rule, stage by stage:

- The 'raw' stage, where gradients are still `grad` nodes: the grad nodes and every node
  that depends on one are backward, and so is an op that only feeds them (other than the
  cost), such as a learning-rate schedule; the rest is forward. Without any `grad` node,
  every op is forward.
- Each later stage of a Function: passes keep a node object when they do not change it, so
  a node present in the stage before keeps its part; outputs and update expressions keep
  the part of the root at the same position. A node a pass made is backward when one of its
  inputs (or, for a fused kernel, one of the ops inside) is backward; otherwise it is forward
  when it feeds a forward node, and backward when it only feeds the backward part (such as
  the relu mask `x > 0` that a gradient rule computes from forward values).
- A bare Graph without that history: what the outputs depend on is forward; what only the
  updates need is backward.

Leaves (placeholders, shared variables, constants) belong to neither part.
"""

from __future__ import annotations

from graphc.ir import Graph, Node, toposort
from graphc.ops import LEAVES

FORWARD, BACKWARD, LEAF = "forward", "backward", "leaf"


def is_leaf(node: Node) -> bool:
    return node.op in LEAVES


def parts_of_raw(graph: Graph) -> dict:
    """{id(node): part} for a graph whose gradients are still `grad` nodes."""
    order = graph.nodes()
    if not any(n.op == "grad" for n in order):
        return {id(n): LEAF if is_leaf(n) else FORWARD for n in order}  # no backward pass
    parts, undecided = {}, set()
    for node in order:
        if is_leaf(node):
            parts[id(node)] = LEAF
        elif node.op == "grad" or any(parts.get(id(i)) == BACKWARD for i in node.inputs):
            parts[id(node)] = BACKWARD
        else:
            undecided.add(id(node))
    for root in graph.roots:
        if id(root) in undecided:
            parts[id(root)] = FORWARD  # an output that does not depend on a gradient
            undecided.discard(id(root))
    costs = {id(n.inputs[0]) for n in order if n.op == "grad"}
    resolve_new_nodes(order, parts, undecided, anchors=costs)
    return parts


def users_of(order: list) -> dict:
    users = {id(n): [] for n in order}
    for node in order:
        for i in node.inputs:
            users[id(i)].append(node)
    return users


def parts_after(graph: Graph, before: Graph, previous: dict, inner=lambda node: ()) -> dict:
    """Parts of a stage's nodes, given the stage `before` it and that stage's parts.

    `inner(node)` lists the ops a fused kernel contains (nodes of the stage before): a kernel
    is backward if any of them is, else forward.
    """
    order = graph.nodes()
    if BACKWARD not in previous.values():  # no backward pass anywhere: nothing to tell apart
        return {id(n): LEAF if is_leaf(n) else FORWARD for n in order}
    parts, undecided = {}, set()
    for node in order:
        known = previous.get(id(node))
        contents = [previous.get(id(op)) for op in inner(node)]
        if is_leaf(node):
            parts[id(node)] = LEAF
        elif known is not None:
            parts[id(node)] = known
        elif contents and None not in contents:  # a fused kernel: its part follows its ops
            parts[id(node)] = BACKWARD if BACKWARD in contents else FORWARD
        elif any(parts.get(id(i)) == BACKWARD for i in node.inputs):
            parts[id(node)] = BACKWARD
        else:
            undecided.add(id(node))
    # Outputs and update expressions keep their positions from stage to stage.
    for old, new in zip(before.roots, graph.roots):
        if id(new) in undecided:
            parts[id(new)] = previous[id(old)]
            undecided.discard(id(new))
    resolve_new_nodes(order, parts, undecided)
    return parts


def resolve_new_nodes(order: list, parts: dict, undecided: set, anchors=frozenset()) -> None:
    """Nodes fed only by forward values: forward if they feed a forward node or an anchor
    (such as the cost of a `grad`), else backward."""
    users = users_of(order)
    for node in reversed(order):
        if id(node) not in undecided:
            continue
        feeds_forward = any(parts.get(id(u)) == FORWARD for u in users[id(node)])
        parts[id(node)] = FORWARD if feeds_forward or id(node) in anchors else BACKWARD


def parts_by_outputs(graph: Graph) -> dict:
    """Without history: the outputs' ancestors are forward, the rest backward."""
    forward = {id(n) for n in toposort(graph.outputs)}
    return {
        id(n): LEAF if is_leaf(n) else FORWARD if id(n) in forward else BACKWARD
        for n in graph.nodes()
    }


def parts_of_graph(graph: Graph) -> dict:
    """Parts of a graph given on its own (no pipeline history)."""
    if any(n.op == "grad" for n in graph.nodes()):
        return parts_of_raw(graph)
    return parts_by_outputs(graph)


def parts_of_stage(stages: dict, stage: str, inner=lambda node: ()) -> dict:
    """Parts of the nodes of `stages[stage]` and of the stages before it, following the
    pipeline from its first ('raw') stage."""
    names = list(stages)
    parts = parts_of_raw(stages[names[0]])
    merged = dict(parts)  # a fused kernel's inner ops are nodes of the stage before
    for before, name in zip(names, names[1 : names.index(stage) + 1]):
        parts = parts_after(stages[name], stages[before], parts, inner)
        merged.update(parts)
    return merged

"""Rebuilding graphs: a node with new inputs, and a graph rewritten bottom-up.

Both build nodes through the op table (shapes and dtypes re-inferred), so they live above the IR.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphc.ir import Graph, Node, toposort
from graphc.ops import make_node


def rebuild(node: Node, inputs: Iterable[Node]) -> Node:
    """`node` with new inputs (same op, attrs, name, site); reuses `node` if nothing changed."""
    inputs = tuple(inputs)
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node
    return make_node(node.op, inputs, node.attr_dict, name=node.name, site=node.site)


def transform(graph: Graph, rewrite) -> Graph:
    """Rebuild `graph` bottom-up; `rewrite(node)` returns a replacement node or None.

    Inputs are rewritten before their users, so `rewrite` sees already-rewritten inputs.
    Leaves (placeholders, shared, constants) keep their identity unless rewritten.
    """
    memo: dict[int, Node] = {}
    for node in toposort(graph.roots):
        new = rebuild(node, (memo[id(i)] for i in node.inputs))
        replacement = rewrite(new)
        memo[id(node)] = new if replacement is None else replacement
    return graph.with_roots(memo[id(r)] for r in graph.roots)

"""Simplification passes, each `Graph -> Graph`: common subexpressions, constant folding,
algebraic identities (including the stable log(softmax(x)) -> log_softmax(x)), dead code."""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import Graph, Node
from graphc.ops import OPS, call, make_node
from graphc.ops.leaves import Literal
from graphc.ops.rewrite import transform

FOLD_LIMIT = 1 << 16  # elements; folding bigger constants would bloat the graph and compiled code


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Merge nodes that apply the same op, with the same attributes, to the same inputs."""
    canonical: dict[tuple, Node] = {}

    def merge(node):
        if node.op in ("placeholder", "shared"):
            return None  # distinct by identity
        key = (node.op, tuple(id(i) for i in node.inputs), node.attrs)
        first = canonical.setdefault(key, node)
        return None if first is node else first

    return transform(graph, merge)


def fold_constants(graph: Graph) -> Graph:
    """Evaluate ops whose inputs are all constants (small results only)."""

    def fold(node):
        if (
            node.op == "constant"
            or not node.inputs
            or OPS[node.op].kind in ("leaf", "special")
            or any(i.op != "constant" for i in node.inputs)
            or None in node.shape
            or math.prod(node.shape) > FOLD_LIMIT
        ):
            return None
        values = [i.attr("value").value for i in node.inputs]
        result = np.asarray(OPS[node.op].impl(*values, **node.attr_dict), dtype=node.dtype)
        return make_node("constant", (), {"value": Literal(np.array(result))}, site=node.site)

    return transform(graph, fold)


def constant_value(node: Node):
    """The scalar value of a constant whose elements are all equal, else None."""
    if node.op != "constant":
        return None
    value = node.attr("value").value
    if value.size == 0 or not np.all(value == value.flat[0]):
        return None
    return value.flat[0].item()


def _keeps(node: Node, x: Node) -> Node | None:
    """x, if replacing node by x changes neither shape nor dtype (no lost broadcast)."""
    return x if x.shape == node.shape and x.dtype == node.dtype else None


def simplify_algebra(graph: Graph) -> Graph:
    """Rewrite identities: x*1, x+0, x-0, x/1, x**1, --x, cast to own dtype, identity
    reshapes/transposes, x**2 -> square(x), log(softmax(x)) -> log_softmax(x)."""
    return transform(graph, algebra_rule)


def algebra_rule(node: Node) -> Node | None:
    ins = node.inputs
    values = [constant_value(i) for i in ins]
    if node.op in ("mul",) and 1 in values:
        return _keeps(node, ins[1 - values.index(1)])
    if node.op == "add" and 0 in values:
        return _keeps(node, ins[1 - values.index(0)])
    if node.op in ("sub", "div", "pow") and values[1] == (0 if node.op == "sub" else 1):
        return _keeps(node, ins[0])
    if node.op == "pow" and values[1] == 2:
        return call("square", ins[0]) if _keeps(node, ins[0]) is not None else None
    if node.op == "neg" and ins[0].op == "neg":
        return ins[0].inputs[0]
    if node.op == "cast" and ins[0].dtype == node.dtype:
        return ins[0]
    if (
        node.op in ("reshape", "broadcast_like", "broadcast_to")
        and ins[0].shape == node.shape
        and None not in node.shape
    ):
        return ins[0]
    if node.op == "transpose" and node.attr("axes") == tuple(range(node.ndim)):
        return ins[0]
    if node.op == "log" and ins[0].op == "softmax":
        return call("log_softmax", ins[0].inputs[0], axis=ins[0].attr("axis"))
    return None


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop updates that store a shared variable's own value. (Nodes that no output or
    update needs are already gone: a Graph holds only what its roots reach.)"""
    live = tuple((var, expr) for var, expr in graph.updates if expr is not var)
    return Graph(graph.inputs, graph.outputs, live)


SIMPLIFY_PASSES = (
    fold_constants,
    simplify_algebra,
    eliminate_common_subexpressions,
    eliminate_dead_code,
)


def simplify(graph: Graph, max_rounds: int = 8) -> Graph:
    """Run the simplification passes until the graph stops shrinking."""
    for _ in range(max_rounds):
        before = len(graph.nodes())
        for step in SIMPLIFY_PASSES:
            graph = step(graph)
        if len(graph.nodes()) >= before:
            break
    return graph

"""Simplification passes, each `Graph -> Graph`: common subexpressions, constant folding,
algebraic identities (including the stable log(softmax(x)) -> log_softmax(x)), dead code.

Folding and the identities are small named rules in the tables FOLDING and ALGEBRA, applied
by `passes.rewrite.rewrite_graph`; each rule's docstring states the identity it applies."""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import Graph, Node
from graphc.ops import OPS, call, make_node
from graphc.ops.leaves import Literal
from graphc.ops.rebuild import transform
from passes.rewrite import RuleTable, constant_value, if_same_type, rewrite_graph

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


FOLDING = RuleTable("constant folding")
ALGEBRA = RuleTable("algebra")


def fold_constants(graph: Graph) -> Graph:
    """Evaluate ops whose inputs are all constants (small results only)."""
    return rewrite_graph(graph, FOLDING)


def simplify_algebra(graph: Graph) -> Graph:
    """Rewrite identities: x*1, x+0, x-0, x/1, x**1, --x, cast to own dtype, identity
    reshapes/transposes, x**2 -> square(x), log(softmax(x)) -> log_softmax(x)."""
    return rewrite_graph(graph, ALGEBRA)


@FOLDING.register()
def fold_constant_inputs(node: Node) -> Node | None:
    """op(constant, ...) -> constant holding op's value (small results only)."""
    if not is_foldable(node):
        return None
    values = [i.attr("value").value for i in node.inputs]
    result = np.asarray(OPS[node.op].impl(*values, **node.attr_dict), dtype=node.dtype)
    return make_node("constant", (), {"value": Literal(np.array(result))}, site=node.site)


def is_foldable(node: Node) -> bool:
    """A computed node of constants only, with a small static shape."""
    return (
        bool(node.inputs)
        and all(i.op == "constant" for i in node.inputs)
        and node.op != "constant"
        and OPS[node.op].fusion not in ("leaf", "structural")
        and None not in node.shape
        and math.prod(node.shape) <= FOLD_LIMIT
    )


# ---- algebra: one rule per identity, tried in this order --------------------------------------


def operand_beside(node: Node, identity) -> Node | None:
    """The other operand of a binary node with a constant `identity` operand, if it keeps type."""
    values = [constant_value(i) for i in node.inputs]
    if identity not in values:
        return None
    return if_same_type(node.inputs[1 - values.index(identity)], node)


def left_operand_if_right_is(node: Node, identity) -> Node | None:
    """x of `x op identity`, if the right operand is that constant and x keeps type."""
    if constant_value(node.inputs[1]) != identity:
        return None
    return if_same_type(node.inputs[0], node)


@ALGEBRA.register("mul")
def multiply_by_one(node: Node) -> Node | None:
    """x * 1 -> x and 1 * x -> x"""
    return operand_beside(node, 1)


@ALGEBRA.register("add")
def add_zero(node: Node) -> Node | None:
    """x + 0 -> x and 0 + x -> x"""
    return operand_beside(node, 0)


@ALGEBRA.register("sub")
def subtract_zero(node: Node) -> Node | None:
    """x - 0 -> x"""
    return left_operand_if_right_is(node, 0)


@ALGEBRA.register("div")
def divide_by_one(node: Node) -> Node | None:
    """x / 1 -> x"""
    return left_operand_if_right_is(node, 1)


@ALGEBRA.register("pow")
def power_of_one(node: Node) -> Node | None:
    """x ** 1 -> x"""
    return left_operand_if_right_is(node, 1)


@ALGEBRA.register("pow")
def power_of_two_is_square(node: Node) -> Node | None:
    """x ** 2 -> square(x)"""
    x = left_operand_if_right_is(node, 2)
    return None if x is None else call("square", x)


@ALGEBRA.register("neg")
def double_negation(node: Node) -> Node | None:
    """-(-x) -> x"""
    inner = node.inputs[0]
    return inner.inputs[0] if inner.op == "neg" else None


@ALGEBRA.register("cast")
def cast_to_own_dtype(node: Node) -> Node | None:
    """cast(x, x.dtype) -> x"""
    x = node.inputs[0]
    return x if x.dtype == node.dtype else None


@ALGEBRA.register("cast")
def exact_round_trip(node: Node) -> Node | None:
    """cast(cast(x, wider), x.dtype) -> x"""
    # the widening holds every value of x exactly (e.g. bfloat16 -> float32), so the
    # narrowing gives x back: mixed-precision gradients meet these between layers
    inner = node.inputs[0]
    if inner.op != "cast" or inner.inputs[0].dtype != node.dtype:
        return None
    exact = np.can_cast(np.dtype(node.dtype), np.dtype(inner.dtype), "safe")
    return inner.inputs[0] if exact else None


@ALGEBRA.register("reshape", "broadcast_like", "broadcast_to")
def reshape_to_own_shape(node: Node) -> Node | None:
    """reshape/broadcast of x to x's own static shape -> x"""
    x = node.inputs[0]
    return x if x.shape == node.shape and None not in node.shape else None


@ALGEBRA.register("transpose")
def identity_transpose(node: Node) -> Node | None:
    """transpose(x, axes=(0, 1, ..., n-1)) -> x"""
    return node.inputs[0] if node.attr("axes") == tuple(range(node.ndim)) else None


@ALGEBRA.register("log")
def stable_log_softmax(node: Node) -> Node | None:
    """log(softmax(x)) -> log_softmax(x) (finite where softmax underflows to 0)"""
    inner = node.inputs[0]
    if inner.op != "softmax":
        return None
    return call("log_softmax", inner.inputs[0], axis=inner.attr("axis"))


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

"""Composite expansions, run by the LLVM backend as the stage 'expanded' before fusion.

softmax and log_softmax become max/sum reductions and elementwise ops (so the reductions can
absorb their neighbours), an integer mean becomes a float64 mean cast back (NumPy's
accumulator: no int32 sum overflows), and the ReLU-backward mask `x > 0` reads relu(x)
instead of x (equal everywhere, NaN included), so a dense layer's pre-activation is no longer
needed after its GEMM.
Each expansion is a rule in EXPANSIONS, applied by `passes.rewrite.rewrite_graph`.
"""

from __future__ import annotations

from graphc.ir import Graph, Node
from graphc.ops import call, make_node
from passes.rewrite import RuleTable, constant_value, rewrite_graph

INTEGERS = ("int32", "int64")


def relu_of_input(graph: Graph) -> dict[int, Node]:
    """{id(x): relu(x)} for every relu in the graph (the context of the relu-mask rule)."""
    return {id(n.inputs[0]): n for n in graph.nodes() if n.op == "relu"}


# Once per node: the relu-mask rule would match its own output again (relu(relu(x))).
EXPANSIONS = RuleTable("expansions", context_of=relu_of_input, fixed_point=False)


def expand_composites(graph: Graph) -> Graph:
    """softmax/log_softmax as reductions + elementwise ops; relu masks read relu's output."""
    return rewrite_graph(graph, EXPANSIONS)


def shifted_by_max(x: Node, axis: int, site: str) -> Node:
    """x - max(x, axis): the shift that keeps exp from overflowing (its errors name `site`)."""
    peak = make_node("max", (x,), {"axis": (axis,), "keepdims": True}, site=site)
    return call("sub", x, peak)


@EXPANSIONS.register("softmax")
def expand_softmax(node: Node) -> Node:
    """softmax(x) -> e / sum(e), where e = exp(x - max(x))"""
    axis = node.attr("axis")
    e = call("exp", shifted_by_max(node.inputs[0], axis, node.site))
    return call("div", e, call("sum", e, axis=(axis,), keepdims=True))


@EXPANSIONS.register("log_softmax")
def expand_log_softmax(node: Node) -> Node:
    """log_softmax(x) -> s - log(sum(exp(s))), where s = x - max(x)"""
    axis = node.attr("axis")
    shifted = shifted_by_max(node.inputs[0], axis, node.site)
    total = call("sum", call("exp", shifted), axis=(axis,), keepdims=True)
    return call("sub", shifted, call("log", total))


@EXPANSIONS.register("mean")
def integer_mean_in_float64(node: Node) -> Node | None:
    """mean(x: int) -> cast(mean(cast(x, float64)), int)"""
    # NumPy's integer mean accumulates in float64 (no int32 sum overflows); the op casts back
    x = node.inputs[0]
    if x.dtype not in INTEGERS:
        return None
    wide = make_node("cast", (x,), {"dtype": "float64"}, site=node.site)
    mean = make_node("mean", (wide,), node.attr_dict, site=node.site)
    return make_node("cast", (mean,), {"dtype": node.dtype}, site=node.site)


@EXPANSIONS.register("greater", uses_context=True)
def relu_mask_reads_relu_output(node: Node, relu_of: dict) -> Node | None:
    """x > 0 -> relu(x) > 0, when the graph computes relu(x) anyway"""
    x, zero = node.inputs
    if constant_value(zero) != 0 or zero.ndim != 0 or id(x) not in relu_of:
        return None
    return make_node("greater", (relu_of[id(x)], zero), site=node.site)


__all__ = ["EXPANSIONS", "expand_composites"]

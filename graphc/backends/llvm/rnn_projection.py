"""The LLVM backend's rule (stage 'expanded') that moves a recurrence's input projection into
its kernel: simple_rnn_seq / lstm_seq / gru_seq(P, ...) with P = x @ W + bx (graphc.nn_api's
`project`: a matmul of x's (batch * time)-row reshape, or of x itself when the length is a
run-time size, plus the bias) becomes <op>_projected(x, W, bx, ...)
(graphc/ops/recurrent_projected.py), when nothing else reads P's values. The kernel then
computes x_t @ W + bx for its block of rows just before each step's recurrent GEMM: P, a
tensor of the sequence's size (26 MB for the bench's LSTM(128) at 200 steps), is never written
and read back.
"""

from __future__ import annotations

from graphc.ir import Graph, Node, toposort
from graphc.ops import VIEWS, call, data_inputs
from graphc.ops.recurrent_projected import PROJECTED
from passes.rewrite import RuleTable, rewrite_graph

FLOATS = ("float32", "float64")


def value_readers(graph: Graph) -> dict:
    """{id(node): the number of nodes that read its values}: an output counts once; a
    shape-only input (a zero state's broadcast_like of P's step 0) and a view whose own values
    nobody reads do not count."""
    readers = {id(r): 1 for r in graph.roots}
    for node in reversed(toposort(graph.roots)):
        if node.op in VIEWS and not readers.get(id(node)):
            continue
        for i in data_inputs(node):
            readers[id(i)] = readers.get(id(i), 0) + 1
    return readers


PROJECTION = RuleTable("recurrences project their inputs", context_of=value_readers)


def project_in_recurrences(graph: Graph) -> Graph:
    """The graph with each recurrence's input projection inside its op, where it can be."""
    return rewrite_graph(graph, PROJECTION)


def read_once(node: Node, readers: dict) -> bool:
    return readers.get(id(node)) == 1


def sum_parts(P: Node, readers: dict):
    """(matmul, bias) when P = matmul + bias (either order) read by one node, else None."""
    if P.op != "add" or not read_once(P, readers):
        return None
    for product, bias in (P.inputs, P.inputs[::-1]):
        if product.op == "matmul" and read_once(product, readers) and bias.ndim == 1:
            return product, bias
    return None


def unfolded(x: Node, steps):
    """x (batch, steps, features) when x is that tensor's (batch * steps)-row reshape."""
    if x.op != "reshape" or x.inputs[0].ndim != 3 or x.ndim != 2:
        return None
    whole = x.inputs[0]
    return whole if isinstance(steps, int) and whole.shape[1] == steps else None


def projection(P: Node, readers: dict):
    """(x, W, bx) when P = x @ W + bx, x (batch, time, features) and W with static rows, and
    only the recurrence reads P's values; else None."""
    folded = P.op == "reshape" and P.ndim == 3
    parts = sum_parts(P.inputs[0] if folded else P, readers)
    if parts is None or not read_once(P, readers) or P.dtype not in FLOATS:
        return None
    (product, bx), steps = parts, P.shape[1]
    if product.attr("transpose_a") or product.attr("transpose_b"):
        return None
    x, W = product.inputs
    x = unfolded(x, steps) if folded else x
    if x is None or x.ndim != 3 or W.ndim != 2 or not fits(x, W, bx):
        return None
    return x, W, bx


def fits(x: Node, W: Node, bx: Node) -> bool:
    """Whether the projected op can take x, W and bx as they are: W's rows static and nonzero
    (the kernels tell a projected recurrence by its feature count), x's features equal to W's
    rows (not rows folded to another width), bx as wide as W (not a broadcasting bias)."""
    rows = W.shape[0]
    return (isinstance(rows, int) and rows > 0 and x.shape[2] == rows
            and bx.shape[0] == W.shape[1])


@PROJECTION.register(*PROJECTED, uses_context=True)
def projection_inside(node: Node, readers: dict) -> Node | None:
    """<op>(x @ W + bx, ...) -> <op>_projected(x, W, bx, ...)"""
    parts = projection(node.inputs[0], readers)
    if parts is None:
        return None
    return call(PROJECTED[node.op], *parts, *node.inputs[1:], **node.attr_dict)

"""The LLVM backend's rules (stage 'expanded', after passes/expand.py's composites) for the
gradients of a recurrence's input kernel W and bias b, where P = x @ W + b feeds a recurrent
op: autodiff builds x^T @ reshape(G[:, :, a:b]), a GEMM (batch * time) deep over a copy of a
slice of the BPTT op's output G (GRU: a concatenation of two slices), and a sum of the same
copy. The rules make them recurrent_input_kernel_grad(x, G, a, b), whose kernel
(rnn_weight_grad.py) reads G in place in chunks that stay in cache, and a sum of G's slice,
which a loop kernel reads in place: the copy, a write and a read of a tensor of the
sequence's size, is gone. The same stage also moves the forward recurrences' input projection
into their kernels (rnn_projection.py)."""

from __future__ import annotations

from graphc.backends.llvm.rnn_projection import project_in_recurrences
from graphc.ir import Graph, Node
from graphc.ops import call, normalize_axes
from passes.rewrite import RuleTable, rewrite_graph

BPTT_OPS = ("simple_rnn_seq_grad", "lstm_seq_grad", "gru_seq_grad")
EVERY = ("slice", None, None, None)
IN_PLACE = RuleTable("recurrent gradients read in place")


def read_bptt_in_place(graph: Graph) -> Graph:
    """The graph with the input kernel's and bias's gradients read from G in place (and the
    forward recurrences projecting their own inputs)."""
    return rewrite_graph(project_in_recurrences(graph), IN_PLACE)


def bptt_slice(node: Node):
    """(G, a, b) when node is G[:, :, a:b] of a BPTT op's output G, else None."""
    if node.op != "getitem" or node.inputs[0].op not in BPTT_OPS:
        return None
    G, index = node.inputs[0], node.attr("index")
    if len(index) != 3 or tuple(index[:2]) != (EVERY, EVERY) or index[2][0] != "slice":
        return None
    _, start, stop, step = index[2]
    start, stop = start or 0, G.shape[2] if stop is None else stop
    if step not in (None, 1) or not 0 <= start < stop <= G.shape[2]:
        return None
    return G, start, stop


def bptt_columns(node: Node):
    """[(G, a, b), ...]: the BPTT slices that node's last axis is made of, else None."""
    parts = node.inputs if node.op == "concatenate" and node.attr("axis") in (2, -1) else [node]
    slices = [bptt_slice(part) for part in parts]
    return None if None in slices else slices


def bptt_rows(g: Node):
    """The BPTT slices of g = reshape(slices, (batch * time, width)), else None (another
    reshape, e.g. (batch, time * width), is not a row per step)."""
    slices = bptt_columns(g.inputs[0])
    if slices is None or g.shape[1] != sum(b - a for _, a, b in slices):
        return None
    return slices


@IN_PLACE.register("matmul")
def input_kernel_grad_in_place(node: Node) -> Node | None:
    """x^T @ reshape(G[:, :, a:b]) -> recurrent_input_kernel_grad(x, G, a, b)"""
    # a concatenation of slices (GRU) gives the concatenation of their gradients
    x, g = node.inputs
    if (not node.attr("transpose_a") or node.attr("transpose_b") or x.ndim != 2
            or g.op != "reshape" or g.ndim != 2 or g.inputs[0].ndim != 3
            or node.dtype not in ("float32", "float64")):
        return None
    slices = bptt_rows(g)
    if slices is None:
        return None
    grads = [call("recurrent_input_kernel_grad", x, G, start=a, stop=b) for G, a, b in slices]
    return grads[0] if len(grads) == 1 else call("concatenate", *grads, axis=1)


@IN_PLACE.register("sum")
def bias_grad_in_place(node: Node) -> Node | None:
    """sum(reshape(G[:, :, a:b]), axis=0) -> sum(G[:, :, a:b], axis=(0, 1))"""
    # a loop kernel reads the slice in place; a concatenation of slices: of their sums
    (g,) = node.inputs
    if (node.attr("keepdims") or g.op != "reshape" or g.ndim != 2 or g.inputs[0].ndim != 3
            or normalize_axes(node.attr("axis"), 2) != (0,)):
        return None
    slices = bptt_rows(g)
    if slices is None:
        return None
    sums = [call("sum", call("getitem", G, index=(EVERY, EVERY, ("slice", a, b, None))),
                 axis=(0, 1), keepdims=False) for G, a, b in slices]
    return sums[0] if len(sums) == 1 else call("concatenate", *sums, axis=0)

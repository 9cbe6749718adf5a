"""The LLVM backend's rules (stage 'expanded', after passes/expand.py's composites) for the
gradients of a recurrence's input kernel W and bias b, where P = x @ W + b feeds a recurrent
op: autodiff builds x^T @ reshape(G[:, :, a:b]), a GEMM (batch * time) deep over a copy of a
slice of the BPTT op's output G (GRU: a concatenation of two slices), and a sum of the same
copy. The rules make them recurrent_input_kernel_grad(x, G, a, b), whose kernel
(rnn_weight_grad.py) reads G in place in chunks that stay in cache, and a sum of G's slice,
which a loop kernel reads in place: the copy, a write and a read of a tensor of the
sequence's size, is gone. Where both read the same slice (SimpleRNN, LSTM), they are one
recurrent_input_kernel_grad(..., bias=True), whose last row is the bias gradient, summed from
each chunk of G's rows while the GEMM has it in cache: the separate sum, a pass over G's slice
column block by column block, cost ~9% of the LSTM step at 200 steps. The same stage also
moves the forward recurrences' input projection into their kernels (rnn_projection.py)."""

from __future__ import annotations

from graphc.ir import Graph, Node
from graphc.ops import call, normalize_axes
from passes.rewrite import RuleTable, rewrite_graph

BPTT_OPS = ("simple_rnn_seq_grad", "lstm_seq_grad", "gru_seq_grad")
EVERY = ("slice", None, None, None)


def shared_slices(graph: Graph) -> dict:
    """The rules' context: 'pairs', {(id(G), a, b): x} for the slices G[:, :, a:b] that one
    input-kernel gradient (of x) and a bias sum both read; 'fused', the node made for each."""
    kernels, sums = {}, set()
    for node in graph.nodes():
        found = input_kernel_match(node) if node.op == "matmul" else None
        if found is not None and len(found[1]) == 1:
            key = slice_key(*found[1][0])
            kernels[key] = None if key in kernels else found[0]  # two readers: neither fuses
        found = bias_match(node) if node.op == "sum" else None
        if found is not None and len(found) == 1:
            sums.add(slice_key(*found[0]))
    return {"pairs": {k: x for k, x in kernels.items() if k in sums and x is not None},
            "fused": {}}


def slice_key(G, a, b):
    return id(G), a, b


IN_PLACE = RuleTable("recurrent gradients read in place", context_of=shared_slices)


def read_bptt_in_place(graph: Graph) -> Graph:
    """The graph with the input kernel's and bias's gradients read from G in place."""
    return rewrite_graph(graph, IN_PLACE)


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


def input_kernel_match(node: Node):
    """(x, [(G, a, b), ...]) when node = x^T @ reshape(BPTT slices), else None."""
    x, g = node.inputs
    if (not node.attr("transpose_a") or node.attr("transpose_b") or x.ndim != 2
            or g.op != "reshape" or g.ndim != 2 or g.inputs[0].ndim != 3
            or node.dtype not in ("float32", "float64")):
        return None
    slices = bptt_rows(g)
    return None if slices is None else (x, slices)


def bias_match(node: Node):
    """[(G, a, b), ...] when node = sum(reshape(BPTT slices), axis=0), else None."""
    (g,) = node.inputs
    if (node.attr("keepdims") or g.op != "reshape" or g.ndim != 2 or g.inputs[0].ndim != 3
            or normalize_axes(node.attr("axis"), 2) != (0,)):
        return None
    return bptt_rows(g)


def with_bias_row(G, a, b, context):
    """The recurrent_input_kernel_grad(x, G, a, b, bias=True) of a shared slice (made once),
    else None."""
    key = slice_key(G, a, b)
    if context is None or key not in context["pairs"]:
        return None
    fused = context["fused"]
    if key not in fused:
        fused[key] = call("recurrent_input_kernel_grad", context["pairs"][key], G, start=a,
                          stop=b, bias=True)
    return fused[key]


@IN_PLACE.register("matmul", uses_context=True)
def input_kernel_grad_in_place(node: Node, context=None) -> Node | None:
    """x^T @ reshape(G[:, :, a:b]) -> recurrent_input_kernel_grad(x, G, a, b)"""
    # a concatenation of slices (GRU) gives the concatenation of their gradients
    found = input_kernel_match(node)
    if found is None:
        return None
    x, slices = found
    fused = with_bias_row(*slices[0], context) if len(slices) == 1 else None
    if fused is not None:  # its rows but the last, the bias gradient's
        return call("getitem", fused, index=(("slice", 0, x.shape[1], None), EVERY))
    grads = [call("recurrent_input_kernel_grad", x, G, start=a, stop=b) for G, a, b in slices]
    return grads[0] if len(grads) == 1 else call("concatenate", *grads, axis=1)


@IN_PLACE.register("sum", uses_context=True)
def bias_grad_in_place(node: Node, context=None) -> Node | None:
    """sum(reshape(G[:, :, a:b]), axis=0) -> sum(G[:, :, a:b], axis=(0, 1))"""
    # or the last row of the input kernel's gradient that reads the same slice; a loop kernel
    # reads the slice in place; a concatenation of slices: of their sums
    slices = bias_match(node)
    if slices is None:
        return None
    fused = with_bias_row(*slices[0], context) if len(slices) == 1 else None
    if fused is not None:
        return call("getitem", fused, index=(("int", fused.shape[0] - 1), EVERY))
    sums = [call("sum", call("getitem", G, index=(EVERY, EVERY, ("slice", a, b, None))),
                 axis=(0, 1), keepdims=False) for G, a, b in slices]
    return sums[0] if len(sums) == 1 else call("concatenate", *sums, axis=0)

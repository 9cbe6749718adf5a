"""The conv-bias gradient fused into the weight gradient (issue 13, item 3), a rewrite of the
LLVM backend's 'expanded' stage.

A training graph sums a convolution's output gradient g over every axis but the channels (the
bias gradient) and also feeds g to conv{r}d_weight_grad(x, g). Where the weight-gradient kernel
reads g in a pass of its own (the register-blocked direct kernel of first layers, the
implicit-GEMM kernel's extended rows, 'valid' or padded), both become views of one
conv{r}d_weight_bias_grad(x, g) whose kernel adds each g vector into the bias sum as it reads
it: the separate reduction over N * H * W is gone. When g is a ReLU's masked gradient
where(y > 0, g', 0) that nothing else reads (a first layer, whose input gradient is not
needed), the op is
conv{r}d_relu_weight_bias_grad(x, y, g'): the mask is applied as g' is read, and the masked
gradient is never written.
"""

from __future__ import annotations

from graphc.backends.llvm.conv_blocking import weight_grad_applies
from graphc.backends.llvm.conv_gemm import DIRECT_BELOW, conv_geometry, kernel_shape
from graphc.backends.llvm.rnn_input_grad import read_bptt_in_place
from graphc.ir import Graph
from graphc.ops import call, make_node, normalize_axes
from graphc.ops.rebuild import transform
from passes.expand import expand_composites
from passes.rewrite import constant_value

WEIGHT_GRADS = {"conv1d_weight_grad": 1, "conv2d_weight_grad": 2}  # op -> rank


def fused_op(weight_grad, masked: bool) -> str:
    return f"conv{WEIGHT_GRADS[weight_grad.op]}d_{'relu_' if masked else ''}weight_bias_grad"


def expand_for_llvm(graph: Graph) -> Graph:
    """The 'expanded' stage: passes.expand's composites, recurrent gradients read in place
    (rnn_input_grad.py), then the fused bias gradients."""
    return fuse_bias_grads(read_bptt_in_place(expand_composites(graph)))


def fuses(node) -> bool:
    """Static sizes and a kernel that reads g in a pass of its own (emit_conv_grad), for a
    weight gradient (x, g) or a fused node (x, [y,] g)."""
    x, g = node.inputs[0], node.inputs[-1]
    if node.dtype not in ("float32", "float64"):  # bfloat16 runs in conv_bf16's kernels
        return False
    if None in x.shape[1:] or None in g.shape[1:]:
        return False
    geometry = conv_geometry(node, x.shape, kernel_shape(node))
    return geometry.K < DIRECT_BELOW or weight_grad_applies(geometry, node.shape[-1], node.dtype)


def is_bias_sum(node, g) -> bool:
    """sum(g) over every axis but the last, the channels."""
    return (node.op == "sum" and node.inputs[0] is g and node.dtype == g.dtype
            and normalize_axes(node.attr("axis"), g.ndim) == tuple(range(g.ndim - 1)))


def relu_masked(g, readers: int):
    """(y, g') if g = where(y > 0, g', 0) elementwise and only `readers` nodes read g."""
    if g.op != "where" or readers != 2:
        return None
    cond, value, other = g.inputs
    if cond.op != "greater" or constant_value(other) != 0 or constant_value(cond.inputs[1]) != 0:
        return None
    y = cond.inputs[0]
    same = y.shape == value.shape == g.shape and y.dtype == value.dtype == g.dtype
    return (y, value) if same and cond.inputs[1].ndim == 0 and other.ndim == 0 else None


def fusion_plan(graph: Graph) -> dict:
    """{id(node): (node, weight gradient, bias sum, the fused op's inputs)} for both nodes of
    every fusable pair."""
    sums, readers = {}, {id(r): 1 for r in graph.roots}  # an output is read by the caller
    for node in graph.nodes():
        if node.op == "sum":
            sums.setdefault(id(node.inputs[0]), []).append(node)
        for i in node.inputs:
            readers[id(i)] = readers.get(id(i), 0) + 1
    plan = {}
    for node in graph.nodes():
        if node.op in WEIGHT_GRADS and fuses(node):
            g = node.inputs[1]
            bias_sum = next((s for s in sums.get(id(g), ()) if is_bias_sum(s, g)), None)
            if bias_sum is not None:
                masked = relu_masked(g, readers.get(id(g), 0))
                inputs = (node.inputs[0], *masked) if masked else tuple(node.inputs)
                plan[id(node)] = (node, node, bias_sum, inputs)
                plan[id(bias_sum)] = (bias_sum, node, bias_sum, inputs)
    return plan


def fuse_bias_grads(graph: Graph) -> Graph:
    """Each planned pair as views of one weight_bias_grad node (see the module doc)."""
    plan = fusion_plan(graph)
    if not plan:
        return graph
    made = {}

    def rewrite(node):
        entry = plan.get(id(node))
        if entry is None or entry[0] is not node:  # rebuilt with new inputs: left as it is
            return None
        _, weight_grad, bias_sum, inputs = entry
        both = made.get(id(weight_grad))
        if both is None:
            both = made[id(weight_grad)] = make_node(
                fused_op(weight_grad, len(inputs) == 3), inputs, weight_grad.attr_dict,
                site=weight_grad.site)
        rows = both.shape[0] - 1
        if node is bias_sum:
            return call("reshape", call("getitem", both, index=(("int", rows),)),
                        shape=bias_sum.shape)
        top = call("getitem", both, index=(("slice", 0, rows, 1),))
        return call("reshape", top, shape=weight_grad.shape)

    return transform(graph, rewrite)

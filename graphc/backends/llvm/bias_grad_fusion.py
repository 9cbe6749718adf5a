"""The conv-bias gradient fused into the weight gradient (issue 13, item 3), a rewrite of the
LLVM backend's 'expanded' stage.

A training graph sums a convolution's output gradient g over every axis but the channels (the
bias gradient) and also feeds g to conv{r}d_weight_grad(x, g). Where the weight-gradient kernel
reads g in a pass of its own (the register-blocked direct kernel of first layers, the
implicit-GEMM kernel's extended rows), both become views of one conv{r}d_weight_bias_grad(x, g)
whose kernel adds each g vector into the bias sum as it reads it: the separate reduction over
N * H * W is gone (a ReLU mask before it stays an elementwise pass).
"""

from __future__ import annotations

from graphc.backends.llvm.conv_gemm import DIRECT_BELOW, conv_geometry, implicit_applies
from graphc.ir import Graph
from graphc.ops import call, make_node, normalize_axes
from graphc.ops.rebuild import transform
from passes.expand import expand_composites

WEIGHT_GRADS = {"conv1d_weight_grad": "conv1d_weight_bias_grad",
                "conv2d_weight_grad": "conv2d_weight_bias_grad"}


def expand_for_llvm(graph: Graph) -> Graph:
    """The 'expanded' stage: passes.expand's composites, then the fused bias gradients."""
    return fuse_bias_grads(expand_composites(graph))


def fuses(weight_grad) -> bool:
    """Static sizes and a kernel that reads g in a pass of its own (emit_conv_grad)."""
    x, g = weight_grad.inputs
    if None in x.shape[1:] or None in g.shape[1:]:
        return False
    geometry = conv_geometry(weight_grad, x.shape, weight_grad.shape)
    return geometry.K < DIRECT_BELOW or implicit_applies(geometry)


def is_bias_sum(node, g) -> bool:
    """sum(g) over every axis but the last, the channels."""
    return (node.op == "sum" and node.inputs[0] is g and node.dtype == g.dtype
            and normalize_axes(node.attr("axis"), g.ndim) == tuple(range(g.ndim - 1)))


def fusion_plan(graph: Graph) -> dict:
    """{id(node): (node, weight gradient, bias sum)} for both nodes of every fusable pair."""
    sums = {}
    for node in graph.nodes():
        if node.op == "sum":
            sums.setdefault(id(node.inputs[0]), []).append(node)
    plan = {}
    for node in graph.nodes():
        if node.op in WEIGHT_GRADS and fuses(node):
            g = node.inputs[1]
            bias_sum = next((s for s in sums.get(id(g), ()) if is_bias_sum(s, g)), None)
            if bias_sum is not None:
                plan[id(node)] = (node, node, bias_sum)
                plan[id(bias_sum)] = (bias_sum, node, bias_sum)
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
        _, weight_grad, bias_sum = entry
        both = made.get(id(weight_grad))
        if both is None:
            both = made[id(weight_grad)] = make_node(
                WEIGHT_GRADS[weight_grad.op], tuple(weight_grad.inputs), weight_grad.attr_dict,
                site=weight_grad.site)
        rows = both.shape[0] - 1
        if node is bias_sum:
            return call("reshape", call("getitem", both, index=(("int", rows),)),
                        shape=bias_sum.shape)
        top = call("getitem", both, index=(("slice", 0, rows, 1),))
        return call("reshape", top, shape=weight_grad.shape)

    return transform(graph, rewrite)

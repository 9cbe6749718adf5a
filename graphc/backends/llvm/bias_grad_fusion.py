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
In bfloat16 (conv_bf16.py's kernels, conv_bf16_bias.py) the bias gradient is the float32 sum
of g's values rounded to bfloat16, cast(sum(cast(g, float32)), bfloat16): that rounding is the
node replaced, and the ReLU mask is not fused.
"""

from __future__ import annotations

from graphc.backends.llvm.conv_blocking import weight_grad_applies
from graphc.backends.llvm.conv_gemm import DIRECT_BELOW, conv_geometry, kernel_shape
from graphc.backends.llvm.rnn_input_grad import read_bptt_in_place
from graphc.backends.llvm.rnn_projection import project_in_recurrences
from graphc.ir import Graph
from graphc.ops import call, make_node, normalize_axes
from graphc.ops.rebuild import transform
from passes.expand import expand_composites
from passes.rewrite import constant_value

WEIGHT_GRADS = {"conv1d_weight_grad": 1, "conv2d_weight_grad": 2}  # op -> rank
FLOATS = ("float32", "float64", "bfloat16")


def fused_op(weight_grad, masked: bool) -> str:
    return f"conv{WEIGHT_GRADS[weight_grad.op]}d_{'relu_' if masked else ''}weight_bias_grad"


def expand_for_llvm(graph: Graph) -> Graph:
    """The 'expanded' stage: passes.expand's composites, recurrences projecting their own
    inputs (rnn_projection.py), recurrent gradients read in place (rnn_input_grad.py), then the
    fused bias gradients."""
    return fuse_bias_grads(read_bptt_in_place(project_in_recurrences(expand_composites(graph))))


def fuses(node) -> bool:
    """Static sizes and a kernel that reads g in a pass of its own (emit_conv_grad; every
    bfloat16 kernel of conv_bf16.py), for a weight gradient (x, g) or a fused node (x, [y,] g)."""
    x, g = node.inputs[0], node.inputs[-1]
    if None in x.shape[1:] or None in g.shape[1:] or node.dtype not in FLOATS:
        return False
    if node.dtype == "bfloat16":
        return len(node.inputs) == 2  # the ReLU mask is not applied in conv_bf16's kernels
    geometry = conv_geometry(node, x.shape, kernel_shape(node))
    return geometry.K < DIRECT_BELOW or weight_grad_applies(geometry, node.shape[-1], node.dtype)


def is_bias_sum(node, g) -> bool:
    """sum(g) over every axis but the last, the channels (bfloat16 g: the float32 sum of its
    values, as the cast of a bfloat16 gradient to its float32 bias computes it)."""
    return (node.op == "sum" and values_of(node.inputs[0]) is values_of(g)
            and node.dtype == ("float32" if g.dtype == "bfloat16" else g.dtype)
            and normalize_axes(node.attr("axis"), g.ndim) == tuple(range(g.ndim - 1)))


def values_of(node):
    """The bfloat16 node whose values `node` holds unchanged (a float32 widening of it; a
    round trip back to bfloat16 is gone: passes.simplify's exact_round_trip), else node."""
    if node.op == "cast" and node.dtype == "float32" and node.inputs[0].dtype == "bfloat16":
        return node.inputs[0]
    return node


def bias_node(weight_grad, bias_sum, casts: dict, readers: dict):
    """What the fused row replaces: the sum, or for a bfloat16 weight gradient the rounding of
    the float32 sum to bfloat16 that alone reads it (None if anything else reads the sum)."""
    if weight_grad.dtype != "bfloat16":
        return bias_sum
    narrowed = casts.get(id(bias_sum), [])
    return narrowed[0] if len(narrowed) == 1 == readers.get(id(bias_sum)) else None


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
    """{id(node): (node, weight gradient, bias node, the fused op's inputs)} for both nodes of
    every fusable pair (the bias node: bias_node's)."""
    sums, casts = {}, {}
    readers = {id(r): 1 for r in graph.roots}  # an output is read by the caller
    for node in graph.nodes():
        if node.op == "sum":
            sums.setdefault(id(values_of(node.inputs[0])), []).append(node)
        if node.op == "cast" and node.dtype == "bfloat16":
            casts.setdefault(id(node.inputs[0]), []).append(node)
        for i in node.inputs:
            readers[id(i)] = readers.get(id(i), 0) + 1
    plan = {}
    for node in graph.nodes():
        if node.op in WEIGHT_GRADS and fuses(node):
            g = node.inputs[1]
            bias_sum = next((s for s in sums.get(id(values_of(g)), ()) if is_bias_sum(s, g)),
                            None)
            bias = None if bias_sum is None else bias_node(node, bias_sum, casts, readers)
            if bias is not None:
                masked = node.dtype != "bfloat16" and relu_masked(g, readers.get(id(g), 0))
                inputs = (node.inputs[0], *masked) if masked else tuple(node.inputs)
                plan[id(node)] = (node, node, bias, inputs)
                plan[id(bias)] = (bias, node, bias, inputs)
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

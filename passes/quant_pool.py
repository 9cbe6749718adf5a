"""A max pooling of a quantized convolution's result becomes the convolution's own `pool`
(graphc/ops/quant_conv.py), so the kernel pools each window as it computes it and the
pre-pooling image is never stored: a rule of the ALGEBRA table (passes/simplify.py).

Only poolings whose windows tile the result (strides = pool size, no padding) fuse, as the
float convolution's (passes/fuse_groups.tiles_the_image). A convolution that something else
reads too is then computed twice (rare: a quantized model pools what it convolves)."""

from __future__ import annotations

from graphc.ir import Node
from graphc.ops import make_node
from passes.simplify import ALGEBRA


@ALGEBRA.register("max_pool1d", "max_pool2d")
def pool_inside_quantized_conv(node: Node) -> Node | None:
    """max_pool(quantized_conv(x), p, strides=p, valid) -> quantized_conv(x, pool=p)."""
    conv = node.inputs[0]
    if conv.op != f"quantized_conv{node.ndim - 2}d" or conv.attr("pool") is not None:
        return None
    size = tuple(node.attr("pool_size"))
    if tuple(node.attr("strides")) != size or any(tuple(p) != (0, 0)
                                                  for p in node.attr("padding")):
        return None
    attrs = dict(conv.attr_dict, pool=size)
    return make_node(conv.op, conv.inputs, attrs, site=conv.site)

"""A graphc inference graph -> an ONNX model: one emitter per graphc op (the table below),
every op checked before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from graphc.ir import Graph, GraphError, Node, toposort
from graphc.onnx import (
    emit_attention,
    emit_math,
    emit_nn,
    emit_quant,
    emit_recurrent,
    emit_shape,
)
from graphc.onnx.builder import OnnxBuilder, layer_label, value_info
from graphc.onnx.recurrent_sources import SEQUENCE_OPS, recurrent_sources
from graphc.ops.leaves import leaf_value

EMITTERS = {
    **emit_math.EMITTERS, **emit_shape.EMITTERS, **emit_nn.EMITTERS, **emit_recurrent.EMITTERS,
    **emit_attention.EMITTERS, **emit_quant.EMITTERS,
}
VALUE_LEAVES = ("constant", "shared")
BATCH = "batch"  # the name of the dynamic batch size in the model's inputs and outputs


class OnnxExportError(GraphError, ValueError):
    """A graph holds ops that ONNX cannot express; the message lists every one."""


@dataclass(frozen=True)
class Problem:
    node: Node
    reason: str

    def __str__(self):
        node = self.node
        return f"  - {layer_label(node, {})} (op {node.op!r}, built at {node.site}): {self.reason}"


def node_problem(node: Node) -> str | None:
    """Why `node` cannot be written as ONNX, or None."""
    if node.op in VALUE_LEAVES or node.op == "placeholder":
        return None
    source = node.inputs[0] if node.inputs else None
    if node.op == "getitem" and source.op in emit_recurrent.PACKED_OPS:
        return emit_recurrent.slot_read_problem(node)
    if any(i.op in emit_recurrent.PACKED_OPS for i in node.inputs):
        return "reads a recurrent op's packed output other than by slicing h (or the last c)"
    if node.op not in EMITTERS:
        return "ONNX has no equivalent of this op"
    if node.op == "masked_softmax" and node.attr("causal") and None in node.shape[-2:]:
        return f"a causal mask needs static query and key lengths, got {node.shape}"
    return None


def problems_of(graph: Graph) -> list[Problem]:
    """Every node ONNX cannot express, every state update, every packed recurrent output."""
    found = [Problem(n, why) for n in graph.nodes() if (why := node_problem(n)) is not None]
    found += [
        Problem(out, "a graph output is a recurrent op's packed tensor")
        for out in graph.outputs if out.op in emit_recurrent.PACKED_OPS
    ]
    found += [
        Problem(var, "the function updates this variable (stateful layers, training steps); "
                     "an ONNX model has no state between runs")
        for var, _ in graph.updates
    ]
    return found


def check_exportable(graph: Graph, what: str) -> None:
    problems = problems_of(graph)
    if problems:
        listing = "\n".join(str(p) for p in problems)
        raise OnnxExportError(
            f"cannot export {what} to ONNX: {len(problems)} part(s) ONNX cannot express:\n{listing}"
        )


def to_onnx(graph: Graph, opset: int, name: str) -> onnx.ModelProto:
    """The ONNX model computing `graph`'s outputs from its inputs (check_exportable first)."""
    b = OnnxBuilder(opset)
    values, inputs, labels = {}, [], {}
    for k, p in enumerate(graph.inputs):
        values[p] = labels[id(p)] = b.fresh(p.name or f"input_{k}")
        inputs.append(value_info(values[p], p, BATCH))
    needed = {id(n) for n in toposort(graph.outputs, sources)}
    for node in graph.nodes():
        if node in values or id(node) not in needed:
            continue
        b.label = labels[id(node)] = layer_label(node, labels)
        values[node] = emit_node(b, node, [values[i] for i in sources(node)])
    outputs = []
    for k, out in enumerate(graph.outputs):
        result = b.rename(values[out], f"output_{k}")
        outputs.append(value_info(result, out, BATCH))
    return b.model(inputs, outputs, name)


def sources(node: Node) -> list:
    """The graph values the ONNX form of `node` reads: its inputs, except that a recurrent
    node reads its layer's input and weights instead of their projection."""
    if node.op in SEQUENCE_OPS:
        return [source for _, source in recurrent_sources(node).roles()]
    return list(node.inputs)


def emit_node(b: OnnxBuilder, node: Node, ins: list) -> str:
    if node.op in VALUE_LEAVES:
        return b.const(leaf_value(node), hint=node.name or node.op)
    if node.op == "getitem" and node.inputs[0].op in emit_recurrent.PACKED_OPS:
        return emit_recurrent.emit_slot_read(b, node, ins)
    return EMITTERS[node.op](b, node, ins)

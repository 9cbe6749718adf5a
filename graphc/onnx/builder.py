"""The ONNX graph being written: value names, nodes, initializers, named after graphc's layers.

Emitters (graphc/onnx/emit_*.py) call `add` for each ONNX node they write and `const` for each
constant tensor; the builder gives every value a unique name and every node a name that starts
with the layer it came from ('dense_1/MatMul_3'), so ONNX viewers show the model's layers.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graphc.ir import Node

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def elem_type(dtype) -> int:
    """The ONNX element type of a NumPy dtype name."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def layer_label(node: Node, labels: dict) -> str:
    """The layer a graphc node belongs to: its own name, else the layer part of a weight it
    reads ('dense_1/kernel' -> 'dense_1'), else the label of its first computed input (an
    activation is its Dense layer's), else its op. `labels` holds the labels given so far."""
    if node.name:
        return node.name
    for source in node.inputs:
        if source.op == "shared" and source.name:
            return source.name.split("/")[0]
    for source in node.inputs:
        if source.op not in ("constant", "shared") and id(source) in labels:
            return labels[id(source)]
    return node.op


class OnnxBuilder:
    """Collects the nodes and initializers of one ONNX graph for a given opset."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.used_names: set = set()
        self.label = "graph"  # the layer of the graphc node being emitted
        self.sequences: dict = {}  # recurrent sequence node -> the ONNX values of its slots

    def fresh(self, hint: str) -> str:
        """A value or node name not used before, built from `hint`."""
        base = hint.replace(":", "_") or "v"
        name, k = base, 0
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    def add(self, op_type: str, inputs, outputs: int = 1, **attrs):
        """Write one node; returns its output name (or the list of names when outputs > 1).
        An input given as "" is an omitted optional input."""
        names = [self.fresh(f"{self.label}/{op_type}") for _ in range(outputs)]
        node = helper.make_node(
            op_type, list(inputs), names, name=self.fresh(f"{self.label}/{op_type}_node"),
            **{k: v for k, v in attrs.items() if v is not None},
        )
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    @contextmanager
    def subgraph(self):
        """Collects the nodes written inside the `with` block in the list it yields (a Scan's
        body); constants still go to the outer graph, which a body may read."""
        outer, self.nodes = self.nodes, []
        try:
            yield self.nodes
        finally:
            self.nodes = outer

    def rename(self, value: str, name: str) -> str:
        """An Identity node whose output is named `name` (or a free variant of it)."""
        out = self.fresh(name)
        self.nodes.append(helper.make_node("Identity", [value], [out], name=self.fresh(name)))
        return out

    def const(self, value, dtype=None, hint: str = "const") -> str:
        """An initializer holding `value` (as `dtype` when given); returns its name."""
        array = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array.copy(order="C"), name))
        return name

    def ints(self, values) -> str:
        """A 1-D int64 constant, as ONNX wants for shapes, axes, pads and slice bounds."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint=f"{self.label}/ints")

    def scalar(self, value, dtype) -> str:
        return self.const(np.asarray(value, dtype=dtype), hint=f"{self.label}/scalar")

    def transpose(self, x: str, perm) -> str:
        return self.add("Transpose", [x], perm=list(perm))

    def unsqueeze(self, x: str, axes) -> str:
        return self.add("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x: str, axes) -> str:
        return self.add("Squeeze", [x, self.ints(axes)])

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """A Reduce* node over `axes` (None: all): axes are an input from opset 18 (ReduceSum
        from 13), an attribute before."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.add(op_type, [x], keepdims=keep)
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.add(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.add(op_type, [x], axes=list(axes), keepdims=keep)

    def model(self, inputs, outputs, name: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(
            graph, producer_name="graphc", opset_imports=[helper.make_opsetid("", self.opset)]
        )
        model.ir_version = min(model.ir_version, IR_VERSION_FOR_ORT)
        return model


# onnxruntime reads models up to this IR version (onnx 1.23 writes 12 by default)
IR_VERSION_FOR_ORT = 10


def value_info(name: str, node: Node, batch_name: str) -> onnx.ValueInfoProto:
    """A graph input or output: a size known only at run time becomes the symbol `batch_name`
    on axis 0 and '<name>_dim<k>' elsewhere."""
    dims = [
        d if d is not None else (batch_name if k == 0 else f"{name}_dim{k}")
        for k, d in enumerate(node.shape)
    ]
    return helper.make_tensor_value_info(name, elem_type(node.dtype), dims)

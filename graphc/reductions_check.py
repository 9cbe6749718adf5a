"""max/min/argmax/argmin over an empty axis raise, as in NumPy, on every backend: they have no
identity, so a compiled kernel would otherwise return -inf/inf/0 for them."""

from __future__ import annotations

import math

from graphc.ir import Graph, toposort
from passes.symbols import concrete_shapes

NO_IDENTITY = ("max", "min", "argmax", "argmin")
MAX_REMEMBERED = 1024  # input-shape signatures known to be fine


class EmptyReductionCheck:
    """Called with a function's input arrays before each call; checks each new combination
    of input shapes once."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.reductions = [n for n in graph.nodes() if n.op in NO_IDENTITY]
        self.order = toposort([n.inputs[0] for n in self.reductions])
        self.checked: set = set()

    def __call__(self, arrays) -> None:
        if not self.reductions:
            return
        signature = tuple(a.shape for a in arrays)
        if signature in self.checked:
            return
        shapes = concrete_shapes(self.order, self.graph.inputs, arrays)
        for node in self.reductions:
            check_not_empty(node, shapes[id(node.inputs[0])])
        if len(self.checked) >= MAX_REMEMBERED:  # variable lengths: a new signature per call
            self.checked.clear()
        self.checked.add(signature)


def check_not_empty(node, shape: tuple) -> None:
    axis = node.attr("axis")
    reduced = range(len(shape)) if axis is None else \
        [a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)]
    if math.prod(shape[a] for a in reduced) == 0:
        raise ValueError(f"{node.op} over an empty axis: the input has shape {shape} and "
                         f"{node.op} has no identity (node built at {node.site})")

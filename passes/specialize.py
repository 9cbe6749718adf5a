"""A graph with some run-time (None) sizes of its inputs fixed: every node's shape is
inferred again, so broadcasts of a fixed size 1 and their gradients follow NumPy's rules."""

from __future__ import annotations

from graphc.ir import Graph
from graphc.ops import make_node
from graphc.ops.rebuild import transform


def with_input_sizes(graph: Graph, sizes: dict) -> Graph:
    """`graph` whose input k has size `sizes[(k, axis)]` on `axis` (each one a None size)."""
    placeholders = {}
    for k, p in enumerate(graph.inputs):
        shape = tuple(sizes.get((k, axis), d) for axis, d in enumerate(p.shape))
        placeholders[id(p)] = make_node("placeholder", (), {"shape": shape, "dtype": p.dtype},
                                        name=p.name, site=p.site)
    rebuilt = transform(graph, lambda node: placeholders.get(id(node)))
    return Graph(tuple(placeholders[id(p)] for p in graph.inputs), rebuilt.outputs,
                 rebuilt.updates)

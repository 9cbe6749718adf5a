"""The NumPy interpreter: the executable specification every compiled run is checked against.

It runs each node's reference implementation from the op table, in topological order.
"""

from __future__ import annotations

import numpy as np

from graphc.bfloat16 import widen
from graphc.ir import Graph, GraphError
from graphc.ops import OPS, Shaped
from passes.symbols import run_time_shape

REMEMBERED_SHAPES = 1024  # input-shape signatures whose run-time shape checks passed


class Interpreter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.order = graph.nodes()
        # nodes whose rule runs on each call's shapes: the llvm backend's checks, same errors
        self.run_time_checked = {id(n) for n in self.order
                                 if any(None in i.shape for i in n.inputs)}
        self.passed: set = set()

    def run(self, args) -> dict:
        env = {id(p): a for p, a in zip(self.graph.inputs, args)}
        signature = tuple(np.shape(a) for a in args)
        checked = self.run_time_checked if signature not in self.passed else ()
        for node in self.order:
            if id(node) in env:
                continue
            if node.op == "placeholder":
                raise GraphError(
                    f"placeholder {node.name or node!r} (built at {node.site}) is "
                    f"needed but is not one of the function's inputs"
                )
            if node.op == "shared":
                env[id(node)] = node.attr("storage").value
                continue
            values = [env[id(i)] for i in node.inputs]
            if id(node) in checked:
                run_time_shape(node, [Shaped(np.shape(v), i.dtype)
                                      for v, i in zip(values, node.inputs)])
            with np.errstate(all="ignore"):  # NaN and inf in data are not errors
                try:
                    result = OPS[node.op].impl(*widen(values), **node.attr_dict)
                except IndexError as err:  # an index computed in the graph
                    raise IndexError(f"{node.op}: {err} (node built at {node.site})") from None
            env[id(node)] = check(node, np.asarray(result, dtype=node.dtype))
        if len(self.passed) >= REMEMBERED_SHAPES:
            self.passed.clear()
        self.passed.add(signature)
        return env

    def __call__(self, *args):
        env = self.run(args)
        outputs = [np.array(env[id(o)]) for o in self.graph.outputs]
        new_values = [np.array(env[id(expr)]) for _, expr in self.graph.updates]
        for (var, _), value in zip(self.graph.updates, new_values):
            np.copyto(var.attr("storage").value, value)
        return outputs


def check(node, value: np.ndarray) -> np.ndarray:
    """The reference result must match the static shape: a mismatch is a bug in a shape rule."""
    if value.ndim != node.ndim or any(
        d is not None and d != v for d, v in zip(node.shape, value.shape)
    ):
        raise GraphError(
            f"{node.op} produced shape {value.shape}, its rule said {node.shape} "
            f"(node built at {node.site})"
        )
    return value


def compile(run) -> Interpreter:  # noqa: A001 - the backend protocol's name
    return Interpreter(run.last)

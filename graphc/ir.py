"""The graph IR: immutable nodes with static shapes, dtypes and the user's call site.

A `Node` is one op applied to input nodes; it is also the value that op produces
(every op has exactly one output). Leaves are placeholders, shared variables and
constants. Nodes never change after they are built: passes build new ones.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ml_dtypes  # noqa: F401 - registers NumPy's "bfloat16" dtype (the interpreter computes with it)
import numpy as np

DTYPES = ("float32", "float64", "int32", "int64", "bool", "bfloat16", "int8", "uint8")
FLOAT_DTYPES = ("float32", "float64", "bfloat16")
INT_DTYPES = ("int32", "int64")

Shape = tuple  # of int | None (None: known only at run time, e.g. the batch)

# Frames inside these folders are graphc's own; the call site is the first frame outside them.
_OWN_DIRS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), pkg) + os.sep
    for pkg in ("graphc", "frontend", "passes")
)


class GraphError(Exception):
    """Base class for errors raised while building or running a graph."""


class ShapeError(GraphError, ValueError):
    """Shapes that an op cannot accept."""


class DtypeError(GraphError, TypeError):
    """Dtypes that an op cannot accept."""


def user_site() -> str:
    """The first stack frame outside graphc/frontend/passes, as 'file:line'."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_OWN_DIRS) and "importlib" not in filename:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def normalize_dtype(dtype: Any) -> str:
    """A dtype name from graphc's set, or a DtypeError naming the choices."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return dtype  # most calls, while graphs are built and rebuilt: np.dtype() costs more
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in DTYPES:
        raise DtypeError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    return name


def shape_text(shape, unknown: str = "?") -> str:
    """`shape` written as a tuple, `unknown` standing for each size known only at run time."""
    dims = ", ".join(unknown if d is None else str(d) for d in shape)
    return f"({dims}{',' if len(shape) == 1 else ''})"


class Node:
    """One op applied to inputs; immutable. Also the symbolic value the op produces.

    Attributes:
        op: the op's name in the op table ('placeholder', 'add', 'matmul', ...).
        inputs: the input nodes.
        attrs: the op's static attributes, as a sorted tuple of (key, value) pairs.
        shape: static shape; None marks a dimension known only at run time.
        dtype: one of DTYPES.
        name: an optional user-given name.
        site: the user's 'file:line' where the node was built.
    """

    __slots__ = ("op", "inputs", "attrs", "shape", "dtype", "name", "site", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + node` defers to Node.__radd__

    def __init__(self, op, inputs, attrs, shape, dtype, name=None, site=None):
        for key, value in (
            ("op", op),
            ("inputs", tuple(inputs)),
            ("attrs", tuple(sorted(dict(attrs).items()))),
            ("shape", tuple(shape)),
            ("dtype", dtype),
            ("name", name),
            ("site", site or user_site()),
        ):
            object.__setattr__(self, key, value)

    def __setattr__(self, key, value):
        raise AttributeError(f"graphc nodes are immutable (tried to set {key!r})")

    def attr(self, key: str, default=None):
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def attr_dict(self) -> dict:
        return dict(self.attrs)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        label = f"{self.name}:" if self.name else ""
        return f"<{label}{self.op} {shape_text(self.shape)} {self.dtype}>"

    def __bool__(self):
        raise TypeError("a symbolic graphc value has no truth value; use gc.where for conditions")

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of {self!r}: first dimension is not known statically")
        return self.shape[0]

    def __iter__(self):
        raise TypeError(f"{self!r} is symbolic and cannot be iterated; index it instead")


# Operators, methods and properties are installed by the op table (graphc/ops/operators.py).


def toposort(outputs: Iterable, inputs_of=lambda node: node.inputs) -> list:
    """All nodes reachable from `outputs`, inputs before users (iterative, no recursion limit).

    `inputs_of` gives a node's inputs; other DAGs (e.g. the frontend's layer calls) pass their own.
    """
    order, seen = [], set()
    for root in outputs:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in seen:
                continue
            if expanded:
                seen.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((i, False) for i in reversed(inputs_of(node)) if id(i) not in seen)
    return order


@dataclass(frozen=True)
class Graph:
    """What a function computes: outputs and Theano-style updates of shared variables.

    `updates` pairs each shared-variable node with the expression of its new value.
    Passes are functions `Graph -> Graph`.
    """

    inputs: tuple
    outputs: tuple
    updates: tuple = ()

    @property
    def roots(self) -> tuple:
        return tuple(self.outputs) + tuple(expr for _, expr in self.updates)

    def nodes(self) -> list[Node]:
        """Every node, the targets of updates included (a variable may be written, not read)."""
        return toposort(self.roots + tuple(self.inputs) + tuple(v for v, _ in self.updates))

    def with_roots(self, roots) -> Graph:
        """The same graph with its outputs and update expressions replaced, in `roots` order."""
        roots = tuple(roots)
        n = len(self.outputs)
        updates = tuple((var, new) for (var, _), new in zip(self.updates, roots[n:]))
        return Graph(self.inputs, roots[:n], updates)

    def to_networkx(self):
        """A networkx.DiGraph over node ids, edges from input to user; node data holds the Node."""
        import networkx as nx

        g = nx.DiGraph()
        for node in self.nodes():
            g.add_node(id(node), node=node)
            for i in node.inputs:
                g.add_edge(id(i), id(node))
        return g

    def count(self, op: str | None = None) -> int:
        return sum(1 for n in self.nodes() if op is None or n.op == op)

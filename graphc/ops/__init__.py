"""The op table: every op is defined once, here and in the modules beside this one.

An `OpDef` holds an op's shape+dtype rule (`infer`), its NumPy reference
implementation (`impl`) and its gradient rule (`vjp`, written in graph ops).
Backends keep their own emitter tables keyed by the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.ir import DtypeError, GraphError, Node, ShapeError, normalize_dtype, user_site


@dataclass(frozen=True)
class OpDef:
    """One op. `kind` groups ops for the fusion passes:
    'leaf', 'elementwise', 'reduce', 'matmul', 'movement', 'nn', 'random', 'special'.

    infer(inputs, **attrs) -> (shape, dtype), raising ShapeError/DtypeError;
    impl(*arrays, **attrs) -> ndarray (the reference semantics);
    vjp(g, node) -> one gradient node (or None for zero) per input; None if not differentiable.
    """

    name: str
    infer: Callable
    impl: Callable
    vjp: Callable | None
    kind: str
    doc: str = ""

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None


OPS: dict[str, OpDef] = {}


def defop(name, *, infer, impl, vjp=None, kind="special", doc=""):
    """Register an op in the table (once: a second definition is a bug)."""
    if name in OPS:
        raise ValueError(f"op {name!r} is defined twice")
    OPS[name] = OpDef(name, infer, impl, vjp, kind, doc)
    return OPS[name]


def describe_inputs(inputs) -> str:
    return ", ".join(f"{tuple(i.shape)} {i.dtype}" for i in inputs) or "no inputs"


def make_node(op: str, inputs, attrs=None, *, name=None, site=None) -> Node:
    """Build a node of `op`, checking shapes and dtypes now; errors name the op,
    what it received and the user's file:line."""
    opdef = OPS.get(op)
    if opdef is None:
        raise GraphError(f"unknown op {op!r}")
    inputs = tuple(inputs)
    attrs = dict(attrs or {})
    site = site or user_site()
    try:
        shape, dtype = opdef.infer(inputs, **attrs)
    except (ShapeError, DtypeError) as err:
        detail = f"{op}: {err}. Received: {describe_inputs(inputs)}"
        if attrs:
            shown = {k: v for k, v in attrs.items() if not k.startswith("_")}
            detail += f" with {shown}"
        raise type(err)(f"{detail} (at {site})") from None
    return Node(op, inputs, attrs, shape, normalize_dtype(dtype), name=name, site=site)


def call(op: str, *inputs, **attrs) -> Node:
    """Shorthand used inside gradient rules: `call('exp', x)`."""
    return make_node(op, inputs, attrs)


# ---- shape and dtype rules shared by many ops ------------------------------------------------


def broadcast_shapes(*shapes) -> tuple:
    """NumPy broadcasting with None for run-time dimensions."""
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        sizes = {d for d in dims if d != 1}
        known = {d for d in sizes if d is not None}
        if len(known) > 1:
            raise ShapeError(
                "shapes " + " and ".join(str(tuple(s)) for s in shapes) + " cannot broadcast"
            )
        out.append(known.pop() if known else (None if None in sizes else 1))
    return tuple(out)


def same_dtype(inputs) -> str:
    dtypes = {i.dtype for i in inputs}
    if len(dtypes) > 1:
        raise DtypeError(f"dtypes {' and '.join(sorted(dtypes))} differ; cast one with gc.cast")
    return dtypes.pop()


def require_float(dtype: str) -> str:
    if dtype not in ("float32", "float64"):
        raise DtypeError(f"needs a float input, got {dtype}; cast it with gc.cast(x, 'float32')")
    return dtype


def normalize_axes(axis, ndim: int) -> tuple:
    """Axis argument (None, int or tuple, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for {ndim}-d input")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def dims_equal(a, b) -> bool:
    return a is None or b is None or a == b


# Importing the op modules fills the table.
from graphc.ops import (  # noqa: E402,F401
    conv,
    elementwise,
    kernel,
    leaves,
    movement,
    nn,
    pooling,
    random,
    recurrent,
    reduce,
)

"""The op table: every op is defined once, here and in the modules beside this one.

An `OpDef` holds every fact about one op: its shape+dtype rule (`infer`), its NumPy reference
implementation (`impl`), its gradient rule (`vjp`, written in graph ops), its fusion class, the
inputs it reads only for their shape, its symbolic-shape rule (`dims`), its FLOP count and its
test cases. Sets of ops (`LEAVES`, `REDUCTIONS`, ...) are derived from the table at the bottom.
Backends keep their own emitter tables keyed by the same names.
See docs/adding-an-op.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.bfloat16 import check_bfloat16_support
from graphc.ir import (
    FLOAT_DTYPES,
    DtypeError,
    GraphError,
    Node,
    ShapeError,
    normalize_dtype,
    user_site,
)

# What the fusion pass does with an op (passes/fuse_groups.py), by class.
FUSION_CLASSES = {
    "leaf": "bound by the executor: inputs, state, constants",
    "elementwise": "output element i from input elements at i (broadcast): joins a fused loop; "
    "a static size-1 one is recomputed wherever it is read",
    "random": "elementwise in its output index: joins a fused loop, never recomputed",
    "reduction": "folds axes of its input: joins the fused loop of its input",
    "view": "moves no data: read in place as a strided view of its input",
    "dense": "a GEMM (matmul, forward convolution): takes a bias add and activation epilogue",
    "opaque": "a kernel of its own",
    "structural": "expanded or produced by a pass; never computed",
}


@dataclass(frozen=True)
class OpDef:
    """One op.

    infer(inputs, **attrs) -> (shape, dtype), raising ShapeError/DtypeError;
    impl(*arrays, **attrs) -> ndarray (the reference semantics);
    vjp(g, node) -> one gradient node (or None for zero) per input; None if not differentiable;
    fusion: a key of FUSION_CLASSES;
    dims(node, input sizes, syms) -> per output axis a symbolic size (an input's, an int, or
        None for "a new run-time size"), or None when no output size follows from the inputs'
        (passes/symbols.py; `syms.broadcast`, `syms.unify`, `syms.norm` relate sizes);
    flops(node, shape_of) -> estimated floating-point operations, given concrete shapes;
    shape_only: indices of inputs read only for their shape;
    cases: graphc.ops.cases.Case inputs and attributes the test suite runs the op on.
    """

    name: str
    infer: Callable
    impl: Callable
    vjp: Callable | None
    fusion: str
    dims: Callable | None = None
    flops: Callable | None = None
    shape_only: tuple = ()
    cases: tuple = ()
    doc: str = ""

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None


OPS: dict[str, OpDef] = {}


def defop(name, *, infer, impl, fusion, vjp=None, dims=None, flops=None, shape_only=(),
          cases=(), doc=""):
    """Register an op in the table (once: a second definition is a bug)."""
    if name in OPS:
        raise ValueError(f"op {name!r} is defined twice")
    if fusion not in FUSION_CLASSES:
        raise ValueError(f"op {name!r}: fusion {fusion!r} is not one of {list(FUSION_CLASSES)}")
    if dims is None and fusion == "elementwise":
        dims = dims_broadcast
    OPS[name] = OpDef(name, infer, impl, vjp, fusion, dims, flops or DEFAULT_FLOPS[fusion],
                      tuple(shape_only), tuple(cases), doc)
    return OPS[name]


def data_inputs(node) -> list:
    """The inputs whose values a node reads (the others only lend their shape)."""
    skip = OPS[node.op].shape_only
    return [i for k, i in enumerate(node.inputs) if k not in skip]


# ---- symbolic-shape and FLOP rules shared by many entries ------------------------------------


def dims_broadcast(node, ins, syms):
    """Elementwise: the broadcast of the data inputs' sizes (run-time sizes that meet unify)."""
    skip = OPS[node.op].shape_only
    return syms.broadcast([s for k, s in enumerate(ins) if k not in skip], node)


def dims_like_input(k):
    """The output has input k's sizes."""
    return lambda node, ins, syms: list(ins[k])


def dims_keep_batch(node, ins, syms):
    """Batch-first ops (convolution, pooling, recurrences): the output keeps the batch size."""
    if len(ins[0]) != len(node.shape):
        return None
    return [ins[0][0]] + [None] * (len(node.shape) - 1)


def per_element(cost: int):
    """FLOPs: `cost` per output element."""
    return lambda node, shape_of: cost * math.prod(shape_of(node))


def per_input_element(node, shape_of) -> int:
    return math.prod(shape_of(node.inputs[0]))


def no_flops(node, shape_of) -> int:
    return 0


DEFAULT_FLOPS = {**{c: per_element(1) for c in FUSION_CLASSES}, "reduction": per_input_element,
                 "leaf": no_flops, "view": no_flops, "structural": no_flops}


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
        check_bfloat16_support(op, opdef.fusion, inputs, normalize_dtype(dtype))
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
    if dtype not in FLOAT_DTYPES:
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


class Shaped:
    """A stand-in for a node with just a shape (and dtype), to run a shape rule on a derived
    or concrete shape."""

    def __init__(self, shape, dtype=None):
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)


# Importing the op modules fills the table.
from graphc.ops import (  # noqa: E402,F401
    attention,
    collective,
    conv,
    conv_bias_grad,
    conv_family,
    elementwise,
    flash_attention,
    grad,
    kernel,
    leaves,
    movement,
    nn,
    normalization,
    operators,
    pooling,
    quant,
    quant_conv,
    random,
    recurrent,
    recurrent_projected,
    reduce,
)


def ops_of(fusion: str) -> tuple:
    """The ops of one fusion class, in table order."""
    return tuple(name for name, op in OPS.items() if op.fusion == fusion)


LEAVES = ops_of("leaf")
ELEMENTWISE = ops_of("elementwise")
REDUCTIONS = ops_of("reduction")
VIEWS = ops_of("view")
DENSE = ops_of("dense")
LOOP_OPS = ELEMENTWISE + ops_of("random") + REDUCTIONS  # ops that join fused loops

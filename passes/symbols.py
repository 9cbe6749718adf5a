"""Symbolic sizes, shared by the fusion pass and the LLVM lowering.

A dimension known only at run time (None in a node's shape, e.g. the batch) becomes a
*symbol*: a slot filled once per new set of input shapes, from the concrete shapes that the
op table's own shape rules give (`concrete_shapes`). Sizes, strides and offsets are `Poly`s:
polynomials in symbols with integer coefficients, in a canonical form, so two strides are
equal exactly when their polynomials are. Anything that is not a polynomial (a slice start
on a run-time axis, a stride that is 0 only when a run-time size is 1) becomes a symbol of
its own, computed from the other symbols (see `Symbols.new`).
"""

from __future__ import annotations

from graphc.ir import Node, ShapeError, toposort
from graphc.ops import OPS, Shaped


class Poly:
    """An integer polynomial in symbols (ints); canonical, hashable, immutable."""

    __slots__ = ("terms",)

    def __init__(self, terms=()):
        merged: dict = {}
        for mono, coeff in terms:
            merged[mono] = merged.get(mono, 0) + coeff
        object.__setattr__(self, "terms", tuple(sorted((m, c) for m, c in merged.items() if c)))

    @staticmethod
    def of(value) -> Poly:
        if isinstance(value, Poly):
            return value
        value = int(value)
        found = _CONSTANTS.get(value)
        if found is None:
            found = _CONSTANTS[value] = Poly((((), value),))
        return found

    @staticmethod
    def sym(index: int) -> Poly:
        return Poly((((index,), 1),))

    def __add__(self, other):
        return Poly(self.terms + Poly.of(other).terms)

    __radd__ = __add__

    def __neg__(self):
        return Poly((m, -c) for m, c in self.terms)

    def __sub__(self, other):
        return self + (-Poly.of(other))

    def __mul__(self, other):
        other = Poly.of(other)
        return Poly((tuple(sorted(m1 + m2)), c1 * c2)
                    for m1, c1 in self.terms for m2, c2 in other.terms)

    __rmul__ = __mul__

    def __eq__(self, other):
        if isinstance(other, int):
            other = Poly.of(other)
        return isinstance(other, Poly) and self.terms == other.terms

    def __hash__(self):
        return hash(self.terms)

    @property
    def is_const(self) -> bool:
        return all(not m for m, _ in self.terms)

    @property
    def const(self) -> int:
        """The value of a constant polynomial."""
        assert self.is_const, self
        return self.terms[0][1] if self.terms else 0

    def symbols(self) -> set:
        return {s for m, _ in self.terms for s in m}

    def evaluate(self, values) -> int:
        total = 0
        for mono, coeff in self.terms:
            for s in mono:
                coeff *= values[s]
            total += coeff
        return total

    def __repr__(self):
        if self.is_const:
            return str(self.const)
        return " + ".join(f"{c}*" + "*".join(f"s{s}" for s in m) if m else str(c)
                          for m, c in self.terms)


_CONSTANTS: dict = {}


def prod(values) -> Poly:
    out = Poly.of(1)
    for v in values:
        out = out * v
    return out


def concrete_shapes(nodes, inputs, arrays) -> dict:
    """{id(node): concrete shape} for `nodes` (topologically ordered), given the arrays bound
    to the input placeholders. Every node that depends on a run-time size runs its op's shape
    rule on the concrete shapes (which checks broadcasts, reshapes and index bounds), and the
    result must agree with the node's static sizes; errors name the op, the shapes received
    and the user's file:line."""
    out = {id(p): tuple(a.shape) for p, a in zip(inputs, arrays)}
    varying = {id(p) for p in inputs if None in p.shape}
    for node in nodes:
        if id(node) in out:
            continue
        if None not in node.shape and not any(id(i) in varying for i in node.inputs):
            out[id(node)] = node.shape
            continue
        varying.add(id(node))
        ins = [Shaped(out[id(i)], i.dtype) for i in node.inputs]
        out[id(node)] = run_time_shape(node, ins)
    return out


def run_time_shape(node: Node, ins: list) -> tuple:
    """The shape `node`'s op gives for inputs of concrete shapes `ins`, checked against the
    node's static sizes."""
    try:
        shape, _ = OPS[node.op].infer(ins, **node.attr_dict)
    except ValueError as err:
        # getitem's one run-time failure is an index past a run-time size: IndexError
        error = RunTimeIndexError if node.op == "getitem" else type(err)
        raise error(f"{node.op}: {err}. {received(node, ins)}") from None
    shape = tuple(shape)
    check_no_run_time_one_broadcasts(node, [i.shape for i in ins], shape)
    if None in shape:  # a size the op takes from a build-time attribute
        raise ShapeError(f"{node.op}: its output size {shape} is not known at run time (an "
                         f"attribute fixed it at build time). {received(node, ins)}")
    if len(shape) != len(node.shape) or any(
            d is not None and d != s for d, s in zip(node.shape, shape)):
        raise ShapeError(f"{node.op}: the inputs give shape {shape}, but the graph was built "
                         f"for {node.shape}. {received(node, ins)}")
    return shape


def received(node: Node, ins: list) -> str:
    got = ", ".join(str(i.shape) for i in ins)
    return f"Received shapes {got} (node built at {node.site})"


# Ops other than the elementwise ones whose data inputs broadcast to the output's shape
# (NumPy's rule, aligned on the right), with the number of trailing axes that do not
BROADCASTING = {"broadcast_to": 0, "broadcast_like": 0, "matmul": 2}


def check_no_run_time_one_broadcasts(node: Node, in_shapes: list, shape: tuple) -> None:
    """Raise SizeOneBroadcast when a run-time (None) size of an input of `node` is 1 and
    broadcasts: a program compiled for a None size cannot broadcast it (its gradient would
    not be summed over the axis), so graphc.function compiles one with that size fixed."""
    op = OPS[node.op]
    if op.fusion != "elementwise" and node.op not in BROADCASTING:
        return
    core = BROADCASTING.get(node.op, 0)
    for k, (source, concrete) in enumerate(zip(node.inputs, in_shapes)):
        lead = len(shape) - len(concrete)
        for axis in range(len(concrete) - core):
            if k not in op.shape_only and source.shape[axis] is None and concrete[axis] == 1 \
                    and shape[lead + axis] != 1:
                raise SizeOneBroadcast(
                    f"{node.op}: a run-time size of 1 (axis {axis} of input {k}) broadcasts "
                    f"to {shape[lead + axis]}. {received(node, [Shaped(s) for s in in_shapes])}")


class SizeOneBroadcast(ShapeError):
    """A run-time size of 1 broadcasts: the call needs a program compiled for that size."""


class RunTimeIndexError(ShapeError, IndexError):
    """An index out of range of a size known only at run time (IndexError, as in NumPy)."""


class Symbols:
    """The run-time symbols of one graph and the symbolic shape of each of its nodes.

    Symbol k is computed from `self.specs[k]` (see `new`), the concrete shapes and the values
    of earlier symbols. Two run-time sizes that meet in an elementwise op are assumed
    equal (so kernels see one size, and loops over them fuse and vectorize); `check` verifies
    each such assumption when the shapes change and names the op where it fails.
    """

    def __init__(self):
        self.specs: list = []
        self.memo: dict = {}
        self.shapes: dict = {}
        self.parent: dict = {}
        self.assumed: list = []  # (sym a, sym b, node)

    def new(self, spec) -> Poly:
        """The symbol of a spec: ('dim', node, axis) is a size of a node; ('bstride', d, s)
        is 0 when size d is 1 else stride s; ('start', slice item, d) a slice's first index."""
        key = ("dim", id(spec[1]), spec[2]) if spec[0] == "dim" else spec
        if key not in self.memo:
            self.specs.append(spec)
            self.memo[key] = Poly.sym(len(self.specs) - 1)
        return self.memo[key]

    def dim_of(self, node: Node, axis: int) -> Poly:
        return self.new(("dim", node, axis))

    def find(self, s: int) -> int:
        while self.parent.get(s, s) != s:
            s = self.parent[s]
        return s

    def norm(self, p: Poly) -> Poly:
        if not self.parent or p.is_const:
            return p
        return Poly((tuple(sorted(self.find(s) for s in m)), c) for m, c in p.terms)

    def unify(self, a: Poly, b: Poly, node) -> Poly:
        """Assume two run-time sizes are equal (checked at run time); returns the size."""
        a, b = self.norm(a), self.norm(b)
        if a == b:
            return a
        if len(a.terms) == 1 and len(b.terms) == 1 and len(a.terms[0][0]) == 1 == \
                len(b.terms[0][0]) and a.terms[0][1] == 1 == b.terms[0][1]:
            sa, sb = a.terms[0][0][0], b.terms[0][0][0]
            self.parent[max(sa, sb)] = min(sa, sb)
            self.assumed.append((sa, sb, node))
            self.shapes = {k: tuple(self.norm(d) for d in v) for k, v in self.shapes.items()}
            return self.norm(a)
        return None

    def shape(self, node: Node) -> tuple:
        """Symbolic shape of `node` (computed for its inputs first)."""
        found = self.shapes.get(id(node))
        if found is None:
            if all(id(i) in self.shapes for i in node.inputs):
                found = self.shapes[id(node)] = self._derive(node)
                return found
            for n in _toposort_missing(node, self.shapes):
                self.shapes[id(n)] = self._derive(n)
            found = self.shapes[id(node)]
        return found

    def values(self, shapes: dict) -> list:
        values: list = []
        for spec in self.specs:
            values.append(spec_value(spec, shapes, values))
        return values

    def broadcast(self, shapes, node) -> list:
        """Per output axis, the common size of `shapes` (see `broadcast_dims`)."""
        return broadcast_dims(shapes, self, node)

    def check(self, values) -> None:
        for a, b, node in self.assumed:
            if values[a] != values[b]:
                raise ShapeError(
                    f"{node.op}: run-time sizes {values[a]} and {values[b]} meet on one axis; "
                    f"the llvm backend needs run-time (None) sizes that meet in an op to be "
                    f"equal (broadcast a size-1 run-time axis explicitly, or use "
                    f"backend='numpy') (node built at {node.site})")

    def _derive(self, node: Node) -> tuple:
        guess = derive_dims(node, [self.shapes[id(i)] for i in node.inputs], self)
        out = []
        for axis, d in enumerate(node.shape):
            if d is not None:
                out.append(Poly.of(d))
            elif guess is not None and guess[axis] is not None:
                out.append(self.norm(Poly.of(guess[axis])))
            else:
                out.append(self.dim_of(node, axis))
        return tuple(out)


def spec_value(spec, shapes, values) -> int:
    if spec[0] == "dim":
        return shapes[id(spec[1])][spec[2]]
    if spec[0] == "bstride":
        return 0 if spec[1].evaluate(values) == 1 else spec[2].evaluate(values)
    return slice(*spec[1][1:]).indices(spec[2].evaluate(values))[0]


def _toposort_missing(node, known):
    return [n for n in toposort([node]) if id(n) not in known]


def broadcast_dims(shapes, syms=None, node=None) -> list:
    """Per output axis, the common symbolic size (run-time sizes that meet are unified)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        sizes = {s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0}
        sizes.discard(Poly.of(1))
        consts = {d for d in sizes if d.is_const}
        if consts:
            out.append(consts.pop())
            continue
        size = sizes.pop() if sizes else Poly.of(1)
        for other in sizes:
            size = syms.unify(size, other, node) if syms and size is not None else None
        out.append(size)
    return out


def derive_dims(node: Node, ins: list, syms: Symbols):
    """Symbolic sizes of `node` from its inputs' `ins`, by its op's `dims` rule (graphc.ops),
    or None when the op has none (each run-time size becomes a symbol of its own)."""
    rule = OPS[node.op].dims
    return None if rule is None else rule(node, ins, syms)

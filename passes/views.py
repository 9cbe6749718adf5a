"""Strided views: where element (i0, i1, ...) of a value lives in a buffer,
offset + sum(i_k * strides[k]), with symbolic sizes (passes.symbols).

Movement ops (reshape, transpose, expand_dims, getitem, broadcasts) are views of their
input, so kernels read through them without copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.ir import Node
from passes.symbols import Poly, Symbols


@dataclass(frozen=True)
class View:
    """Element (i0, i1, ...) lives at offset + sum(i_k * strides[k]) of a buffer."""

    shape: tuple
    strides: tuple
    offset: Poly = Poly.of(0)

    @staticmethod
    def contiguous(shape) -> View:
        strides, step = [], Poly.of(1)
        for d in reversed(shape):
            strides.append(step)
            step = step * d
        return View(tuple(shape), tuple(canonical_strides(shape, reversed(strides))))

    @property
    def is_contiguous(self) -> bool:
        return self.strides == View.contiguous(self.shape).strides

    def with_(self, shape, strides, offset=None) -> View:
        return View(tuple(shape), tuple(canonical_strides(shape, strides)),
                    self.offset if offset is None else offset)


def canonical_strides(shape, strides):
    """Axes of static size 1 get stride 0, so equal layouts compare equal."""
    return [Poly.of(0) if d == 1 else s for d, s in zip(shape, strides)]


def broadcast_view(view: View, shape, syms: Symbols) -> View:
    """`view` read at the coordinates of `shape` with NumPy broadcasting (right-aligned).
    Extra leading axes of static size 1 (a size-1 value read in a scalar loop) are dropped:
    their index is always 0."""
    extra = len(view.shape) - len(shape)
    if extra > 0:
        assert all(d == 1 for d in view.shape[:extra]), (view.shape, shape)
        view = View(view.shape[extra:], view.strides[extra:], view.offset)
    lead = len(shape) - len(view.shape)
    strides = [Poly.of(0)] * lead
    for d_in, s, d_out in zip(view.shape, view.strides, shape[lead:]):
        if d_in == d_out:
            strides.append(s)
        elif d_in == 1:
            strides.append(Poly.of(0))
        else:  # a run-time size that may be 1: the stride is 0 exactly then
            strides.append(syms.new(("bstride", d_in, s)))
    return view.with_(shape, strides)


def embed(view: View, space: str, X: tuple, R, syms: Symbols) -> tuple:
    """(strides, offset) of `view` over the coordinates of a loop's iteration space X: a
    kept-space ('K') view, whose reduced axes R are dropped, gets stride 0 on them; any other
    view is broadcast to X."""
    if space == "K" and len(view.shape) < len(X):
        strides = list(view.strides)
        for axis in sorted(R):
            strides.insert(axis, Poly.of(0))
        return tuple(strides), view.offset
    return broadcast_view(view, X, syms).strides, view.offset


def movement_view(node: Node, view: View, syms: Symbols) -> View | None:
    """The view of `node`'s value given its input's view; None if it needs a copy."""
    op, shape = node.op, syms.shape(node)
    if op == "expand_dims":
        strides = list(view.strides)
        for a in sorted(node.attr("axis")):
            strides.insert(a, Poly.of(0))
        return view.with_(shape, strides)
    if op == "transpose":
        return view.with_(shape, [view.strides[a] for a in node.attr("axes")])
    if op == "reshape":
        if not view.is_contiguous:
            return None
        return View(tuple(shape), View.contiguous(shape).strides, view.offset)
    if op in ("broadcast_to", "broadcast_like"):
        return broadcast_view(view, shape, syms)
    if op == "getitem":
        return getitem_view(node, view, syms)
    return None


def getitem_view(node: Node, view: View, syms: Symbols) -> View:
    out_shape, strides, offset, axis = syms.shape(node), [], view.offset, 0
    for item in node.attr("index"):
        if item[0] == "newaxis":
            strides.append(Poly.of(0))
            continue
        dim, stride = view.shape[axis], view.strides[axis]
        if item[0] == "int":
            i = item[1]
            offset = offset + (Poly.of(i) if i >= 0 else dim + i) * stride
        else:
            start = _slice_start(item, dim, syms)
            offset = offset + start * stride
            strides.append(stride * (item[3] or 1))
        axis += 1
    strides.extend(view.strides[axis:])
    return view.with_(out_shape, strides, offset)


def _slice_start(item, dim: Poly, syms: Symbols) -> Poly:
    sl = slice(*item[1:])
    if dim.is_const:
        return Poly.of(sl.indices(dim.const)[0])
    if sl.start is None and (sl.step or 1) > 0:
        return Poly.of(0)
    return syms.new(("start", item, dim))


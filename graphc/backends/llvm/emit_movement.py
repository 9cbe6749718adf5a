"""Movement ops: views (free: read in place with strides) and the kernels that really move data
(take, its gradient, getitem's gradient, concatenate, stack, pad, unfold_like)."""

from __future__ import annotations

from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import I64, c64, const
from graphc.ops import VIEWS, make_node, normalize_axes
from passes.views import View, getitem_view

for _op in VIEWS:
    register(_op, "view")


def split_at(kb, dims, axis):
    """(outer, n, inner) sizes of an array viewed as outer x n x inner around `axis`."""
    return kb.count(dims[:axis]), dims[axis], kb.count(dims[axis + 1:])


def emit_take(kb, node):
    x, indices = node.inputs
    axis = normalize_axes(node.attr("axis"), x.ndim)[0]
    outer, n, inner = split_at(kb, kb.dims(x), axis)
    count = kb.count(kb.dims(indices))
    b = kb.b
    lo, hi = kb.split(b.mul(outer, count))

    def row(r):
        o, j = b.sdiv(r, count), b.srem(r, count)
        k = wrapped_index(kb, kb.load(kb.ins[1], j, indices.dtype), n)
        src = b.mul(b.add(b.mul(o, n), k), inner)
        dst = b.mul(r, inner)
        kb.loop(c64(0), inner, lambda i: kb.store(kb.load(kb.ins[0], b.add(src, i), x.dtype),
                                                   kb.out, b.add(dst, i), node.dtype))

    kb.loop(lo, hi, row)
    return kb.finish()


def wrapped_index(kb, k, n):
    """A possibly negative index into range(n), as np.take; out of range -> error status."""
    b = kb.b
    k = b.sext(k, I64) if k.type != I64 else k
    k = b.select(b.icmp_signed("<", k, c64(0)), b.add(k, n), k)
    bad = b.or_(b.icmp_signed("<", k, c64(0)), b.icmp_signed(">=", k, n))
    kb.fail_if(bad)
    return b.select(bad, c64(0), k)


def emit_take_grad(kb, node):
    g, indices, like = node.inputs
    axis = normalize_axes(node.attr("axis"), like.ndim)[0]
    outer, n, inner = split_at(kb, kb.dims(like), axis)
    count = kb.count(kb.dims(indices))
    b = kb.b
    lo, hi = kb.split(b.mul(outer, inner))  # each thread owns whole columns: no races

    def column(col):
        o, i = b.sdiv(col, inner), b.srem(col, inner)
        base = b.add(b.mul(b.mul(o, n), inner), i)
        kb.loop(c64(0), n, lambda k: kb.store(const(node.dtype, 0), kb.out,
                                              b.add(base, b.mul(k, inner)), node.dtype))

        def add(j):
            k = wrapped_index(kb, kb.load(kb.ins[1], j, indices.dtype), n)
            dst = b.add(base, b.mul(k, inner))
            src = b.add(b.mul(b.add(b.mul(o, count), j), inner), i)
            total = b.fadd(kb.load(kb.out, dst, node.dtype), kb.load(kb.ins[0], src, g.dtype))
            kb.store(total, kb.out, dst, node.dtype)

        kb.loop(c64(0), count, add)

    kb.loop(lo, hi, column)
    return kb.finish()


def emit_getitem_grad(kb, node):
    g, like = node.inputs
    b = kb.b
    kb.only_first_thread()
    total = kb.count(kb.out_dims())
    kb.loop(c64(0), total, lambda i: kb.store(const(node.dtype, 0), kb.out, i, node.dtype))
    forward = as_getitem(node)
    kb.syms.shapes[id(forward)] = kb.syms.shape(g)  # the slice has the gradient's shape
    view = getitem_view(forward, View.contiguous(kb.syms.shape(like)), kb.syms)
    strides = [kb.size(s) for s in view.strides]
    offset = kb.size(view.offset)
    g_strides = kb.strides(kb.dims(g))

    def put(coords):
        dst = b.add(offset, kb.offset(coords, strides))
        kb.store(kb.load(kb.ins[0], kb.offset(coords, g_strides), g.dtype), kb.out, dst,
                 node.dtype)

    kb.nest(kb.dims(g), put)
    return kb.finish()


def as_getitem(node):
    """The getitem node whose gradient `node` is (same index, input shaped like `like`)."""
    return make_node("getitem", [node.inputs[1]], {"index": node.attr("index")}, site=node.site)


def emit_concatenate(kb, node):
    axis = normalize_axes(node.attr("axis"), node.ndim)[0]
    outer, total, inner = split_at(kb, kb.out_dims(), axis)
    b = kb.b
    lo, hi = kb.split(outer)
    start = c64(0)
    for k, x in enumerate(node.inputs):
        n = kb.dims(x)[axis]
        width, offset = b.mul(n, inner), b.mul(start, inner)

        def row(o, k=k, x=x, width=width, offset=offset):
            src, dst = b.mul(o, width), b.add(b.mul(b.mul(o, total), inner), offset)
            kb.loop(c64(0), width, lambda i: kb.store(
                kb.load(kb.ins[k], b.add(src, i), x.dtype), kb.out, b.add(dst, i), node.dtype))

        kb.loop(lo, hi, row)
        start = b.add(start, n)
    return kb.finish()


def emit_stack(kb, node):
    axis = normalize_axes(node.attr("axis"), node.ndim)[0]
    first = kb.dims(node.inputs[0])
    outer, inner = kb.count(first[:axis]), kb.count(first[axis:])
    count = len(node.inputs)
    b = kb.b
    lo, hi = kb.split(outer)
    for k, x in enumerate(node.inputs):
        def row(o, k=k, x=x):
            src = b.mul(o, inner)
            dst = b.mul(b.add(b.mul(o, c64(count)), c64(k)), inner)
            kb.loop(c64(0), inner, lambda i: kb.store(
                kb.load(kb.ins[k], b.add(src, i), x.dtype), kb.out, b.add(dst, i), node.dtype))

        kb.loop(lo, hi, row)
    return kb.finish()


def emit_pad(kb, node):
    """Zero padding of the spatial axes: every output element is a copy or a zero."""
    x = node.inputs[0]
    b = kb.b
    out_dims, in_dims = kb.out_dims(), kb.dims(x)
    in_strides = kb.strides(in_dims)
    pads = [c64(lo) for lo, _ in node.attr("padding")]
    batch = out_dims[0]
    lo, hi = kb.split(batch)
    out_strides = kb.strides(out_dims)

    def element(coords):
        inside, src = None, []
        for k, i in enumerate(coords):
            if 0 < k < len(coords) - 1:
                i = b.sub(i, pads[k - 1])
                ok = b.and_(b.icmp_signed(">=", i, c64(0)), b.icmp_signed("<", i, in_dims[k]))
                inside = ok if inside is None else b.and_(inside, ok)
            src.append(i)
        src_index = b.select(inside, kb.offset(src, in_strides), c64(0))
        value = b.select(inside, kb.load(kb.ins[0], src_index, x.dtype), const(node.dtype, 0))
        kb.store(value, kb.out, kb.offset(coords, out_strides), node.dtype)

    kb.loop(lo, hi, lambda n: kb.nest(out_dims[1:], element, (n,)))
    return kb.finish()


def emit_unfold_like(kb, node):
    """The same elements in a new shape: each thread copies its share."""
    lo, hi = kb.split(kb.count(kb.dims(node)))
    kb.loop(lo, hi, lambda i: kb.store(kb.load(kb.ins[0], i, node.dtype), kb.out, i, node.dtype))
    return kb.finish()


register("take", "kernel", emit_take)
register("take_grad", "kernel", emit_take_grad)
register("getitem_grad", "kernel", emit_getitem_grad)
register("concatenate", "kernel", emit_concatenate)
register("stack", "kernel", emit_stack)
register("pad", "kernel", emit_pad)
register("unfold_like", "kernel", emit_unfold_like)

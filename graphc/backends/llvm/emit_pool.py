"""Max and average pooling and their gradients (windows.py holds the window geometry)."""

from __future__ import annotations

from graphc.backends.llvm.emit_reduce import Reducer
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const
from graphc.backends.llvm.pool_grad_vector import (
    check_bfloat16_routing,
    emit_max_pool_grad_vector,
    has_static_geometry,
)
from graphc.backends.llvm.windows import add_into, geometry_of, zero


def window_count(kb, g, oh, ow):
    """How many real (unpadded) inputs the window of (oh, ow) covers, as an i64."""
    b = kb.b
    return g.fold(oh, ow, c64(0), lambda ih, iw, inside, acc: b.add(acc, b.zext(inside, acc.type)))


def emit_pool(kind):
    def emit(kb, node):
        x = node.inputs[0]
        g, b, t = geometry_of(kb, node, x, node), kb.b, node.dtype
        reducer = Reducer("max" if kind == "max" else "sum")

        def row(n, oh):
            def pixel(ow):
                out = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), g.C)
                kb.loop(c64(0), g.C, lambda c: kb.store(reducer.identity(t), kb.out,
                                                         b.add(out, c), t))

                def tap(kh, kw, ih, iw, inside):
                    with b.if_then(inside):
                        src = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                        kb.loop(c64(0), g.C, lambda c: kb.store(reducer.combine(
                            b, kb.load(kb.out, b.add(out, c), t),
                            kb.load(kb.ins[0], b.add(src, c), t)), kb.out, b.add(out, c), t))

                g.window(oh, ow, tap)
                if kind == "avg":
                    count = b.sitofp(window_count(kb, g, oh, ow), const(t, 0).type)
                    kb.loop(c64(0), g.C, lambda c: kb.store(b.fdiv(
                        kb.load(kb.out, b.add(out, c), t), count), kb.out, b.add(out, c), t))

            kb.loop(c64(0), g.OW, pixel, name="ow")

        g.output_rows(row)
        return kb.finish()

    return emit


def emit_max_pool_grad(kb, node):
    """Each thread its own images: dy goes to the first input that holds its window's max
    (over a static geometry: vectorized along the channels, pool_grad_vector.py)."""
    if node.dtype == "bfloat16":
        check_bfloat16_routing(node)
    if has_static_geometry(node):
        return emit_max_pool_grad_vector(kb, node)
    x, gy = node.inputs
    g, b, t = geometry_of(kb, node, x, gy), kb.b, node.dtype

    def image(n):
        zero(kb, kb.out, b.mul(b.mul(b.mul(n, g.H), g.W), g.C), b.mul(b.mul(g.H, g.W), g.C), t)
        kb.nest([g.OH, g.OW, g.C], lambda idx: route_max_grad(kb, g, n, *idx))

    g.images(image)
    return kb.finish()


def route_max_grad(kb, g, n, oh, ow, c):
    """dx[where the window of (oh, ow) first reaches its maximum, channel c] += dy[n, oh, ow, c]."""
    b, t, peak_of = kb.b, kb.node.dtype, Reducer("max")

    def value(ih, iw, inside):
        safe = b.select(inside, b.add(b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C), c), c)
        return safe, kb.load(kb.ins[0], safe, t)

    def find(ih, iw, inside, peak):
        return peak_of.combine(b, peak, b.select(inside, value(ih, iw, inside)[1],
                                                 peak_of.identity(t)))

    peak = g.fold(oh, ow, peak_of.identity(t), find)
    grad = kb.load(kb.ins[1], b.add(b.mul(g.pixel(n, oh, ow, g.OH, g.OW), g.C), c), t)

    def route(ih, iw, inside, taken):
        safe, v = value(ih, iw, inside)
        first = b.and_(b.and_(inside, b.fcmp_ordered("==", v, peak)),
                       b.xor(taken, const("bool", 1)))
        # Store only where the gradient goes: a padding tap's `safe` index lies in image 0,
        # which another thread may be accumulating into.
        with b.if_then(first):
            add_into(kb, kb.out, safe, grad, t)
        return b.or_(taken, first)

    g.fold(oh, ow, const("bool", 0), route)


def emit_avg_pool_grad(kb, node):
    gy = node.inputs[0]
    g, b, t = geometry_of(kb, node, node, gy), kb.b, node.dtype

    def image(n):
        zero(kb, kb.out, b.mul(b.mul(b.mul(n, g.H), g.W), g.C), b.mul(b.mul(g.H, g.W), g.C), t)

        def pixel(oh, ow):
            count = b.sitofp(window_count(kb, g, oh, ow), const(t, 0).type)
            src = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), g.C)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    dst = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    kb.loop(c64(0), g.C, lambda c: add_into(kb, kb.out, b.add(dst, c), b.fdiv(
                        kb.load(kb.ins[0], b.add(src, c), t), count), t))

            g.window(oh, ow, tap)

        kb.loop(c64(0), g.OH, lambda oh: kb.loop(c64(0), g.OW, lambda ow: pixel(oh, ow)))

    g.images(image)
    return kb.finish()


for _r in (1, 2):
    register(f"max_pool{_r}d", "kernel", emit_pool("max"))
    register(f"avg_pool{_r}d", "kernel", emit_pool("avg"))
    register(f"max_pool{_r}d_grad", "kernel", emit_max_pool_grad)
    register(f"avg_pool{_r}d_grad", "kernel", emit_avg_pool_grad)

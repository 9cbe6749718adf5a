"""Convolution and pooling kernels (graphc/ops/conv.py, pooling.py), channels_last, as direct
loop nests whose innermost loop runs over contiguous channels (so it vectorizes).

1-D ops are the 2-D ones with height 1. Threads split rows of the output (forward ops),
whole images (scatter-style gradients, so no two threads add into one element) or rows of
the kernel (weight gradient). Semantics follow the NumPy references: zero padding; padded
positions never win a max and are left out of an average's count; a max-pool gradient goes
to the first maximum of its window in row-major order.
"""

from __future__ import annotations

from graphc.backends.llvm.emit_reduce import Reducer
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const


class Geometry:
    """Sizes (i64 values) of one window sweep, as 2-D: images (N, H, W, C) -> (N, OH, OW, ...)."""

    def __init__(self, kb, image, out, kernel, strides, dilation, padding):
        self.kb, self.b = kb, kb.b
        two = len(kernel) == 2
        pad = lambda t, v: tuple(t) if two else (v,) + tuple(t)  # noqa: E731
        self.N, *spatial, self.C = image
        _, *out_spatial, _ = out
        self.H, self.W = spatial if two else (c64(1), spatial[0])
        self.OH, self.OW = out_spatial if two else (c64(1), out_spatial[0])
        self.KH, self.KW = pad(kernel, 1)
        self.SH, self.SW = pad(strides, 1)
        self.DH, self.DW = pad(dilation, 1)
        self.PT, self.PL = (p[0] for p in pad(padding, (0, 0)))

    def source(self, o, k, stride, dilation, before):
        """Input coordinate of output o at kernel offset k."""
        b = self.b
        return b.sub(b.add(b.mul(o, c64(stride)), b.mul(k, c64(dilation))), c64(before))

    def inside(self, ih, iw):
        b = self.b
        ok = lambda i, n: b.and_(b.icmp_signed(">=", i, c64(0)),  # noqa: E731
                                 b.icmp_signed("<", i, n))
        return b.and_(ok(ih, self.H), ok(iw, self.W))

    def pixel(self, n, h, w, H, W):
        b = self.b
        return b.add(b.mul(b.add(b.mul(n, H), h), W), w)

    def window(self, oh, ow, body):
        """For every kernel offset: body(kh, kw, ih, iw, inside)."""
        kb, b = self.kb, self.b

        def at(kh, kw):
            ih = self.source(oh, kh, self.SH, self.DH, self.PT)
            iw = self.source(ow, kw, self.SW, self.DW, self.PL)
            body(kh, kw, ih, iw, self.inside(ih, iw))

        kb.loop(c64(0), c64(self.KH), lambda kh: kb.loop(c64(0), c64(self.KW),
                                                        lambda kw: at(kh, kw), name="kw"),
                name="kh")

    def output_rows(self, body):
        """Split the (n, oh) rows between threads: body(n, oh)."""
        b, kb = self.b, self.kb
        lo, hi = kb.split(b.mul(self.N, self.OH))
        kb.loop(lo, hi, lambda r: body(b.sdiv(r, self.OH), b.srem(r, self.OH)), name="row")

    def images(self, body):
        lo, hi = self.kb.split(self.N)
        self.kb.loop(lo, hi, body, name="n")


def geometry_of(kb, node, image, out):
    return Geometry(kb, kb.dims(image), kb.dims(out), kernel_of(node), node.attr("strides"),
                    node.attr("dilation") or (1,) * len(node.attr("strides")),
                    node.attr("padding"))


def kernel_of(node):
    if node.attr("pool_size"):
        return node.attr("pool_size")
    if node.attr("kernel_size"):
        return node.attr("kernel_size")
    return node.inputs[1].shape[:-2]


def zero(kb, ptr, start, count, dtype):
    b = kb.b
    kb.loop(c64(0), count, lambda i: kb.store(const(dtype, 0), ptr, b.add(start, i), dtype))


def add_into(kb, ptr, index, value, dtype):
    kb.store(kb.b.fadd(kb.load(ptr, index, dtype), value), ptr, index, dtype)


# ---- convolution -------------------------------------------------------------------------------


def emit_conv(kb, node):
    x, _ = node.inputs
    g, b, t = geometry_of(kb, node, x, node), kb.b, node.dtype
    co = kb.dims(node)[-1]

    def row(n, oh):
        def pixel(ow):
            out = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), co)
            zero(kb, kb.out, out, co, t)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    src = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), g.C)

                    def channel(ci):
                        xv = kb.load(kb.ins[0], b.add(src, ci), t)
                        w0 = b.mul(b.add(w_row, ci), co)
                        kb.loop(c64(0), co, lambda j: add_into(
                            kb, kb.out, b.add(out, j),
                            b.fmul(xv, kb.load(kb.ins[1], b.add(w0, j), t)), t), name="co")

                    kb.loop(c64(0), g.C, channel, name="ci")

            g.window(oh, ow, tap)

        kb.loop(c64(0), g.OW, pixel, name="ow")

    g.output_rows(row)
    return kb.finish()


def emit_conv_input_grad(kb, node):
    gy, _ = node.inputs
    g, b, t = geometry_of(kb, node, node, gy), kb.b, node.dtype
    co = kb.dims(gy)[-1]

    def image(n):
        zero(kb, kb.out, b.mul(b.mul(b.mul(n, g.H), g.W), g.C), b.mul(b.mul(g.H, g.W), g.C), t)

        def pixel(oh, ow):
            src = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), co)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    dst = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), g.C)

                    def channel(ci):
                        w0 = b.mul(b.add(w_row, ci), co)
                        (total,) = kb.loop(c64(0), co, lambda j, acc: [b.fadd(acc, b.fmul(
                            kb.load(kb.ins[0], b.add(src, j), t),
                            kb.load(kb.ins[1], b.add(w0, j), t)), flags=("reassoc",))],
                            [const(t, 0)], "co")
                        add_into(kb, kb.out, b.add(dst, ci), total, t)

                    kb.loop(c64(0), g.C, channel, name="ci")

            g.window(oh, ow, tap)

        kb.loop(c64(0), g.OH, lambda oh: kb.loop(c64(0), g.OW, lambda ow: pixel(oh, ow)))

    g.images(image)
    return kb.finish()


def emit_conv_weight_grad(kb, node):
    x, gy = node.inputs
    g, b, t = geometry_of(kb, node, x, gy), kb.b, node.dtype
    co = kb.dims(gy)[-1]
    lo, hi = kb.split(b.mul(c64(g.KH * g.KW), g.C))

    def kernel_row(row):  # (kh, kw, ci)
        kh = b.sdiv(row, b.mul(c64(g.KW), g.C))
        kw = b.srem(b.sdiv(row, g.C), c64(g.KW))
        ci = b.srem(row, g.C)
        dst = b.mul(row, co)
        zero(kb, kb.out, dst, co, t)

        def pixel(n, oh, ow):
            ih = g.source(oh, kh, g.SH, g.DH, g.PT)
            iw = g.source(ow, kw, g.SW, g.DW, g.PL)
            with b.if_then(g.inside(ih, iw)):
                xv = kb.load(kb.ins[0], b.add(b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C), ci), t)
                src = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), co)
                kb.loop(c64(0), co, lambda j: add_into(
                    kb, kb.out, b.add(dst, j),
                    b.fmul(xv, kb.load(kb.ins[1], b.add(src, j), t)), t), name="co")

        kb.nest([g.N, g.OH, g.OW], lambda c: pixel(*c))

    kb.loop(lo, hi, kernel_row, name="krow")
    return kb.finish()


for _r in (1, 2):
    register(f"conv{_r}d", "kernel", emit_conv)
    register(f"conv{_r}d_input_grad", "kernel", emit_conv_input_grad)
    register(f"conv{_r}d_weight_grad", "kernel", emit_conv_weight_grad)

from graphc.backends.llvm import emit_pool  # noqa: E402,F401  (pooling kernels)

__all__ = ["Geometry", "geometry_of", "zero", "add_into", "Reducer"]

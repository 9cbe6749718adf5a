"""Window sweeps inside op kernels, shared by the direct convolution (emit_conv.py) and the
pooling kernels (emit_pool.py): sizes as i64 values, images (N, H, W, C) -> (N, OH, OW, ...),
a 1-D sweep being the 2-D one with height 1."""

from __future__ import annotations

from graphc.backends.llvm.irutil import c64, const


class Window:
    """Sizes (i64 values) of one window sweep, as 2-D."""

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

        def ok(i, n):
            return b.and_(b.icmp_signed(">=", i, c64(0)), b.icmp_signed("<", i, n))

        return b.and_(ok(ih, self.H), ok(iw, self.W))

    def pixel(self, n, h, w, H, W):
        b = self.b
        return b.add(b.mul(b.add(b.mul(n, H), h), W), w)

    def window(self, oh, ow, body):
        """For every kernel offset: body(kh, kw, ih, iw, inside)."""
        kb = self.kb

        def at(kh, kw):
            ih = self.source(oh, kh, self.SH, self.DH, self.PT)
            iw = self.source(ow, kw, self.SW, self.DW, self.PL)
            body(kh, kw, ih, iw, self.inside(ih, iw))

        kb.loop(c64(0), c64(self.KH),
                lambda kh: kb.loop(c64(0), c64(self.KW), lambda kw: at(kh, kw), name="kw"),
                name="kh")

    def fold(self, oh, ow, init, step):
        """acc = step(ih, iw, inside, acc) over every kernel offset, from `init`: the last acc."""
        kb = self.kb

        def row(kh, acc):
            def col(kw, acc):
                ih = self.source(oh, kh, self.SH, self.DH, self.PT)
                iw = self.source(ow, kw, self.SW, self.DW, self.PL)
                return [step(ih, iw, self.inside(ih, iw), acc)]

            return kb.loop(c64(0), c64(self.KW), col, [acc], "kw")

        (last,) = kb.loop(c64(0), c64(self.KH), row, [init], "kh")
        return last

    def output_rows(self, body):
        """Split the (n, oh) rows between threads: body(n, oh)."""
        b, kb = self.b, self.kb
        lo, hi = kb.split(b.mul(self.N, self.OH))
        kb.loop(lo, hi, lambda r: body(b.sdiv(r, self.OH), b.srem(r, self.OH)), name="row")

    def images(self, body):
        lo, hi = self.kb.split(self.N)
        self.kb.loop(lo, hi, body, name="n")


def geometry_of(kb, node, image, out) -> Window:
    strides = node.attr("strides")
    dilation = node.attr("dilation") or (1,) * len(strides)
    return Window(kb, kb.dims(image), kb.dims(out), kernel_of(node), strides, dilation,
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

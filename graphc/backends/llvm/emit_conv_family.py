"""LLVM kernels of the convolution family (graphc.ops.conv_family).

conv{1,2}d_transpose is the input gradient of a forward convolution with the same attributes,
and that kernel (emit_conv_grad) reads its geometry from the node's own output shape and
attributes, so it serves both ops.

The depthwise convolutions are direct loop nests over windows (a GEMM does not pay: each output
channel reads one input channel). Channel j = c * M + m of the output, flattened, is also entry j
of a kernel tap's (C, M) slice, so the innermost loops run over j, contiguous in both:
    forward       threads split output rows; out[pixel, j] = sum over taps x[src, j / M] w[tap, j]
    input grad    threads split images; each output pixel scatters dy[pixel, j] w[tap, j]
                  into gx[src, j / M] of its own image (no races)
    weight grad   threads split dW's rows (tap, c); each sums x[src, c] dy[pixel, c * M + m]
"""

from __future__ import annotations

from graphc.backends.llvm.emit_conv_grad import emit_conv_input_grad
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64
from graphc.backends.llvm.windows import add_into, geometry_of, zero


def emit_depthwise(kb, node):
    x, w = node.inputs
    g = geometry_of(kb, node, x, node)
    b, t, M = kb.b, node.dtype, w.shape[-1]
    CM = b.mul(g.C, c64(M))

    def row(n, oh):
        def column(ow):
            base = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), CM)
            zero(kb, kb.out, base, CM, t)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    src = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), CM)
                    kb.loop(c64(0), CM, lambda j: add_into(kb, kb.out, b.add(base, j), b.fmul(
                        kb.load(kb.ins[0], b.add(src, b.sdiv(j, c64(M))), t),
                        kb.load(kb.ins[1], b.add(w_row, j), t)), t), name="j")

            g.window(oh, ow, tap)

        kb.loop(c64(0), g.OW, column, name="ow")

    g.output_rows(row)
    return kb.finish()


def emit_depthwise_input_grad(kb, node):
    dy, w = node.inputs[:2]  # the third, the forward input, lends only its sizes
    g = geometry_of(kb, node, node, dy)
    b, t, M = kb.b, node.dtype, w.shape[-1]
    CM = b.mul(g.C, c64(M))
    image = b.mul(b.mul(g.H, g.W), g.C)

    def one_image(n):
        zero(kb, kb.out, b.mul(n, image), image, t)

        def out_pixel(p):
            oh, ow = b.sdiv(p, g.OW), b.srem(p, g.OW)
            dy_row = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), CM)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    dst = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), CM)
                    kb.loop(c64(0), CM, lambda j: add_into(
                        kb, kb.out, b.add(dst, b.sdiv(j, c64(M))), b.fmul(
                            kb.load(kb.ins[0], b.add(dy_row, j), t),
                            kb.load(kb.ins[1], b.add(w_row, j), t)), t), name="j")

            g.window(oh, ow, tap)

        kb.loop(c64(0), b.mul(g.OH, g.OW), out_pixel, name="p")

    g.images(one_image)
    return kb.finish()


def emit_depthwise_weight_grad(kb, node):
    x, dy = node.inputs
    g = geometry_of(kb, node, x, dy)
    b, t, M = kb.b, node.dtype, node.shape[-1]
    CM = b.mul(g.C, c64(M))
    lo, hi = kb.split(b.mul(c64(g.KH * g.KW), g.C))
    pixels = b.mul(g.N, b.mul(g.OH, g.OW))

    def weight_row(k):
        tap, c = b.sdiv(k, g.C), b.srem(k, g.C)
        kh, kw = b.sdiv(tap, c64(g.KW)), b.srem(tap, c64(g.KW))
        out = b.mul(k, c64(M))
        zero(kb, kb.out, out, c64(M), t)

        def pixel(r):
            n, p = b.sdiv(r, b.mul(g.OH, g.OW)), b.srem(r, b.mul(g.OH, g.OW))
            oh, ow = b.sdiv(p, g.OW), b.srem(p, g.OW)
            ih = g.source(oh, kh, g.SH, g.DH, g.PT)
            iw = g.source(ow, kw, g.SW, g.DW, g.PL)
            with b.if_then(g.inside(ih, iw)):
                xv = kb.load(kb.ins[0], b.add(b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C), c), t)
                dy_row = b.add(b.mul(r, CM), b.mul(c, c64(M)))
                kb.loop(c64(0), c64(M), lambda m: add_into(kb, kb.out, b.add(out, m), b.fmul(
                    xv, kb.load(kb.ins[1], b.add(dy_row, m), t)), t), name="m")

        kb.loop(c64(0), pixels, pixel, name="r")

    kb.loop(lo, hi, weight_row, name="k")
    return kb.finish()


for _r in (1, 2):
    register(f"conv{_r}d_transpose", "kernel", emit_conv_input_grad)
    register(f"depthwise_conv{_r}d", "kernel", emit_depthwise)
    register(f"depthwise_conv{_r}d_input_grad", "kernel", emit_depthwise_input_grad)
    register(f"depthwise_conv{_r}d_weight_grad", "kernel", emit_depthwise_weight_grad)

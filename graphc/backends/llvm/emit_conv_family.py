"""LLVM kernels of the convolution family (graphc.ops.conv_family).

conv{1,2}d_transpose is the input gradient of a forward convolution with the same attributes,
and that kernel (emit_conv_grad) reads its geometry from the node's own output shape and
attributes, so it serves both ops.

The depthwise convolutions are direct loop nests over windows (a GEMM does not pay: each output
channel reads one input channel). Channel j = c * M + m of the output, flattened, is also entry j
of a kernel tap's (C, M) slice, so the innermost loops run over j, contiguous in both:
    forward       threads split images; out[pixel, j] = sum over taps x[src, j / M] w[tap, j]
    input grad    threads split images; each output pixel scatters dy[pixel, j] w[tap, j]
                  into gx[src, j / M] of its own image (no races)
    weight grad   threads split the kernel's taps; each sums x[src, j / M] dy[pixel, j] into
                  its (C, M) slice
"""

from __future__ import annotations

from graphc.backends.llvm.emit_conv_grad import emit_conv_input_grad
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64
from graphc.backends.llvm.windows import add_into, geometry_of, zero


def sweep_images(kb, node, g, image, taps):
    """Each thread its own images: zero the kernel's output image (`image` values), then for
    every output pixel and every kernel tap inside the input,
    taps(pixel_row, source_row, tap_row): rows of the (.., C * M) output/gradient, the
    (.., C) input and the kernel's (C, M) slice."""
    b = kb.b
    CM = b.mul(g.C, c64(multiplier(node)))

    def one_image(n):
        zero(kb, kb.out, b.mul(n, image), image, node.dtype)

        def out_pixel(p):
            oh, ow = b.sdiv(p, g.OW), b.srem(p, g.OW)
            pixel_row = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), CM)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    taps(pixel_row, b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C),
                         b.mul(b.add(b.mul(kh, c64(g.KW)), kw), CM))

            g.window(oh, ow, tap)

        kb.loop(c64(0), b.mul(g.OH, g.OW), out_pixel, name="p")

    g.images(one_image)
    return kb.finish()


def multiplier(node) -> int:
    """M: the kernel's last axis (the weight gradient's output is the kernel)."""
    return node.shape[-1] if node.op.endswith("weight_grad") else node.inputs[1].shape[-1]


def channel_products(kb, node, g, target_index, left, right):
    """out[target_index(j, c)] += left * right for j < C * M, each factor a (pointer, index of
    (j, c)) pair; index j of a (C, M) slice is input channel c = j / M."""
    b, t, M = kb.b, node.dtype, multiplier(node)

    def channel(j):
        c = b.sdiv(j, c64(M))
        product = b.fmul(*(kb.load(ptr, index(j, c), t) for ptr, index in (left, right)))
        add_into(kb, kb.out, target_index(j, c), product, t)

    kb.loop(c64(0), b.mul(g.C, c64(M)), channel, name="j")


def emit_depthwise_sweep(kb, node):
    """forward:    out[pixel, j] += x[source, j / M] * w[tap, j] over the taps;
    input grad: gx[source, j / M] += dy[pixel, j] * w[tap, j] (its third input lends sizes)."""
    forward = not node.op.endswith("input_grad")
    image_node, out_node = (node.inputs[0], node) if forward else (node, node.inputs[0])
    g = geometry_of(kb, node, image_node, out_node)
    b = kb.b
    image = kb.count(kb.out_dims()[1:])

    def taps(pixel_row, source_row, tap_row):
        def pixel(j, c):
            return b.add(pixel_row, j)

        def source(j, c):
            return b.add(source_row, c)

        target, read = (pixel, source) if forward else (source, pixel)
        channel_products(kb, node, g, target, (kb.ins[0], read),
                         (kb.ins[1], lambda j, c: b.add(tap_row, j)))

    return sweep_images(kb, node, g, image, taps)


def emit_depthwise_weight_grad(kb, node):
    """Each thread its own kernel taps (all of their (C, M) slice): over every output pixel
    whose window puts the tap inside the input, dW[tap, j] += x[source, j / M] * dy[pixel, j]."""
    g = geometry_of(kb, node, node.inputs[0], node.inputs[1])
    b = kb.b
    CM = b.mul(g.C, c64(multiplier(node)))
    lo, hi = kb.split(c64(g.KH * g.KW))
    per_image = b.mul(g.OH, g.OW)

    def own_tap(tap):
        kh, kw = b.sdiv(tap, c64(g.KW)), b.srem(tap, c64(g.KW))
        tap_row = b.mul(tap, CM)
        zero(kb, kb.out, tap_row, CM, node.dtype)

        def pixel(r):
            n, p = b.sdiv(r, per_image), b.srem(r, per_image)
            ih = g.source(b.sdiv(p, g.OW), kh, g.SH, g.DH, g.PT)
            iw = g.source(b.srem(p, g.OW), kw, g.SW, g.DW, g.PL)
            source_row = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
            with b.if_then(g.inside(ih, iw)):
                channel_products(kb, node, g, lambda j, c: b.add(tap_row, j),
                                 (kb.ins[0], lambda j, c: b.add(source_row, c)),
                                 (kb.ins[1], lambda j, c: b.add(b.mul(r, CM), j)))

        kb.loop(c64(0), b.mul(g.N, per_image), pixel, name="r")

    kb.loop(lo, hi, own_tap, name="tap")
    return kb.finish()


for _r in (1, 2):
    register(f"conv{_r}d_transpose", "kernel", emit_conv_input_grad)
    register(f"depthwise_conv{_r}d", "kernel", emit_depthwise_sweep)
    register(f"depthwise_conv{_r}d_input_grad", "kernel", emit_depthwise_sweep)
    register(f"depthwise_conv{_r}d_weight_grad", "kernel", emit_depthwise_weight_grad)

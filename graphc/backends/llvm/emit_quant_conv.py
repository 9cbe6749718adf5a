"""The LLVM kernels of quantized_conv1d / quantized_conv2d (graphc/ops/quant_conv.py): each
thread takes its share of the output pixels, a block at a time: the block's windows become
u8 GEMM rows without a float column matrix, then the one-thread int8 GEMM of emit_quant.py
runs with its fused dequantize + bias + activation epilogue (float64: int32 sums, dequantized
after). The rows come from quant_windows.py (each window quantized from the input) after
quant_image.py's work once per image when an image fits the thread's stack: with a static
input scale the image quantized to bytes (windows are then byte copies), with dynamic scales
the pixels' abs-maxima.

With a fused max pooling (the op's `pool`), blocks hold whole pooling windows (their rows in
window order), the GEMM writes the block's pixels to the thread's stack and each window's
maximum, a vector of channels at a time, goes to the output: the pre-pooling image never
reaches memory.
"""

from __future__ import annotations

import math

from llvmlite import ir

from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_gemm import conv_geometry
from graphc.backends.llvm.emit_quant import QuantizedMatmul, column_terms, dequantize_block
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.gemm_amx_int8 import a_rows_bytes
from graphc.backends.llvm.irutil import I1, I8, I32, ITEMSIZE, PTR, c64, for_range
from graphc.backends.llvm.quant_image import (
    define_byte_windows,
    define_pixel_maxima,
    define_quantized_image,
    image_bytes,
    image_fits,
)
from graphc.backends.llvm.quant_windows import OFFSET, define_quantized_windows


def pool_window(node) -> tuple:
    """The fused pooling's window as 2-D (1-D: height 1; none: 1 x 1)."""
    pool = tuple(node.attr("pool") or (1, 1))
    return pool if len(pool) == 2 else (1, *pool)


class ConvRows:
    """One kernel being emitted: its geometry, this thread's rows and stack buffers."""

    def __init__(self, kb, node):
        x = node.inputs[0]
        kernel = tuple(node.attr("kernel_size"))
        self.g = conv_geometry(node, x.shape, kernel + (x.shape[-1], node.shape[-1]))
        self.kb, self.b, self.q = kb, kb.b, QuantizedMatmul(kb, node, self.g.K)
        self.pool = pool_window(node)
        self.window = math.prod(self.pool)
        self.per_block = max(1, self.q.block // self.window) * self.window  # whole windows
        self.per_image = math.prod(node.shape[1:-1]) * self.window  # GEMM rows of one image
        self.static = node.attr("input_scale")

    def buffers(self):
        q, n = self.q, self.per_block
        self.comp, self.col_scale = column_terms(q, ir.Constant(I1, 0))  # many rows: comp once
        # the AMX GEMM reads whole tiles of rows in place, past a remainder: a_rows_bytes
        self.a_block, self.row_scale = q.buffer(I8, a_rows_bytes(n, q.Kp)), q.buffer(q.T, n)
        self.sums = q.buffer(I32, n * q.N) if q.dtype == "float64" else None
        self.image = q.buffer(q.T, n * q.N) if self.window > 1 else None

    def blocks(self, lo, hi, fill):
        """GEMM rows lo..hi a block at a time: fill(first, rows) writes the block's A rows."""
        b, n = self.b, self.per_block

        def block(k):
            first = b.add(lo, b.mul(k, c64(n)))
            rows = b.sub(hi, first)
            rows = b.select(b.icmp_signed("<", rows, c64(n)), rows, c64(n))
            fill(first, rows)
            self.multiply(first, rows)
        count = b.sdiv(b.add(b.sub(hi, lo), c64(n - 1)), c64(n))
        self.kb.loop(c64(0), count, block, name="block")

    def multiply(self, first, rows):
        """The GEMM of a filled block into the output (pooled: through the stack)."""
        b, q = self.b, self.q
        out = q.at(self.kb.out, b.mul(b.sdiv(first, c64(self.window)), c64(q.N)), q.T)
        pixels = out if self.image is None else self.image
        terms = (self.comp, self.row_scale, self.col_scale)
        if self.sums is None:
            q.gemm("dequantize", rows, self.a_block, *terms, pixels)
        else:
            q.gemm("int32", rows, self.a_block, None, None, None, self.sums)
            dequantize_block(q, rows, self.sums, *terms, pixels)
        if self.image is not None:
            pool_block(q, self.window, b.sdiv(rows, c64(self.window)), self.image, out)


def emit_quantized_conv(kb, node):
    c, b = ConvRows(kb, node), kb.b
    lo, hi = (b.mul(end, c64(c.window)) for end in kb.split(b.mul(
        kb.dims(node)[0], c64(math.prod(node.shape[1:-1])))))
    with b.if_then(b.icmp_signed(">=", lo, hi)):
        b.ret_void()
    c.buffers()
    if not image_fits(c.g):
        rows_of_windows(c, lo, hi)
    elif c.static is None:
        rows_of_images(c, lo, hi, pixel_maxima(c))
    else:
        rows_of_images(c, lo, hi, byte_images(c))
    return kb.finish()


def scale_constant(c):
    return ir.Constant(c.q.T, 1.0 if c.static is None else float(c.static))


def rows_of_windows(c, lo, hi):
    mode = "dynamic" if c.static is None else "static"
    windows = define_quantized_windows(c.kb.module, c.q.dtype, c.g, mode, c.pool)
    null = ir.Constant(PTR, None)
    c.blocks(lo, hi, lambda first, rows: c.b.call(
        windows, [first, rows, scale_constant(c), c.kb.ins[0], c.a_block, c.row_scale, null]))


def pixel_maxima(c):
    """(prepare(x), fill(x, r0, rows)) of one image x: dynamic scales from pixel maxima."""
    b, g, q = c.b, c.g, c.q
    find = define_pixel_maxima(c.kb.module, q.dtype, g.H * g.W, g.C)
    windows = define_quantized_windows(c.kb.module, q.dtype, g, "pixels", c.pool)
    maxima = q.buffer(ir.IntType(8 * ITEMSIZE[q.dtype]), g.H * g.W)
    return (lambda x: b.call(find, [x, maxima]),
            lambda x, r0, rows: b.call(windows, [r0, rows, scale_constant(c), x, c.a_block,
                                                 c.row_scale, maxima]))


def byte_images(c):
    """(prepare(x), fill(x, r0, rows)) of one image x: a static scale: bytes, then copies."""
    b, g, q = c.b, c.g, c.q
    quantize = define_quantized_image(c.kb.module, q.dtype, g)
    copy = define_byte_windows(c.kb.module, g, c.pool)
    one, scale = ir.Constant(q.T, 1.0), scale_constant(c)
    for_range(b, c64(0), c64(c.per_block), lambda i: q.put(b.fdiv(one, scale), c.row_scale, i))
    image = q.buffer(I8, image_bytes(g))
    # the padding of every image: bytes 128 (zero), set once; images fill only the inside
    for_range(b, c64(0), c64(image_bytes(g)), lambda k: q.put(ir.Constant(I8, OFFSET), image, k))
    return (lambda x: b.call(quantize, [scale, x, image]),
            lambda x, r0, rows: b.call(copy, [r0, rows, image, c.a_block]))


def rows_of_images(c, lo, hi, work):
    """Image by image: prepare(its x) once, then its blocks: fill(x, first row in the image,
    rows)."""
    b, g, q, P = c.b, c.g, c.q, c.per_image
    prepare, fill = work

    def each_image(n):
        start = b.mul(n, c64(P))
        x = q.at(c.kb.ins[0], b.mul(n, c64(g.H * g.W * g.C)), q.T)
        prepare(x)
        first = b.select(b.icmp_signed(">", lo, start), lo, start)
        end = b.add(start, c64(P))
        last = b.select(b.icmp_signed("<", hi, end), hi, end)
        c.blocks(first, last, lambda r0, rows: fill(x, b.sub(r0, start), rows))
    for_range(b, b.sdiv(lo, c64(P)), b.add(b.sdiv(b.sub(hi, c64(1)), c64(P)), c64(1)),
              each_image, name="n")


def pool_block(q, window, pooled, image, out):
    """out[p] = the channel-wise max of image rows p * window .. (p + 1) * window - 1."""
    b, vec = q.b, ChannelVectors(q.b, q.dtype)

    def pixel(p):
        for first, lanes in vec.chunks(q.N):
            best = None
            for j in range(window):
                at = b.add(b.mul(b.add(b.mul(p, c64(window)), c64(j)), c64(q.N)), c64(first))
                value = vec.load(image, at, lanes)
                best = value if best is None else vec.maximum(best, value)
            vec.store(best, out, b.add(b.mul(p, c64(q.N)), c64(first)))
    for_range(b, c64(0), pooled, pixel, name="p")


register("quantized_conv1d", "kernel", emit_quantized_conv)
register("quantized_conv2d", "kernel", emit_quantized_conv)

"""The LLVM kernels of quantized_conv1d / quantized_conv2d (graphc/ops/quant_conv.py): each
thread takes its share of the output pixels, a block at a time: the block's windows are
quantized straight from the input into u8 GEMM rows (quant_windows.py: no float column
matrix), then the one-thread int8 GEMM of emit_quant.py runs with its fused dequantize + bias +
activation epilogue (float64: int32 sums, dequantized after).

With a fused max pooling (the op's `pool`), blocks hold whole pooling windows (their rows in
window order, quant_windows.py), the GEMM writes the block's pixels to the thread's stack and
each window's maximum, a vector of channels at a time, goes to the output: the pre-pooling
image never reaches memory.
"""

from __future__ import annotations

import math

from llvmlite import ir

from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_gemm import conv_geometry
from graphc.backends.llvm.emit_quant import QuantizedMatmul, column_terms, dequantize_block
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import I8, I32, c64, for_range
from graphc.backends.llvm.quant_windows import define_quantized_windows


def pool_window(node) -> tuple:
    """The fused pooling's window as 2-D (1-D: height 1; none: 1 x 1)."""
    pool = tuple(node.attr("pool") or (1, 1))
    return pool if len(pool) == 2 else (1, *pool)


def emit_quantized_conv(kb, node):
    x = node.inputs[0]
    kernel = tuple(node.attr("kernel_size"))
    g = conv_geometry(node, x.shape, kernel + (x.shape[-1], node.shape[-1]))
    q, b = QuantizedMatmul(kb, node, g.K), kb.b
    pool = pool_window(node)
    window = math.prod(pool)
    rows_per_block = max(1, q.block // window) * window  # whole pooling windows
    lo, hi = (b.mul(end, c64(window)) for end in kb.split(b.mul(
        kb.dims(node)[0], c64(math.prod(node.shape[1:-1])))))
    with b.if_then(b.icmp_signed(">=", lo, hi)):
        b.ret_void()
    static = node.attr("input_scale")
    windows = define_quantized_windows(kb.module, q.dtype, g, static is None, pool)
    scale = ir.Constant(q.T, 1.0 if static is None else float(static))
    comp, col_scale = column_terms(q)
    a_block, row_scale = q.buffer(I8, rows_per_block * q.Kp), q.buffer(q.T, rows_per_block)
    sums = q.buffer(I32, rows_per_block * q.N) if q.dtype == "float64" else None
    image = q.buffer(q.T, rows_per_block * q.N) if window > 1 else None

    def block(k):
        first = b.add(lo, b.mul(k, c64(rows_per_block)))
        rows = b.sub(hi, first)
        rows = b.select(b.icmp_signed("<", rows, c64(rows_per_block)), rows, c64(rows_per_block))
        b.call(windows, [first, rows, scale, kb.ins[0], a_block, row_scale])
        out = q.at(kb.out, b.mul(b.sdiv(first, c64(window)), c64(q.N)), q.T)
        pixels = out if image is None else image
        if sums is None:
            q.gemm("dequantize", rows, a_block, comp, row_scale, col_scale, pixels)
        else:
            q.gemm("int32", rows, a_block, None, None, None, sums)
            dequantize_block(q, rows, sums, comp, row_scale, col_scale, pixels)
        if image is not None:
            pool_block(q, window, b.sdiv(rows, c64(window)), image, out)
    count = b.sdiv(b.add(b.sub(hi, lo), c64(rows_per_block - 1)), c64(rows_per_block))
    kb.loop(c64(0), count, block, name="block")
    return kb.finish()


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

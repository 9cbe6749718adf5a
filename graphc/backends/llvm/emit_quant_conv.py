"""The LLVM kernels of quantized_conv1d / quantized_conv2d (graphc/ops/quant_conv.py): each
thread takes its share of the output pixels, a block at a time: im2col of the block into its
stack (conv_kernels.define_im2col_block, the float convolution's), then emit_quant's rows
kernel (quantize each window, int8 GEMM, fused dequantize + bias + activation)."""

from __future__ import annotations

import math

from graphc.backends.llvm.conv_gemm import conv_geometry
from graphc.backends.llvm.conv_kernels import define_im2col_block
from graphc.backends.llvm.emit_quant import QuantizedMatmul, emit_rows
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64


def emit_quantized_conv(kb, node):
    x = node.inputs[0]
    kernel = tuple(node.attr("kernel_size"))
    g = conv_geometry(node, x.shape, kernel + (x.shape[-1], node.shape[-1]))
    q = QuantizedMatmul(kb, node, math.prod(kernel) * x.shape[-1])
    b = kb.b
    lo, hi = kb.split(b.mul(kb.dims(node)[0], c64(math.prod(node.shape[1:-1]))))
    cols = q.buffer(q.T, q.block * q.K)
    im2col = define_im2col_block(kb.module, q.dtype, g)

    def windows(first, rows):
        b.call(im2col, [first, rows, c64(0), c64(q.K), kb.ins[0], cols])
        return cols
    emit_rows(q, lo, hi, windows)
    return kb.finish()


register("quantized_conv1d", "kernel", emit_quantized_conv)
register("quantized_conv2d", "kernel", emit_quantized_conv)

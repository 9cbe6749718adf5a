"""Convolutions with bfloat16 operands (conv1d/conv2d, their input and weight gradients), on the
bfloat16 GEMM (gemm_bf16.program_gemm: AMX tiles, vdpbf16ps or its emulation) with float32
accumulation, each thread alone on its own blocks (as conv_gemm.ConvBlocks runs float32):

    forward       each thread a range of output pixels, FORWARD_ROWS at a time:
                  im2col (bfloat16 bits, copied) -> y = act(cols @ W + bias), rounded once
                  (max pooling fused: a pooled row's conv rows into a buffer, then pooled)
    input grad    each thread whole images, as many per pass as a block holds: cols = dy @ W^T
                  in float32, col2im into float32 images of its own, rounded once into dx
    weight grad   each thread a range of dW's rows, <= WGRAD_WIDTH at a time, over all pixels
                  WGRAD_PIXELS at a time: dy transposed in 16 x 16 register tiles, im2col,
                  dW^T += dy^T @ cols in float32, rounded once into dW

Every result is a float32 sum rounded once to bfloat16, as the interpreter's conv ops compute
(widened operands, float32 arithmetic, one rounding); the sums run in another order, so the
two agree to within one bfloat16 step of the result plus float32 order effects (99.97% of the
bits equal on a 3x3x512 -> 512 layer).
The GEMM packs its operands into a workspace of each thread's own (ThreadBuffers: its stack, or
the heap when large), and runs with nthreads = 1 (its barrier then returns at once).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles
from graphc.backends.llvm.bf16 import narrow_bits
from graphc.backends.llvm.conv_bf16_bias import BiasSums
from graphc.backends.llvm.conv_bf16_dgrad import SLACK, column_product
from graphc.backends.llvm.conv_bf16_parts import (
    WGRAD_PIXELS,
    WGRAD_WIDTH,
    ThreadBuffers,
    ThreadGemm,
    elem,
    round_into,
    transpose_rows,
    zero_floats,
)
from graphc.backends.llvm.conv_bf16_wgrad import emit_conv_weight_grad_amx
from graphc.backends.llvm.conv_gemm import ConvBlocks, conv_geometry, kernel_shape
from graphc.backends.llvm.conv_kernels import Sweep, define_block, define_col2im_block
from graphc.backends.llvm.conv_pool import PoolWindow, pool_row
from graphc.backends.llvm.irutil import F32, I16, c64, for_range

FORWARD_ROWS = 512  # output pixels per forward / input-grad GEMM (fewer for long im2col rows)
BLOCK_BYTES = 1 << 18  # a thread's bfloat16 column block stays this small (in its L2)


def block_rows(row_elems: int) -> int:
    """Pixels per block: FORWARD_ROWS, fewer (a multiple of 32, >= 32) for long rows."""
    return max(32, min(FORWARD_ROWS, BLOCK_BYTES // (2 * row_elems)) // 32 * 32)


def define_im2col_bf16(module: ir.Module, g) -> ir.Function:
    """cols[i, k - k0] = x under column k (= tap * C + channel) of output position r0 + i, for
    i < rows and k0 <= k < k1, zero in the padding: bits copied, a tap's channels at a time."""
    fn, b, a = define_block(module, f"graphc_im2col_bf16_{g.key}", ("x", "cols"))
    if b is None:
        return fn
    s, k0, k1 = Sweep(b, g), a["k0"], a["k1"]
    width = b.sub(k1, k0)

    def row(i):
        n, oh, ow = s.position(b.add(a["r0"], i))

        def tap(t, ih, iw, inside):
            start = b.mul(t, c64(g.C))
            c_lo = b.select(b.icmp_signed(">", k0, start), b.sub(k0, start), c64(0))
            c_hi = b.select(b.icmp_signed("<", b.sub(k1, start), c64(g.C)), b.sub(k1, start),
                            c64(g.C))
            src = b.select(inside, s.pixel(n, ih, iw), c64(0))  # read in bounds, then mask
            dst = b.add(b.mul(i, width), b.sub(start, k0))

            def channel(c):
                value = b.load(elem(b, a["x"], b.add(src, c)), typ=I16)
                b.store(b.select(inside, value, ir.Constant(I16, 0)),
                        elem(b, a["cols"], b.add(dst, c)))

            for_range(b, c_lo, c_hi, channel, name="c")

        s.taps(oh, ow, tap)

    for_range(b, c64(0), a["rows"], row, name="i")
    b.ret_void()
    return fn


class ForwardBlocks:
    """The forward GEMM of a block of output pixels: im2col (unless pointwise), then
    y = act(cols @ W + bias) in the GEMM's epilogue, rounded once, into bfloat16 C."""

    def __init__(self, kb, node, bias, activation, rows_at_most=None):
        x, w = node.inputs
        self.kb, self.bias = kb, bias
        self.ck = ck = ConvBlocks(kb, node, x.shape, w.shape, w.shape[-1])
        self.rows = block_rows(ck.g.K) if rows_at_most is None else min(
            rows_at_most, block_rows(ck.g.K))
        self.buffers = ThreadBuffers(kb)
        self.gemm = ThreadGemm(self.buffers, (False, False), bias is not None, activation,
                               "bfloat16", (self.rows, ck.cout, ck.g.K))
        self.cols = None if ck.pointwise else self.buffers.array(I16, self.rows * ck.g.K)
        self.im2col = define_im2col_bf16(kb.module, ck.g)

    def __call__(self, first, count, C):
        """Output pixels first .. first + count into C (rows of cout)."""
        b, ck, K, cout = self.kb.b, self.ck, c64(self.ck.g.K), c64(self.ck.cout)
        if ck.pointwise:
            A = ck.at(self.kb.ins[0], b.mul(first, K))
        else:
            b.call(self.im2col, [first, count, c64(0), K, self.kb.ins[0], self.cols])
            A = self.cols
        self.gemm(count, cout, K, A, K, self.kb.ins[1], cout, C, cout, self.bias)


def emit_conv_bf16(kb, node, bias, activation, pool=None):
    """The forward 'dense' kernel: per block im2col, then the GEMM whose epilogue adds the
    bias and applies the activation, its bfloat16 result written in place (max pooling
    fused: emit_conv_bf16_pooled)."""
    if pool is not None:
        return emit_conv_bf16_pooled(kb, node, bias, activation, pool)
    forward = ForwardBlocks(kb, node, bias, activation)
    g, b, cout = forward.ck.g, kb.b, c64(forward.ck.cout)
    lo, hi = kb.split(b.mul(kb.dims(node)[0], c64(g.OH * g.OW)))
    forward.ck.blocks(lo, hi, forward.rows,
                      lambda first, count: forward(first, count,
                                                   forward.ck.at(kb.out, b.mul(first, cout))))
    return forward.buffers.finish()


def emit_conv_bf16_pooled(kb, node, bias, activation, pool_node):
    """Max pooling fused (windows that tile the result): each thread its pooled rows, the PH
    conv rows under one computed into a bfloat16 buffer of its own, then their windows'
    maxima stored (exact: the max of bfloat16 values is one of them), as conv_pool.py does."""
    x, w = node.inputs
    g, b = conv_geometry(node, x.shape, w.shape), kb.b
    pool = PoolWindow.of(pool_node, g)
    unit = pool.PH * g.OW  # conv pixels under one pooled row
    forward = ForwardBlocks(kb, node, bias, activation, rows_at_most=unit)
    ck = forward.ck
    image = forward.buffers.array(I16, unit * ck.cout)
    lo, hi = kb.split(b.mul(kb.dims(node)[0], c64(pool.POH)))

    def pooled_row(r):
        n, ph = b.sdiv(r, c64(pool.POH)), b.srem(r, c64(pool.POH))
        start = b.add(b.mul(n, c64(g.OH * g.OW)), b.mul(ph, c64(unit)))
        ck.blocks(start, b.add(start, c64(unit)), forward.rows, lambda first, count: forward(
            first, count, elem(b, image, b.mul(b.sub(first, start), c64(ck.cout)))))
        pool_row(kb, ck, pool, image, r)

    for_range(b, lo, hi, pooled_row, name="prow")
    return forward.buffers.finish()


def emit_conv_input_grad_bf16(kb, node):
    """Each thread its own images, as many at a time as one block holds: float32 images on
    its stack get col2im of cols = dy @ W^T block by block (conv_bf16_dgrad: AMX tiles fed
    directly, or the GEMM), then are rounded into dx."""
    w = node.inputs[1]
    ck = ConvBlocks(kb, node, node.shape, w.shape, w.shape[-1])
    g, b = ck.g, kb.b
    rows = block_rows(g.K)
    image, pixels = g.H * g.W * g.C, g.OH * g.OW
    group = max(1, rows // pixels)  # images per pass: fewer blocks, each a whole GEMM
    buffers = ThreadBuffers(kb)
    cols = buffers.array(F32, rows * g.K + SLACK)
    dx = buffers.array(F32, group * image)
    product = column_product(kb, ck, buffers, rows)
    col2im = define_col2im_block(kb.module, "float32", g)

    def images(n0, count):
        size = b.mul(count, c64(image))
        zero_floats(kb, dx, size)
        origin = elem(b, dx, b.neg(b.mul(n0, c64(image))), F32)  # col2im indexes the batch

        def block(first, rows_here):
            product(first, rows_here, cols)
            b.call(col2im, [first, rows_here, c64(0), c64(0), cols, origin])

        start = b.mul(n0, c64(pixels))
        ck.blocks(start, b.add(start, b.mul(count, c64(pixels))), rows, block)
        round_into(kb, dx, kb.out, b.mul(n0, c64(image)), size)

    lo, hi = kb.split(kb.dims(node)[0])
    ck.blocks(lo, hi, group, images)
    product.finish()
    return buffers.finish()


def emit_conv_weight_grad_bf16(kb, node):
    """On AMX tiles fed directly (conv_bf16_wgrad.py) where granted, else on the GEMM."""
    if gemm_amx_tiles.permission_granted():
        return emit_conv_weight_grad_amx(kb, node)
    return emit_conv_weight_grad_gemm(kb, node)


def emit_conv_weight_grad_gemm(kb, node):
    """Each thread a range of dW's rows (im2col columns), WGRAD_WIDTH at a time: over all
    pixels, WGRAD_PIXELS at a time, im2col of those columns and dy transposed, then
    dW^T += dy^T @ cols in float32 on its stack; rounded once into dW."""
    x = node.inputs[0]
    ck = ConvBlocks(kb, node, x.shape, kernel_shape(node), node.shape[-1])
    g, b, cout = ck.g, kb.b, c64(ck.cout)
    width = min(WGRAD_WIDTH, g.K)
    buffers = ThreadBuffers(kb)
    bias = BiasSums(kb, buffers, ck.cout) if node.op.endswith("weight_bias_grad") else None
    gemm = ThreadGemm(buffers, (False, False), False, "linear", "float32",
                      (ck.cout, width, WGRAD_PIXELS))
    cols = buffers.array(I16, WGRAD_PIXELS * width)
    dy_t = buffers.array(I16, WGRAD_PIXELS * ck.cout)
    part, total = (buffers.array(F32, width * ck.cout) for _ in range(2))
    im2col = define_im2col_bf16(kb.module, g)
    pixels = b.mul(kb.dims(x)[0], c64(g.OH * g.OW))

    def columns(k0, kcount):
        size = b.mul(kcount, cout)
        zero_floats(kb, total, size)

        def block(first, count):
            b.call(im2col, [first, count, k0, b.add(k0, kcount), kb.ins[0], cols])
            transpose_rows(kb, ck.at(kb.ins[-1], b.mul(first, cout)), count, ck.cout, dy_t)
            if bias is not None:
                bias.add_rows_once(k0, dy_t, WGRAD_PIXELS, count)
            gemm(cout, kcount, count, dy_t, c64(WGRAD_PIXELS), cols, kcount, part, kcount)
            for_range(b, c64(0), size, lambda i: add_float(b, total, part, i), name="sum")

        ck.blocks(c64(0), pixels, WGRAD_PIXELS, block)
        round_transposed(kb, total, kcount, ck.cout, ck.at(kb.out, b.mul(k0, cout)))
        if bias is not None:
            bias.round_once(k0, ck.at(kb.out, c64(g.K * ck.cout)))

    k_lo, k_hi = kb.split(c64(g.K))
    ck.blocks(k_lo, k_hi, width, columns)
    return buffers.finish()


def round_transposed(kb, src, rows, width: int, dst):
    """dst[k, j] = bfloat16(src[j, k]) for k < rows, j < width (src is width x rows)."""
    b = kb.b

    def row(k):
        def one(j):
            value = b.load(elem(b, src, b.add(b.mul(j, rows), k), F32), typ=F32)
            b.store(narrow_bits(b, value), elem(b, dst, b.add(b.mul(k, c64(width)), j)))

        for_range(b, c64(0), c64(width), one, name="rj")

    for_range(b, c64(0), rows, row, name="rk")


def add_float(b, total, part, i):
    target = elem(b, total, i, F32)
    b.store(b.fadd(b.load(target, typ=F32), b.load(elem(b, part, i, F32), typ=F32)), target)

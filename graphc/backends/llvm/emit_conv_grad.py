"""The gradient kernels of the convolutions (conv1d/conv2d_input_grad, _weight_grad), lowered
onto one-thread GEMMs over pixel blocks (conv_gemm.ConvBlocks):

    input grad    W^T once into a module global (threads share rows; the kernels' only
                  barrier), then each thread whole images, 128 pixels at a time:
                  cols = dy[block] @ W^T -> col2im into its own image (no races)
                  (windows inside the image and >= a vector of input channels: register
                  tiles of dx pixels, conv_direct_dgrad.py)
    weight grad   each thread a range of dW's rows (im2col columns), <= 128 at a time, over
                  all pixels 256 at a time: im2col(block, its columns) -> dW[rows] (+)= cols^T @ dy
                  (with run-time spatial sizes: a loop nest over the pixels instead; for
                  receptive fields under DIRECT_BELOW, register-blocked: conv_direct_grad.py;
                  windows inside the image and >= a vector of output channels, register
                  tiles of dW: conv_direct_wgrad.py; 'valid' with unit strides, an implicit
                  GEMM: conv_implicit.py)

'valid' unit-stride input gradients add each column row into dx as KH contiguous vector runs
(conv_implicit.define_col2im_runs_block). conv{1,2}d_(relu_)weight_bias_grad, made by
bias_grad_fusion.py, are the weight gradient with the bias gradient as one more row.
"""

from __future__ import annotations

from graphc.backends.llvm import bias_grad_fusion, conv_gemm
from graphc.backends.llvm.conv_bf16 import emit_conv_input_grad_bf16, emit_conv_weight_grad_bf16
from graphc.backends.llvm.conv_blocking import weight_grad_applies
from graphc.backends.llvm.conv_direct_dgrad import (
    direct_dgrad_applies,
    emit_conv_input_grad_wide,
    transposed_weights,
)
from graphc.backends.llvm.conv_direct_grad import emit_conv_weight_grad_blocked
from graphc.backends.llvm.conv_direct_wgrad import direct_wgrad_applies, emit_conv_weight_grad_wide
from graphc.backends.llvm.conv_gemm import ConvBlocks, implicit_applies, kernel_shape
from graphc.backends.llvm.conv_implicit import define_col2im_runs_block, emit_weight_grad_implicit
from graphc.backends.llvm.conv_kernels import define_col2im_block, define_im2col_block
from graphc.backends.llvm.emit_conv import DIRECT_BELOW
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import c64, const
from graphc.backends.llvm.windows import add_into, geometry_of, zero

WGRAD_ROWS = 256  # output pixels per weight-gradient GEMM (its inner dimension)


def emit_conv_input_grad(kb, node):
    """W^T once (threads share it, one barrier); then each thread its own images, BLOCK_ROWS
    output pixels at a time: cols = dy @ W^T, col2im into the image (zeroed first)."""
    if node.dtype == "bfloat16":  # bfloat16 operands: the bfloat16 GEMM (conv_bf16.py)
        return emit_conv_input_grad_bf16(kb, node)
    dy, w = node.inputs[:2]  # the third, the forward input, lends only its sizes
    if None in node.shape[1:-1]:
        return emit_conv_input_grad_direct(kb, node)
    if direct_dgrad_applies(node):  # no padding, >= a vector of channels: register tiles
        return emit_conv_input_grad_wide(kb, node)
    ck = ConvBlocks(kb, node, node.shape, w.shape, w.shape[-1])
    g, b, K, cout = ck.g, kb.b, c64(ck.g.K), c64(ck.cout)
    wt = transposed_weights(kb, kb.ins[1], g.K, ck.cout, ck.dtype)
    cols = ck.column_buffer(ck.block_rows, g.K)
    runs = define_col2im_runs_block if implicit_applies(g) else define_col2im_block
    col2im = runs(kb.module, ck.dtype, g)
    pixels, image = g.OH * g.OW, g.H * g.W * g.C

    def block(first, rows):
        target = ck.at(kb.out, b.mul(first, K)) if ck.pointwise else cols
        dy_rows = ck.at(kb.ins[0], b.mul(first, cout))
        ck.gemm(False, False, rows, K, cout, dy_rows, cout, wt, K, target, K)
        if not ck.pointwise:
            b.call(col2im, [first, rows, c64(0), c64(0), cols, kb.out])

    def one_image(n):
        if not ck.pointwise:
            zero(kb, kb.out, b.mul(n, c64(image)), c64(image), ck.dtype)
        start = b.mul(n, c64(pixels))
        ck.blocks(start, b.add(start, c64(pixels)), ck.block_rows, block)

    lo, hi = kb.split(kb.dims(node)[0])
    kb.loop(lo, hi, one_image, name="n")
    return kb.finish()


def emit_conv_input_grad_direct(kb, node):
    """Run-time spatial sizes: each thread its own images, zeroed, then every output pixel
    scatters dy[pixel] . w[tap, ci, :] into the input pixel under each tap, in a loop nest."""
    dy, w = node.inputs[:2]
    g = geometry_of(kb, node, node, dy)
    b, t, co = kb.b, node.dtype, c64(w.shape[-1])
    image = b.mul(b.mul(g.H, g.W), g.C)

    def one_image(n):
        zero(kb, kb.out, b.mul(n, image), image, t)

        def out_pixel(p):
            oh, ow = b.sdiv(p, g.OW), b.srem(p, g.OW)
            dy_row = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), co)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    dst = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), g.C)
                    kb.loop(c64(0), g.C, lambda ci: add_into(
                        kb, kb.out, b.add(dst, ci),
                        dot(kb, dy_row, b.mul(b.add(w_row, ci), co), co, t), t), name="ci")

            g.window(oh, ow, tap)

        kb.loop(c64(0), b.mul(g.OH, g.OW), out_pixel, name="p")

    g.images(one_image)
    return kb.finish()


def dot(kb, dy_row, w_row, count, dtype):
    """sum over j < count of dy[dy_row + j] * w[w_row + j]."""
    b = kb.b

    def step(j, acc):
        product = b.fmul(kb.load(kb.ins[0], b.add(dy_row, j), dtype),
                         kb.load(kb.ins[1], b.add(w_row, j), dtype))
        return [b.fadd(acc, product)]

    (total,) = kb.loop(c64(0), count, step, [const(dtype, 0)], "co")
    return total


def emit_conv_weight_grad(kb, node):
    """conv{1,2}d_weight_grad, and conv{1,2}d_(relu_)weight_bias_grad (bias_grad_fusion.py:
    dW's rows, then row K, the bias gradient): the direct and implicit kernels sum the bias row
    (and apply the ReLU mask) as they read dy; the others add a pass over dy for the sum."""
    if node.dtype == "bfloat16":  # bfloat16 operands: the bfloat16 GEMM (conv_bf16.py)
        return emit_conv_weight_grad_bf16(kb, node)
    x, with_bias = node.inputs[0], node.op.endswith("weight_bias_grad")
    if node.op.endswith("relu_weight_bias_grad") and not bias_grad_fusion.fuses(node):
        raise NotImplementedError(
            f"llvm backend: {node.op} runs in the direct and implicit-GEMM kernels only, not for "
            f"input {x.shape} and kernel {kernel_shape(node)} (node built at {node.site})")
    if None in x.shape[1:-1]:
        emit_conv_weight_grad_direct(kb, node)
        return finish_with_bias_sums(kb, node, with_bias)
    if conv_gemm.conv_geometry(node, x.shape, kernel_shape(node)).K < DIRECT_BELOW:
        return emit_conv_weight_grad_blocked(kb, node)
    if direct_wgrad_applies(node):  # no padding, >= a vector of channels: register tiles
        return emit_conv_weight_grad_wide(kb, node)
    ck = ConvBlocks(kb, node, x.shape, kernel_shape(node), node.shape[-1])
    if weight_grad_applies(ck.g, ck.cout, ck.dtype):
        return emit_weight_grad_implicit(kb, ck, with_bias)
    emit_weight_grad_gemm(kb, ck)
    return finish_with_bias_sums(kb, node, with_bias)


def emit_weight_grad_gemm(kb, ck):
    """Each thread owns a range of dW's rows (im2col columns) and walks all output pixels,
    WGRAD_ROWS at a time: im2col of just its columns, then dW[cols] (+)= cols^T @ dy."""
    width = min(conv_gemm.BLOCK_ROWS, ck.g.K)
    cols = ck.column_buffer(WGRAD_ROWS, width)
    pixels = kb.b.mul(kb.dims(kb.node.inputs[0])[0], c64(ck.g.OH * ck.g.OW))
    k_lo, k_hi = kb.split(c64(ck.g.K))
    ck.blocks(k_lo, k_hi, width,
              lambda k0, kcount: weight_grad_columns(kb, ck, cols, pixels, k0, kcount))


def finish_with_bias_sums(kb, node, with_bias):
    """With `with_bias`, row K of the output = dy summed over its pixels, each thread its
    share of the channels; then the kernel's end."""
    if with_bias:
        b, t, dy, cout = kb.b, node.dtype, node.inputs[1], node.shape[-1]
        pixels, row = kb.count(kb.dims(dy)[:-1]), c64((node.shape[0] - 1) * cout)
        lo, hi = kb.split(c64(cout))

        def channel(j):
            def add(p, total):
                return [b.fadd(total, kb.load(kb.ins[1], b.add(b.mul(p, c64(cout)), j), t))]

            (total,) = kb.loop(c64(0), pixels, add, [const(t, 0)], "p")
            kb.store(total, kb.out, b.add(row, j), t)

        kb.loop(lo, hi, channel, name="j")
    return kb.finish()


def weight_grad_columns(kb, ck, cols, pixels, k0, kcount):
    """dW[k0 : k0 + kcount] = sum over pixel blocks of cols^T @ dy (zero without pixels)."""
    g, b, cout = ck.g, kb.b, c64(ck.cout)
    im2col = define_im2col_block(kb.module, ck.dtype, g)
    dw = ck.at(kb.out, b.mul(k0, cout))
    with b.if_then(b.icmp_signed("==", pixels, c64(0))):  # no pixels: a zero gradient
        zero(kb, dw, c64(0), b.mul(kcount, cout), ck.dtype)

    def row_block(first, rows):
        if ck.pointwise:
            A, lda = ck.at(kb.ins[0], b.add(b.mul(first, c64(g.K)), k0)), c64(g.K)
        else:
            b.call(im2col, [first, rows, k0, b.add(k0, kcount), kb.ins[0], cols])
            A, lda = cols, kcount
        args = (kcount, cout, rows, A, lda, ck.at(kb.ins[1], b.mul(first, cout)), cout, dw, cout)
        with b.if_else(b.icmp_signed("==", first, c64(0))) as (first_block, later):
            with first_block:
                ck.gemm(True, False, *args)
            with later:
                ck.gemm(True, True, *args)

    ck.blocks(c64(0), pixels, WGRAD_ROWS, row_block)


def emit_conv_weight_grad_direct(kb, node):
    """Run-time spatial sizes: each thread owns a range of dW's rows (kh, kw, ci) and sums
    x[n, ih, iw, ci] * dy[n, oh, ow, :] over every output pixel, in a loop nest."""
    x, dy = node.inputs
    g = geometry_of(kb, node, x, dy)
    b, co, t = kb.b, kb.dims(node)[-1], node.dtype
    lo, hi = kb.split(b.mul(c64(g.KH * g.KW), g.C))
    pixels = b.mul(g.N, b.mul(g.OH, g.OW))

    def weight_row(k):
        tap, ci = b.sdiv(k, g.C), b.srem(k, g.C)
        kh, kw = b.sdiv(tap, c64(g.KW)), b.srem(tap, c64(g.KW))
        out = b.mul(k, co)
        zero(kb, kb.out, out, co, t)

        def pixel(r):
            n, p = b.sdiv(r, b.mul(g.OH, g.OW)), b.srem(r, b.mul(g.OH, g.OW))
            oh, ow = b.sdiv(p, g.OW), b.srem(p, g.OW)
            ih = g.source(oh, kh, g.SH, g.DH, g.PT)
            iw = g.source(ow, kw, g.SW, g.DW, g.PL)
            with b.if_then(g.inside(ih, iw)):
                xv = kb.load(kb.ins[0], b.add(b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C), ci), t)
                dy_row = b.mul(r, co)
                kb.loop(c64(0), co, lambda j: add_into(kb, kb.out, b.add(out, j), b.fmul(
                    xv, kb.load(kb.ins[1], b.add(dy_row, j), t)), t), name="co")

        kb.loop(c64(0), pixels, pixel, name="r")

    kb.loop(lo, hi, weight_row, name="k")


for _r in (1, 2):
    register(f"conv{_r}d_weight_grad", "kernel", emit_conv_weight_grad)
    register(f"conv{_r}d_weight_bias_grad", "kernel", emit_conv_weight_grad)
    register(f"conv{_r}d_relu_weight_bias_grad", "kernel", emit_conv_weight_grad)
    register(f"conv{_r}d_input_grad", "kernel", emit_conv_input_grad)

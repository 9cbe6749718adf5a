"""The forward convolution kernels (graphc/ops/conv.py): a 'dense' kernel of passes.fuse, the
convolution with its per-channel bias add and activation, lowered onto the GEMM (gemm.py).

    forward       each thread: a range of output pixels, 128 at a time:
                  im2col(block) -> y[block] = act(cols @ W + bias)

A static convolution with at least a machine vector of output channels, or whose im2col row
is shorter than DIRECT_BELOW (a first layer on one channel: 3 x 3 x 1), runs the
register-blocked direct kernel (conv_direct.py); with run-time spatial sizes, a direct loop
nest. Of the rest (fewer output channels than a vector), a 'valid' convolution with unit
strides runs as an implicit GEMM (conv_implicit.py: the GEMM reads the image's overlapping
rows, no column matrix; pooling fused or not); padded and strided ones copy whole taps into
the column block as vectors. A 1 x 1 convolution with unit strides and no padding skips
im2col (x is already the column matrix). The direct loops measured faster on the first layer
(1.0 vs 1.5 ms for 3x3x1->32 on 128 28x28 images, one thread); from 3x3x32->64 on, the GEMM
path is 1.7-2x faster than the scalar loop nest in all three directions. Against an earlier
version that shared each GEMM between the threads (a barrier before and after every chunk of
images), the MNIST convnet step on a busy machine went from 49 / 99 ms (best / median) to
38 / 61 ms, at 7% more time on one thread. The gradients are in emit_conv_grad.py.
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_bf16 import emit_conv_bf16
from graphc.backends.llvm.conv_direct import emit_conv_direct_blocked
from graphc.backends.llvm.conv_gemm import DIRECT_BELOW, ConvBlocks, conv_geometry
from graphc.backends.llvm.conv_implicit import emit_conv_implicit, forward_applies
from graphc.backends.llvm.conv_kernels import define_im2col_block
from graphc.backends.llvm.conv_pool import PoolWindow, emit_conv_pooled
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import c64
from graphc.backends.llvm.windows import add_into, geometry_of, zero


def emit_conv_dense(kb, body):
    """A forward convolution's 'dense' kernel (passes.kernels.ConvKernel): the convolution,
    and when fused its bias add (one value per channel) and activation, applied as each pixel
    is finished, and its max pooling (conv_pool.py)."""
    bias = kb.ins[2] if body.bias is not None else None
    return emit_conv(kb, body.gemm, bias, body.activation_name, body.pool)


def emit_conv(kb, node, bias, activation, pool=None):
    """Each thread: its share of the output pixels, BLOCK_ROWS at a time: im2col, GEMM (whose
    epilogue adds the bias and applies the activation); or the direct kernels for tiny
    receptive fields; or, pooling fused, its pooled rows (conv_pool.py)."""
    if node.dtype == "bfloat16":  # bfloat16 operands: the bfloat16 GEMM (conv_bf16.py)
        return emit_conv_bf16(kb, node, bias, activation, pool)
    if runs_direct(node):
        if None not in node.inputs[0].shape[1:-1]:
            return emit_conv_direct_blocked(kb, node, bias, activation, pool)
        assert pool is None, "passes.fuse_groups fuses pooling over static sizes only"
        return emit_conv_direct(kb, node, bias, activation)
    x, w = node.inputs
    ck = ConvBlocks(kb, node, x.shape, w.shape, w.shape[-1])
    window = PoolWindow.of(pool, ck.g)
    if forward_applies(ck.g, window):
        return emit_conv_implicit(kb, ck, bias, activation, window)
    if pool is not None:
        return emit_conv_pooled(kb, node, bias, activation, window)
    g, b, K, cout = ck.g, kb.b, c64(ck.g.K), c64(ck.cout)
    lo, hi = kb.split(b.mul(kb.dims(node)[0], c64(g.OH * g.OW)))
    cols = ck.column_buffer(ck.block_rows, g.K)
    im2col = define_im2col_block(kb.module, ck.dtype, g)

    def block(first, rows):
        if ck.pointwise:
            A = ck.at(kb.ins[0], b.mul(first, K))
        else:
            b.call(im2col, [first, rows, c64(0), K, kb.ins[0], cols])
            A = cols
        C = ck.at(kb.out, b.mul(first, cout))
        ck.gemm(False, False, rows, cout, K, A, K, kb.ins[1], cout, C, cout, bias, activation)

    ck.blocks(lo, hi, ck.block_rows, block)
    return kb.finish()


def runs_direct(node) -> bool:
    """Run-time spatial sizes (the loop nest reads them from the size slots; the im2col
    blocks have a static geometry), a receptive field too small for the GEMM, or at least a
    machine vector of output channels (the register-blocked kernel: no junk rows, no column
    matrix, each output stored once; 3x3x32->64 on 128 13x13 images, one thread, interleaved:
    3.7 ms against the implicit GEMM's 7.2 ms, pooled at batch 1024 30 against 66 ms)."""
    x, w = node.inputs
    if None in x.shape[1:-1]:
        return True
    wide = w.shape[-1] >= VECTOR_LANES[node.dtype]
    return wide or conv_geometry(node, x.shape, w.shape).K < DIRECT_BELOW


def emit_conv_direct(kb, node, bias, activation):
    """A loop nest for convolutions with run-time spatial sizes and receptive fields too
    small for the GEMM (static ones run register-blocked, conv_direct.py): each output
    pixel accumulates tap by tap, the innermost loop over contiguous filters, then gets its
    bias and activation (added last, as the GEMM's epilogue does)."""
    g = geometry_of(kb, node, node.inputs[0], node)
    co = kb.dims(node)[-1]

    def row(n, oh):
        kb.loop(c64(0), g.OW, lambda ow: direct_pixel(kb, g, co, (n, oh, ow), bias, activation),
                name="ow")

    g.output_rows(row)
    return kb.finish()


def direct_pixel(kb, g, co, pixel, bias, activation):
    """Output pixel (n, oh, ow) of a direct convolution: zeroed, every tap added, epilogue."""
    b, t, (n, oh, ow) = kb.b, kb.node.dtype, pixel
    out = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), co)
    zero(kb, kb.out, out, co, t)

    def tap(kh, kw, ih, iw, inside):
        with b.if_then(inside):
            src = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
            w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), g.C)
            kb.loop(c64(0), g.C, lambda ci: add_channel(kb, out, co, src, w_row, ci), name="ci")

    g.window(oh, ow, tap)
    if bias is not None or activation != "linear":
        kb.loop(c64(0), co, lambda j: direct_epilogue(kb, b.add(out, j), j, bias, activation),
                name="co")


def add_channel(kb, out, co, src, w_row, ci):
    """y[out + j] += x[src + ci] * w[(w_row + ci) * co + j] for every output channel j."""
    b, t = kb.b, kb.node.dtype
    xv = kb.load(kb.ins[0], b.add(src, ci), t)
    w_index = b.mul(b.add(w_row, ci), co)
    kb.loop(c64(0), co, lambda j: add_into(
        kb, kb.out, b.add(out, j), b.fmul(xv, kb.load(kb.ins[1], b.add(w_index, j), t)), t),
        name="co")


def direct_epilogue(kb, index, channel, bias, activation):
    b, t = kb.b, kb.node.dtype
    value = kb.load(kb.out, index, t)
    if bias is not None:
        value = b.fadd(value, kb.load(bias, channel, t))
    kb.store(vecmath.emit_activation(b, activation, value), kb.out, index, t)


for _r in (1, 2):
    register(f"conv{_r}d", "dense", emit_conv_dense)

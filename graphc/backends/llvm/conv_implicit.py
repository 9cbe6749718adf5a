"""Implicit-GEMM convolutions: the GEMM reads the image itself, no column matrix is written, for
'valid' convolutions (Keras's default padding) with unit strides and no dilation along the row.

Lay the output pixels of a block of output rows out with the input's row width W ("extended"
rows: pixel (oh, ow) is row e = oh * W + ow; rows with ow >= OW are junk). For kernel row kh,
the im2col columns kh * KW * C .. (kh + 1) * KW * C of row e are then the KW * C contiguous
values of x from pixel (oh + kh * DH, ow): row e of a matrix at x + kh * DH * W * C whose rows
overlap (leading dimension C). gemm.py reads A in place (it never packs A), so

    forward       ext = sum over kh of X_kh @ W[kh] (the bias in the first GEMM), then each
                  valid row, or each pooling window's max (conv_pool.pool_row), gets the
                  activation on its way into y
    weight grad   dW[kh] += X_kh^T @ dy_ext over blocks of rows, dy_ext being dy's rows laid
                  out extended, zero in the junk rows; each thread owns a range of dW's rows
    input grad    cols = dy @ W^T on dy's rows as they are (emit_conv_grad), then each row's KH
                  runs of KW * C contiguous values are added into dx as vectors (a col2im with
                  no per-tap branch)

The last block row ends at ow = OW - 1, so no GEMM reads past the image (the junk rows of a
block read the next input row). Every GEMM writes at most BLOCK_ROWS rows, so it reads B in
place: no workspace, no barrier.

In the weight gradient the junk rows multiply real input values by dy's zeros: exact zeros for
finite x, but NaN (0 * inf) for an inf or NaN where no valid window meets it. So each block first
checks the x rows it reads (x - x is 0 exactly when x is finite); a block that holds a non-finite
value runs one GEMM per output row over its OW valid pixels instead: the interpreter's products.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_blocking import (
    balanced,
    ceil_div,
    is_padded,
    padded,
    weight_grad_rows,
)
from graphc.backends.llvm.conv_direct_grad import output_gradient
from graphc.backends.llvm.conv_gemm import (
    BLOCK_ROWS,
    ConvBlocks,
    implicit_applies,
)
from graphc.backends.llvm.conv_kernels import Geometry, Sweep, define_block, tag
from graphc.backends.llvm.conv_padded_rows import pad_rows
from graphc.backends.llvm.conv_pool import PoolWindow, pool_row
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import I32, c64, const, for_range
from graphc.backends.llvm.windows import zero

FINITE_VECTORS = 4  # independent accumulators of the finiteness check (hides the add latency)


def pooled_rows_per_block(g: Geometry, pool: PoolWindow) -> int:
    """Pooled rows per forward block (their conv rows extended fit BLOCK_ROWS), 0 if none fit."""
    most = (BLOCK_ROWS - g.OW + g.W) // (pool.PH * g.W)
    return 0 if most < 1 else balanced(pool.POH, most)


def forward_applies(g: Geometry, pool: PoolWindow) -> bool:
    return implicit_applies(g) and pooled_rows_per_block(g, pool) > 0


def extended(b, g: Geometry, rows):
    """Extended rows of `rows` output rows (an i64 value): the last ends at its pixel OW - 1."""
    return b.add(b.mul(b.sub(rows, c64(1)), c64(g.W)), c64(g.OW))


def image_gemms(ck: ConvBlocks, n, row0, rows, out, bias):
    """out (extended rows x cout) = conv(x) of output rows row0 .. row0 + rows - 1 of image n,
    plus the bias: one GEMM per kernel row on the overlapping rows of x."""
    g, b, kb = ck.g, ck.b, ck.kb
    width, cout = g.KW * g.C, c64(ck.cout)
    for kh in range(g.KH):
        source_row = b.add(b.mul(n, c64(g.H)), b.add(row0, c64(kh * g.DH)))
        A = ck.at(kb.ins[0], b.mul(source_row, c64(g.W * g.C)))
        B = ck.at(kb.ins[1], c64(kh * width * ck.cout))
        ck.gemm(False, kh > 0, extended(b, g, rows), cout, c64(width), A, c64(g.C), B, cout,
                out, cout, bias if kh == 0 else None)


def emit_conv_implicit(kb, ck: ConvBlocks, bias, activation, pool: PoolWindow):
    """Each thread its share of (image, block of pooled rows): the block's GEMMs into a stack
    buffer, then every pooled row (without pooling: every row) into y."""
    g, b = ck.g, kb.b
    per_block = pooled_rows_per_block(g, pool)
    blocks = max(1, ceil_div(pool.POH, per_block))
    ext = ck.block_buffer(BLOCK_ROWS * ck.cout)
    lo, hi = kb.split(b.mul(kb.dims(kb.node)[0], c64(blocks)))

    def unit(u):
        n, first = b.sdiv(u, c64(blocks)), b.mul(b.srem(u, c64(blocks)), c64(per_block))
        left = b.sub(c64(pool.POH), first)
        count = b.select(b.icmp_signed("<", left, c64(per_block)), left, c64(per_block))
        image_gemms(ck, n, b.mul(first, c64(pool.PH)), b.mul(count, c64(pool.PH)), ext, bias)

        def pooled(ph):
            rows_in = b.mul(b.sub(ph, first), c64(pool.PH * g.W * ck.cout))
            pool_row(kb, ck, pool, ck.at(ext, rows_in), b.add(b.mul(n, c64(pool.POH)), ph),
                     g.W, activation)

        for_range(b, first, b.add(first, count), pooled, name="ph")

    for_range(b, lo, hi, unit, name="unit")
    return kb.finish()


def emit_weight_grad_implicit(kb, ck: ConvBlocks, with_bias=False):
    """Each thread owns rows m0 .. m1 of every kernel row's dW[kh] (KW * C rows each) and walks
    every image in blocks of output rows: dy's rows extended once, then
    dW[kh, m0 : m1] += X_kh^T @ dy_ext (<= BLOCK_ROWS rows of dW per GEMM). `with_bias`
    (conv{1,2}d_weight_bias_grad): thread 0 also sums dy into row K as it extends the rows."""
    original, b, cout = ck.g, kb.b, ck.cout
    rows = weight_grad_rows(original, cout, ck.dtype)
    g = ck.g = padded(original)  # a padded x is copied block by block (conv_padded_rows)
    width, halo = g.KW * g.C, g.DH * (g.KH - 1)
    blocks = ceil_div(g.OH, rows)
    dy_ext = ck.block_buffer(rows * g.W * cout)
    x_pad = ck.block_buffer((rows + halo) * g.W * g.C) if is_padded(original) else None
    lo, hi = kb.split(c64(width))
    for kh in range(g.KH):
        zero(kb, kb.out, b.mul(b.add(c64(kh * width), lo), c64(cout)),
             b.mul(b.sub(hi, lo), c64(cout)), ck.dtype)
    sums = b.icmp_signed("==", kb.tid, ir.Constant(I32, 0))  # thread 0 sums the bias row
    if with_bias:
        with b.if_then(sums):
            zero(kb, kb.out, c64(g.K * cout), c64(cout), ck.dtype)

    def unit(u):
        n, row0 = b.sdiv(u, c64(blocks)), b.mul(b.srem(u, c64(blocks)), c64(rows))
        left = b.sub(c64(g.OH), row0)
        count = b.select(b.icmp_signed("<", left, c64(rows)), left, c64(rows))
        extend_rows(ck, n, row0, count, dy_ext, sums if with_bias else None)
        source, first_x = kb.ins[0], b.mul(b.add(b.mul(n, c64(g.H)), row0), c64(g.W * g.C))
        if x_pad is not None:
            pad_rows(ck, original, n, row0, b.add(count, c64(halo)), x_pad)
            source, first_x = x_pad, c64(0)
        x_values = b.mul(b.add(count, c64(halo)), c64(g.W * g.C))
        with b.if_else(all_finite(ck, source, first_x, x_values)) as (finite, not_finite):
            with finite:  # the junk rows add exact zeros
                weight_grad_gemms(ck, lo, hi, source, first_x, c64(0), extended(b, g, count),
                                  dy_ext)
            with not_finite:  # valid pixels only, one output row at a time
                for_range(b, c64(0), count, lambda r: weight_grad_gemms(
                    ck, lo, hi, source, b.add(first_x, b.mul(r, c64(g.W * g.C))),
                    b.mul(r, c64(g.W * cout)), c64(g.OW), dy_ext), name="exact")

    for_range(b, c64(0), b.mul(kb.dims(kb.node.inputs[0])[0], c64(blocks)), unit, name="unit")
    return kb.finish()


def weight_grad_gemms(ck: ConvBlocks, lo, hi, x, x_first, dy_first, pixels, dy_ext):
    """dW[kh, lo : hi] += X_kh^T @ dy_ext[dy_first ...] for every kernel row kh, over `pixels`
    extended rows from element x_first of x (kernel row 0's first pixel)."""
    g, b, cout, width = ck.g, ck.b, ck.cout, ck.g.KW * ck.g.C
    for kh in range(g.KH):
        x_rows = b.add(x_first, c64(kh * g.DH * g.W * g.C))

        def gemm(m0, mcount, kh=kh, x_rows=x_rows):
            dw = ck.at(ck.kb.out, b.mul(b.add(c64(kh * width), m0), c64(cout)))
            ck.gemm(True, True, mcount, c64(cout), pixels, ck.at(x, b.add(x_rows, m0)),
                    c64(g.C), ck.at(dy_ext, dy_first), c64(cout), dw, c64(cout))

        ck.blocks(lo, hi, BLOCK_ROWS, gemm)


def all_finite(ck: ConvBlocks, x, start, count):
    """An i1: x[start : start + count] holds no inf or NaN. Sums x - x (0 for finite x, NaN
    otherwise) in FINITE_VECTORS independent vector accumulators, then the tail as scalars."""
    b, vec, lanes = ck.b, ChannelVectors(ck.b, ck.dtype), VECTOR_LANES[ck.dtype]
    step = FINITE_VECTORS * lanes

    def chunk(i, *accs):
        at = b.add(start, b.mul(i, c64(step)))
        values = [vec.load(x, b.add(at, c64(j * lanes)), lanes) for j in range(FINITE_VECTORS)]
        return [b.fadd(acc, b.fsub(v, v)) for acc, v in zip(accs, values)]

    full = b.sdiv(count, c64(step))
    accs = for_range(b, c64(0), full, chunk, [vec.zeros(lanes)] * FINITE_VECTORS, "chunk")
    total = accs[0]
    for acc in accs[1:]:
        total = b.fadd(total, acc)

    def tail(i, acc):
        v = vec.load(x, b.add(start, i), 1)
        return [b.fadd(acc, b.extract_element(b.fsub(v, v), ir.Constant(I32, 0)))]

    (rest,) = for_range(b, b.mul(full, c64(step)), count, tail, [const(ck.dtype, 0)], "tail")
    lanes_nan = b.fcmp_unordered("uno", total, total)
    any_nan = b.icmp_unsigned("!=", b.bitcast(lanes_nan, ir.IntType(lanes)),
                              ir.Constant(ir.IntType(lanes), 0))
    return b.not_(b.or_(any_nan, b.fcmp_unordered("uno", rest, rest)))


def extend_rows(ck: ConvBlocks, n, row0, count, out, sums=None):
    """out = dy's output rows row0 .. row0 + count - 1 of image n, each widened to W pixels
    with zeros (so the junk rows of the extended layout add nothing); where `sums` (an i1) is
    set, each dy vector is also added into the bias-gradient row K of the kernel's output."""
    g, b, kb, cout = ck.g, ck.b, ck.kb, ck.cout
    vec = ChannelVectors(b, ck.dtype)

    def row(r):
        source = b.mul(b.add(b.mul(n, c64(g.OH)), b.add(row0, r)), c64(g.OW * cout))
        target = b.mul(r, c64(g.W * cout))
        for first, lanes in vec.chunks(cout):
            def copy(ow, first=first, lanes=lanes):
                at = b.add(b.mul(ow, c64(cout)), c64(first))
                value = output_gradient(kb, vec, b.add(source, at), lanes)
                vec.store(value, out, b.add(target, at))
                if sums is not None:
                    with b.if_then(sums):
                        bias_at = c64(g.K * cout + first)
                        vec.store(b.fadd(vec.load(kb.out, bias_at, lanes), value), kb.out,
                                  bias_at)

            def clear(ow, first=first, lanes=lanes):
                at = b.add(b.mul(ow, c64(cout)), c64(first))
                vec.store(vec.zeros(lanes), out, b.add(target, at))

            for_range(b, c64(0), c64(g.OW), copy, name="ow")
            for_range(b, c64(g.OW), c64(g.W), clear, name="junk")

    for_range(b, c64(0), count, row, name="r")


def define_col2im_runs_block(module, dtype: str, g: Geometry):
    """dx[pixels under kernel row kh of output r0 + i] += cols[i, kh * KW * C ...]: one run of
    KW * C contiguous values per kernel row, added as vectors (implicit_applies geometries)."""
    fn, b, a = define_block(module, f"graphc_col2im_runs_{tag(dtype)}_{g.key}", ("cols", "dx"))
    if b is None:
        return fn
    s, vec, width = Sweep(b, g), ChannelVectors(b, dtype), g.KW * g.C

    def row(i):
        n, oh, ow = s.position(b.add(a["r0"], i))
        for kh in range(g.KH):
            dst = s.pixel(n, b.add(oh, c64(kh * g.DH)), ow)
            src = b.add(b.mul(i, c64(g.K)), c64(kh * width))
            for first, lanes in vec.chunks(width):
                at = b.add(dst, c64(first))
                total = b.fadd(vec.load(a["dx"], at, lanes),
                               vec.load(a["cols"], b.add(src, c64(first)), lanes))
                vec.store(total, a["dx"], at)

    for_range(b, c64(0), a["rows"], row, name="i")
    b.ret_void()
    return fn

"""The input gradient of 'valid' unit-stride convolutions (conv_gemm.implicit_applies) as an
implicit GEMM: no column matrix, no col2im.

dx is the 'valid' convolution of dy, padded with DH * (KH - 1) zero rows above and below and
KW - 1 zero pixels left and right (rows of WP = W + KW - 1 pixels), by the kernel flipped in
both spatial axes with its channel axes swapped: WF[kh, kw, co, ci] = W[KH-1-kh, KW-1-kw, ci,
co]. Laid out "extended" like the forward (conv_implicit.py), dx pixel (ih, iw) is row
e = ih * WP + iw, and its KW * cout values under kernel row kh are contiguous in the padded
rows, so

    ext = sum over kh of P_kh @ WF[kh]      (P_kh: the padded rows from ih + kh * DH, lda cout)

then each dx row (the first W pixels of its extended row) is copied out. Each thread flips the
kernel into its own stack buffer (no barrier), then takes (image, block of dx rows) units: the
block's padded dy rows into a stack buffer, KH GEMMs of <= BLOCK_ROWS rows (they read B in
place), the copy. The zero padding costs FLOPs the column route does not do (conv 13x13 from
11x11: ~1.6x), at GEMM speed and without the column matrix's traffic.

For non-finite kernels only: padding zeros times an inf weight make NaN in dx pixels whose
interpreter sum never meets that weight (finite kernels add exact zeros: the same sums).
"""

from __future__ import annotations

from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_gemm import BLOCK_BYTES, BLOCK_ROWS, ConvBlocks
from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.irutil import ITEMSIZE, c64, for_range


def padded_width(g: Geometry) -> int:
    return g.W + g.KW - 1


def rows_per_block(g: Geometry) -> int:
    """dx rows per block: their extended rows fit BLOCK_ROWS (0 when one row does not)."""
    wp = padded_width(g)
    return max(0, (BLOCK_ROWS - g.W + wp) // wp)


def stack_bytes(g: Geometry, cout: int, dtype: str) -> int:
    """A thread's stack buffers: the flipped kernel and a block's padded dy rows."""
    padded_rows = rows_per_block(g) + g.DH * (g.KH - 1)
    return (g.K * cout + padded_rows * padded_width(g) * cout) * ITEMSIZE[dtype]


def input_grad_applies(g: Geometry, cout: int, dtype: str) -> bool:
    """For implicit_applies geometries: a dx row fits a block and the buffers the stack."""
    return rows_per_block(g) > 0 and stack_bytes(g, cout, dtype) <= BLOCK_BYTES


def emit_input_grad_implicit(kb, ck: ConvBlocks):
    """Each thread: the flipped kernel, then its share of (image, block of dx rows)."""
    g, b, cout = ck.g, kb.b, ck.cout
    per_block = rows_per_block(g)
    blocks = -(-g.H // per_block)
    wp, halo = padded_width(g), g.DH * (g.KH - 1)
    flipped = flip_kernel(ck, kb.ins[1])
    padded = ck.block_buffer((per_block + halo) * wp * cout)
    ext = ck.block_buffer(BLOCK_ROWS * g.C)
    lo, hi = kb.split(b.mul(kb.dims(kb.node)[0], c64(blocks)))

    def unit(u):
        n, row0 = b.sdiv(u, c64(blocks)), b.mul(b.srem(u, c64(blocks)), c64(per_block))
        left = b.sub(c64(g.H), row0)
        rows = b.select(b.icmp_signed("<", left, c64(per_block)), left, c64(per_block))
        pad_rows(ck, n, row0, b.add(rows, c64(halo)), padded)
        ext_rows = b.add(b.mul(b.sub(rows, c64(1)), c64(wp)), c64(g.W))
        for kh in range(g.KH):
            A = ck.at(padded, c64(kh * g.DH * wp * cout))
            B = ck.at(flipped, c64(kh * g.KW * cout * g.C))
            ck.gemm(False, kh > 0, ext_rows, c64(g.C), c64(g.KW * cout), A, c64(cout), B,
                    c64(g.C), ext, c64(g.C))
        copy_rows(ck, ext, b.add(b.mul(n, c64(g.H)), row0), rows)

    for_range(b, lo, hi, unit, name="unit")
    return kb.finish()


def flip_kernel(ck: ConvBlocks, w):
    """WF (KH * KW * cout rows of C) into this thread's stack: WF[tap, co, ci] =
    W[KH * KW - 1 - tap, ci, co]."""
    g, b, cout, taps = ck.g, ck.b, ck.cout, ck.g.KH * ck.g.KW
    flipped = ck.block_buffer(g.K * cout)
    vec = ChannelVectors(b, ck.dtype)

    def row(r):
        tap, co = b.sdiv(r, c64(cout)), b.srem(r, c64(cout))
        source = b.add(b.mul(b.sub(c64(taps - 1), tap), c64(g.C * cout)), co)

        def channel(ci):
            value = vec.load(w, b.add(source, b.mul(ci, c64(cout))), 1)
            vec.store(value, flipped, b.add(b.mul(r, c64(g.C)), ci))

        for_range(b, c64(0), c64(g.C), channel, name="ci")

    for_range(b, c64(0), c64(taps * cout), row, name="r")
    return flipped


def pad_rows(ck: ConvBlocks, n, row0, count, out):
    """out = padded rows row0 .. row0 + count - 1 of image n's dy: padded row p holds dy row
    p - DH * (KH - 1) (zero outside dy) between KW - 1 zero pixels on each side."""
    g, b, cout = ck.g, ck.b, ck.cout
    vec, wp = ChannelVectors(b, ck.dtype), padded_width(ck.g)

    def row(r):
        oh = b.sub(b.add(row0, r), c64(g.DH * (g.KH - 1)))
        inside = b.and_(b.icmp_signed(">=", oh, c64(0)), b.icmp_signed("<", oh, c64(g.OH)))
        target = b.mul(r, c64(wp * cout))
        source = b.mul(b.add(b.mul(n, c64(g.OH)), oh), c64(g.OW * cout))
        with b.if_else(inside) as (real, halo):
            with real:
                clear_pixels(vec, out, target, 0, g.KW - 1, cout)
                copy_pixels(vec, ck.kb.ins[0], source, out, b.add(target, c64((g.KW - 1) * cout)),
                            g.OW, cout)
                clear_pixels(vec, out, target, g.OW + g.KW - 1, wp, cout)
            with halo:
                clear_pixels(vec, out, target, 0, wp, cout)

    for_range(b, c64(0), count, row, name="p")


def copy_rows(ck: ConvBlocks, ext, first_row, count):
    """dx rows first_row .. + count - 1 (counted over the batch) = the first W pixels of each
    extended row of `ext`."""
    g, b = ck.g, ck.b
    vec, wp = ChannelVectors(b, ck.dtype), padded_width(ck.g)

    def row(i):
        target = b.mul(b.add(first_row, i), c64(g.W * g.C))
        copy_pixels(vec, ext, b.mul(i, c64(wp * g.C)), ck.kb.out, target, g.W, g.C)

    for_range(b, c64(0), count, row, name="i")


def copy_pixels(vec: ChannelVectors, source, start, target, at, pixels: int, channels: int):
    """target[at ...] = source[start ...]: `pixels` pixels of `channels` values, as vectors."""
    b = vec.b

    def pixel(p):
        offset = b.mul(p, c64(channels))
        for first, lanes in vec.chunks(channels):
            value = vec.load(source, b.add(start, b.add(offset, c64(first))), lanes)
            vec.store(value, target, b.add(at, b.add(offset, c64(first))))

    for_range(b, c64(0), c64(pixels), pixel, name="px")


def clear_pixels(vec: ChannelVectors, target, start, first_pixel: int, end_pixel: int,
                 channels: int):
    """Zero pixels first_pixel .. end_pixel - 1 of the row at element `start` of target."""
    b = vec.b

    def pixel(p):
        offset = b.add(start, b.mul(p, c64(channels)))
        for first, lanes in vec.chunks(channels):
            vec.store(vec.zeros(lanes), target, b.add(offset, c64(first)))

    for_range(b, c64(first_pixel), c64(end_pixel), pixel, name="zp")

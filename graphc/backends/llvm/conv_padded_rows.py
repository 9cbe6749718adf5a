"""Padded unit-stride convolutions ('same', explicit padding) on the implicit-GEMM kernels: such a
convolution is the 'valid' one of its zero-padded image, so the weight gradient
(conv_implicit.emit_weight_grad_implicit) copies the x rows a block reads into a padded stack
buffer (zero pixels left and right, zero rows above and below the image) and runs its GEMMs on
that buffer instead of the column route's im2col. Row junk grows by the padding only
(W + PL + PR pixels per row for OW outputs).
"""

from __future__ import annotations

from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_blocking import padded
from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.irutil import c64, for_range


def pad_rows(ck, g: Geometry, n, row0, count, out):
    """out = padded rows row0 .. row0 + count - 1 of image n of x (geometry g): padded row p
    holds x row p - PT (zero outside x) between PL zero pixels and the right padding."""
    b, vec, width = ck.b, ChannelVectors(ck.b, ck.dtype), padded(g).W

    def row(r):
        ih = b.sub(b.add(row0, r), c64(g.PT))
        inside = b.and_(b.icmp_signed(">=", ih, c64(0)), b.icmp_signed("<", ih, c64(g.H)))
        target = b.mul(r, c64(width * g.C))
        source = b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W * g.C))
        with b.if_else(inside) as (real, halo):
            with real:
                clear_pixels(vec, out, target, 0, g.PL, g.C)
                copy_pixels(vec, ck.kb.ins[0], source, out, b.add(target, c64(g.PL * g.C)),
                            g.W, g.C)
                clear_pixels(vec, out, target, g.PL + g.W, width, g.C)
            with halo:
                clear_pixels(vec, out, target, 0, width, g.C)

    for_range(b, c64(0), count, row, name="pad")


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

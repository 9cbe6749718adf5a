"""A register-blocked direct convolution for receptive fields too small for the GEMM (a first
layer on one input channel: 3 x 3 x 1 -> 32), with a static geometry.

Each thread takes its share of the output rows (image, out row). Along a row, PIXELS output
pixels at a time, and the output channels in vectors of at most CHUNK_VECTORS registers: every
tap's weight vector is loaded once and feeds an FMA into each pixel's accumulators (x values
broadcast, zero in the padding), so the accumulators live in registers and each output value
is stored once, after its bias and activation (oneDNN's NHWC direct convolution, blocked over
output channels and pixels). The scalar loop nest (emit_conv.emit_conv_direct) stays for
run-time spatial sizes.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_gemm import conv_geometry
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import ITEMSIZE, MEM_TYPE, REG_TYPE, c64, const, for_range

PIXELS = 4  # output pixels per register block along a row
CHUNK_VECTORS = 4  # output channels per block: this many machine vectors


class DirectConv:
    """The IR of one direct convolution kernel: geometry, types, loads and the pixel block."""

    def __init__(self, kb, node, bias, activation):
        self.kb, self.b, self.dtype = kb, kb.b, node.dtype
        x, w = node.inputs
        self.g = conv_geometry(node, x.shape, w.shape)
        self.cout = w.shape[-1]
        self.bias, self.activation = bias, activation
        self.align = ITEMSIZE[self.dtype]

    def chunks(self):
        """(first channel, lanes) of each block of output channels."""
        step = CHUNK_VECTORS * VECTOR_LANES[self.dtype]
        return [(c, min(step, self.cout - c)) for c in range(0, self.cout, step)]

    def vector_at(self, ptr, offset, lanes):
        b, vt = self.b, ir.VectorType(REG_TYPE[self.dtype], lanes)
        addr = b.gep(ptr, [offset], source_etype=MEM_TYPE[self.dtype], inbounds=True)
        return addr, vt

    def load_vector(self, ptr, offset, lanes):
        addr, vt = self.vector_at(ptr, offset, lanes)
        return self.b.load(addr, typ=vt, align=self.align)

    def store_vector(self, value, ptr, offset):
        addr, _ = self.vector_at(ptr, offset, value.type.count)
        self.b.store(value, addr, align=self.align)

    def splat(self, value, lanes):
        b, vt = self.b, ir.VectorType(value.type, lanes)
        one = b.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined),
                                ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))

    def tap_value(self, n, ih, iw, channel):
        """x[n, ih, iw, channel], or 0 where (ih, iw) lies in the padding."""
        b, g = self.b, self.g
        inside = b.and_(b.icmp_unsigned("<", ih, c64(g.H)), b.icmp_unsigned("<", iw, c64(g.W)))
        pixel = b.add(b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W)), iw)
        index = b.select(inside, b.add(b.mul(pixel, c64(g.C)), c64(channel)), c64(0))
        value = b.load(b.gep(self.kb.ins[0], [index], source_etype=MEM_TYPE[self.dtype],
                             inbounds=True), typ=MEM_TYPE[self.dtype])
        return b.select(inside, value, const(self.dtype, 0))

    def accumulate(self, n, oh, ows, first, lanes):
        """Accumulators (one vector of `lanes` channels from `first` per pixel in `ows`)."""
        b, g = self.b, self.g
        accs = [vecmath.const(ir.VectorType(REG_TYPE[self.dtype], lanes), 0.0) for _ in ows]
        for kh in range(g.KH):
            ih = b.add(b.mul(oh, c64(g.SH)), c64(kh * g.DH - g.PT))
            for kw in range(g.KW):
                iws = [b.add(b.mul(ow, c64(g.SW)), c64(kw * g.DW - g.PL)) for ow in ows]
                for ci in range(g.C):
                    row = ((kh * g.KW + kw) * g.C + ci) * self.cout + first
                    wv = self.load_vector(self.kb.ins[1], c64(row), lanes)
                    accs = [vecmath.fma(b, self.splat(self.tap_value(n, ih, iw, ci), lanes), wv,
                                        acc) for iw, acc in zip(iws, accs)]
        return accs

    def finish_pixel(self, acc, n, oh, ow, first):
        """out[n, oh, ow, first:...] = act(acc + bias): the GEMM epilogue's order."""
        b, g = self.b, self.g
        if self.bias is not None:
            acc = b.fadd(acc, self.load_vector(self.bias, c64(first), acc.type.count))
        acc = vecmath.emit_activation(b, self.activation, acc)
        pixel = b.add(b.mul(b.add(b.mul(n, c64(g.OH)), oh), c64(g.OW)), ow)
        self.store_vector(acc, self.kb.out, b.add(b.mul(pixel, c64(self.cout)), c64(first)))

    def pixel_block(self, n, oh, ow0, count):
        """Output pixels ow0 .. ow0 + count - 1 of row (n, oh), every channel."""
        ows = [self.b.add(ow0, c64(p)) for p in range(count)]
        for first, lanes in self.chunks():
            for ow, acc in zip(ows, self.accumulate(n, oh, ows, first, lanes)):
                self.finish_pixel(acc, n, oh, ow, first)

    def row(self, r):
        """Output row r = n * OH + oh: full blocks of PIXELS, then the rest one by one."""
        b, g = self.b, self.g
        n, oh = b.sdiv(r, c64(g.OH)), b.srem(r, c64(g.OH))
        blocks = g.OW // PIXELS
        for_range(b, c64(0), c64(blocks),
                  lambda k: self.pixel_block(n, oh, b.mul(k, c64(PIXELS)), PIXELS), name="owb")
        for_range(b, c64(blocks * PIXELS), c64(g.OW), lambda ow: self.pixel_block(n, oh, ow, 1),
                  name="ow")


def emit_conv_direct_blocked(kb, node, bias, activation):
    """The kernel: each thread its share of the output rows (see the module doc)."""
    conv = DirectConv(kb, node, bias, activation)
    lo, hi = kb.split(kb.b.mul(kb.dims(node)[0], c64(conv.g.OH)))
    for_range(kb.b, lo, hi, conv.row, name="row")
    return kb.finish()

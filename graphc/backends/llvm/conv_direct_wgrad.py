"""A register-blocked direct weight gradient for convolutions whose windows never leave the
image (no padding; any strides and dilation), with at least a machine vector of output
channels (3 x 3 x 32 -> 64):

    dW[m, :] = sum over output pixels of x[pixel under tap(m), channel(m)] * dy[pixel, :]

A tile is TILE_ROWS rows of dW (m = (kh, kw, ci), possibly across taps) by a block of up to
4 channel vectors: 24 accumulators in registers. Each thread owns a range of dW's rows (so
every element is summed in pixel order on any thread count) and walks the images GROUP at a
time (their x and dy stay in L2): per tile, the accumulators are loaded from dW, every pixel
of the group adds one broadcast x value times dy's vectors into each row, and they are stored
back. Unlike the implicit GEMM it computes no junk pixels and copies no dy rows.
conv{1,2}d_(relu_)weight_bias_grad: the bias gradient (row K) is a row whose x is 1, summed by
whichever thread owns it (conv_direct_grad.output_gradient applies the ReLU mask).
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_direct import DirectTaps, never_outside
from graphc.backends.llvm.conv_direct_grad import output_gradient
from graphc.backends.llvm.conv_gemm import DIRECT_BELOW, conv_geometry, kernel_shape
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import MEM_TYPE, c64, for_range
from graphc.backends.llvm.windows import zero

TILE_ROWS = 6  # rows of dW per register tile (x 4 vectors: 24 accumulators)
GROUP = 4  # images per walk over the thread's tiles (1, 2, 16: within 5%, one thread)


def direct_wgrad_applies(node) -> bool:
    """Static sizes, windows inside the image, a receptive field for the GEMM and at least a
    machine vector of output channels."""
    x = node.inputs[0]
    if None in x.shape[1:-1] or node.dtype not in ("float32", "float64"):
        return False
    g = conv_geometry(node, x.shape, kernel_shape(node))
    wide = node.shape[-1] >= VECTOR_LANES[node.dtype]
    return wide and g.K >= DIRECT_BELOW and never_outside(g)


class DirectWideWeightGrad(DirectTaps):
    def __init__(self, kb, node):
        super().__init__(kb, node, node.inputs[0].shape, kernel_shape(node))
        self.with_bias = node.op.endswith("weight_bias_grad")

    def row_offset(self, m):
        """x's offset of row m's value from the first tap's pixel (an i64 of run-time m)."""
        b, g = self.b, self.g
        tap, ci = b.sdiv(m, c64(g.C)), b.srem(m, c64(g.C))
        kh, kw = b.sdiv(tap, c64(g.KW)), b.srem(tap, c64(g.KW))
        pixels = b.add(b.mul(kh, c64(g.DH * g.W)), b.mul(kw, c64(g.DW)))
        return b.add(b.mul(pixels, c64(g.C)), ci)

    def pixel(self, n, oh, ow, offsets, first, lanes, accs):
        """The accumulators after output pixel (n, oh, ow); an offset None is the bias row."""
        b, g, t = self.b, self.g, MEM_TYPE[self.dtype]
        out_pixel = b.add(b.mul(b.add(b.mul(n, c64(g.OH)), oh), c64(g.OW)), ow)
        dy = output_gradient(self.kb, self.vec, b.add(b.mul(out_pixel, c64(self.cout)),
                                                      c64(first)), lanes)
        row = b.add(b.mul(b.add(b.mul(n, c64(g.H)), b.mul(oh, c64(g.SH))), c64(g.W)),
                    b.mul(ow, c64(g.SW)))
        base = b.mul(row, c64(g.C))
        out = []
        for offset, acc in zip(offsets, accs):
            if offset is None:
                out.append(b.fadd(acc, dy))
                continue
            at = b.gep(self.kb.ins[0], [b.add(base, offset)], source_etype=t, inbounds=True)
            out.append(vecmath.fma(b, self.vec.splat(b.load(at, typ=t), lanes), dy, acc))
        return out

    def tile(self, m0, count: int, n0, images, bias_row=False):
        """dW[m0 : m0 + count] += the sums over images n0 .. n0 + images - 1 (bias_row: the
        one row K instead)."""
        b = self.b
        offsets = [None] if bias_row else [self.row_offset(b.add(m0, c64(i)))
                                           for i in range(count)]
        for first, lanes in self.vec.chunks(self.cout):
            at = [b.add(b.mul(b.add(m0, c64(i)), c64(self.cout)), c64(first))
                  for i in range(len(offsets))]
            accs = [self.vec.load(self.kb.out, a, lanes) for a in at]
            accs = self.walk(n0, images, offsets, first, lanes, accs)
            for acc, a in zip(accs, at):
                self.vec.store(acc, self.kb.out, a)

    def walk(self, n0, images, offsets, first, lanes, accs):
        """The accumulators after every output pixel of images n0 .. n0 + images - 1."""
        b, g = self.b, self.g

        def image(n, *accs):
            def out_row(oh, *accs):
                return for_range(b, c64(0), c64(g.OW), lambda ow, *carried: self.pixel(
                    n, oh, ow, offsets, first, lanes, carried), accs, "ow")

            return for_range(b, c64(0), c64(g.OH), out_row, accs, "oh")

        return for_range(b, n0, b.add(n0, images), image, accs, "n")

    def rows(self, lo, hi, n0, images):
        """The thread's dW rows lo .. hi - 1 (below K): tiles of TILE_ROWS, then single rows."""
        b = self.b
        full = b.sdiv(b.sub(hi, lo), c64(TILE_ROWS))
        for_range(b, c64(0), full, lambda t: self.tile(
            b.add(lo, b.mul(t, c64(TILE_ROWS))), TILE_ROWS, n0, images), name="tile")
        for_range(b, b.add(lo, b.mul(full, c64(TILE_ROWS))), hi,
                  lambda m: self.tile(m, 1, n0, images), name="m")

    def emit(self):
        kb, b, K = self.kb, self.b, self.g.K
        lo, hi = kb.split(c64(K + self.with_bias))
        zero(kb, kb.out, b.mul(lo, c64(self.cout)), b.mul(b.sub(hi, lo), c64(self.cout)),
             self.dtype)
        below = b.select(b.icmp_signed("<", hi, c64(K)), hi, c64(K))
        batch = kb.dims(kb.node.inputs[0])[0]

        def group(j):
            n0 = b.mul(j, c64(GROUP))
            left = b.sub(batch, n0)
            images = b.select(b.icmp_signed("<", left, c64(GROUP)), left, c64(GROUP))
            self.rows(lo, below, n0, images)
            if self.with_bias:
                owns = b.and_(b.icmp_signed("<=", lo, c64(K)), b.icmp_signed(">", hi, c64(K)))
                with b.if_then(owns):
                    self.tile(c64(K), 1, n0, images, bias_row=True)

        groups = b.sdiv(b.add(batch, c64(GROUP - 1)), c64(GROUP))
        for_range(b, c64(0), groups, group, name="group")
        return kb.finish()


def emit_conv_weight_grad_wide(kb, node):
    return DirectWideWeightGrad(kb, node).emit()

"""The weight gradient of a convolution with a receptive field too small for the GEMM (the
same ones emit_conv runs directly: a first layer on one input channel), static geometry:

    dW[tap, ci, :] = sum over output pixels of x[pixel under tap, ci] * dy[pixel, :]

Each thread takes whole machine vectors of output channels (so every dW element is summed in
the same order on any thread count), keeps one accumulator vector per im2col column (K < 16)
in registers, and walks every output pixel once: a dy vector load, then a broadcast-FMA per
tap (conv{1,2}d_weight_bias_grad: and an add into one more accumulator, the bias gradient,
stored as row K). The GEMM path would instead run K-row GEMMs behind an im2col per block of pixels.
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_direct import DirectTaps
from graphc.backends.llvm.conv_gemm import kernel_shape
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import c64, for_range


def output_gradient(kb, vec, offset, lanes: int):
    """`lanes` values of the weight gradient's dy from element `offset`: its second input, or,
    for conv{1,2}d_relu_weight_bias_grad (x, y, g), where(y > 0, g, 0)."""
    if not kb.node.op.endswith("relu_weight_bias_grad"):
        return vec.load(kb.ins[1], offset, lanes)
    b, y, g = kb.b, vec.load(kb.ins[1], offset, lanes), vec.load(kb.ins[2], offset, lanes)
    return b.select(b.fcmp_ordered(">", y, vec.zeros(lanes)), g, vec.zeros(lanes))


class DirectWeightGrad(DirectTaps):
    def __init__(self, kb, node):
        super().__init__(kb, node, node.inputs[0].shape, kernel_shape(node))
        self.lanes = VECTOR_LANES[self.dtype]
        self.with_bias = node.op.endswith("weight_bias_grad")  # one more row: the dy sums

    def pixel(self, n, oh, ow, first, lanes, accs):
        """The accumulators after output pixel (n, oh, ow)."""
        b, g = self.b, self.g
        pixel = b.add(b.mul(b.add(b.mul(n, c64(g.OH)), oh), c64(g.OW)), ow)
        dy = output_gradient(self.kb, self.vec, b.add(b.mul(pixel, c64(self.cout)), first), lanes)
        out, k = [], 0
        for kh in range(g.KH):
            ih = b.add(b.mul(oh, c64(g.SH)), c64(kh * g.DH - g.PT))
            for kw in range(g.KW):
                iw = b.add(b.mul(ow, c64(g.SW)), c64(kw * g.DW - g.PL))
                for ci in range(g.C):
                    x = self.vec.splat(self.tap_value(n, ih, iw, ci), lanes)
                    out.append(vecmath.fma(b, x, dy, accs[k]))
                    k += 1
        return out + [b.fadd(accs[k], dy)] if self.with_bias else out

    def channels(self, first, lanes):
        """dW[:, first : first + lanes], summed over every output pixel."""
        b, g = self.b, self.g
        zero = vecmath.const(self.vec.type(lanes), 0.0)

        def row(r, *accs):
            n, oh = b.sdiv(r, c64(g.OH)), b.srem(r, c64(g.OH))
            return for_range(b, c64(0), c64(g.OW),
                             lambda ow, *a: self.pixel(n, oh, ow, first, lanes, a), accs, "ow")

        rows = b.mul(self.kb.dims(self.kb.node.inputs[1])[0], c64(g.OH))
        accs = for_range(b, c64(0), rows, row, [zero] * (g.K + self.with_bias), "row")
        for k, acc in enumerate(accs):
            self.vec.store(acc, self.kb.out, b.add(c64(k * self.cout), first))

    def emit(self):
        """Each thread its share of the channel vectors; a partial last vector on its own."""
        b, full = self.b, self.cout // self.lanes
        lo, hi = self.kb.split(c64(-(-self.cout // self.lanes)))

        def vector(j):
            first = b.mul(j, c64(self.lanes))
            if full * self.lanes == self.cout:
                return self.channels(first, self.lanes)
            with b.if_else(b.icmp_signed("<", j, c64(full))) as (whole, tail):
                with whole:
                    self.channels(first, self.lanes)
                with tail:
                    self.channels(first, self.cout - full * self.lanes)

        for_range(b, lo, hi, vector, name="vec")
        return self.kb.finish()


def emit_conv_weight_grad_blocked(kb, node):
    return DirectWeightGrad(kb, node).emit()

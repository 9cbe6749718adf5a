"""The weight gradient of a convolution with a receptive field too small for the GEMM (the
same ones emit_conv runs directly: a first layer on one input channel), static geometry:

    dW[tap, ci, :] = sum over output pixels of x[pixel under tap, ci] * dy[pixel, :]

The output rows (image, out row) are cut into CHUNKS fixed chunks (from the batch alone, never
the thread count, so every dW element is summed in the same order on any thread count). Each
thread takes its share of the chunks and walks each chunk's pixels once per group of channel
vectors that fits the registers (PASS_REGISTERS accumulators: one vector per im2col column
(K < 16) and channel vector): a dy vector load per channel vector, then a broadcast-FMA per tap
into each (conv{1,2}d_weight_bias_grad: and an add into one more accumulator, the bias
gradient, row K). dy is so read once, whole cache lines, however many channels it has. Each
chunk's sums go to its slot of a module global; after the one barrier, each thread adds a
share of dW's elements over the chunks, in chunk order.
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_direct import DirectTaps
from graphc.backends.llvm.conv_gemm import kernel_shape
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import c64, const, declare_barrier, for_range, global_buffer

CHUNKS = 8  # fixed pieces of the output rows: each thread sums whole chunks
PASS_REGISTERS = 24  # accumulator vectors kept in registers in one walk over a chunk


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
        self.rows = self.g.K + self.with_bias  # rows of the (partial) sums

    def vector_groups(self) -> list:
        """[(first, lanes) of each channel vector] of every walk over a chunk."""
        vectors = [(c, min(self.lanes, self.cout - c)) for c in range(0, self.cout, self.lanes)]
        per = max(1, PASS_REGISTERS // self.rows)
        return [vectors[i:i + per] for i in range(0, len(vectors), per)]

    def pixel(self, n, oh, ow, group, accs):
        """The accumulators (per row, per vector of `group`) after output pixel (n, oh, ow)."""
        b, g = self.b, self.g
        pixel = b.add(b.mul(b.add(b.mul(n, c64(g.OH)), oh), c64(g.OW)), ow)
        dys = [output_gradient(self.kb, self.vec, b.add(b.mul(pixel, c64(self.cout)), c64(first)),
                               lanes) for first, lanes in group]
        out = []
        for kh in range(g.KH):
            ih = b.add(b.mul(oh, c64(g.SH)), c64(kh * g.DH - g.PT))
            for kw in range(g.KW):
                iw = b.add(b.mul(ow, c64(g.SW)), c64(kw * g.DW - g.PL))
                for ci in range(g.C):
                    x = self.tap_value(n, ih, iw, ci)
                    out += [vecmath.fma(b, self.vec.splat(x, dy.type.count), dy,
                                        accs[len(out) + j]) for j, dy in enumerate(dys)]
        if self.with_bias:
            out += [b.fadd(accs[len(out) + j], dy) for j, dy in enumerate(dys)]
        return out

    def chunk(self, c, partials):
        """Chunk c's sums of every row and channel into its slot of `partials`."""
        b, g = self.b, self.g
        total = b.mul(self.kb.dims(self.kb.node.inputs[1])[0], c64(g.OH))
        lo = b.sdiv(b.mul(total, c), c64(CHUNKS))
        hi = b.sdiv(b.mul(total, b.add(c, c64(1))), c64(CHUNKS))
        slot = b.mul(c, c64(self.rows * self.cout))
        for group in self.vector_groups():
            zeros = [vecmath.const(self.vec.type(lanes), 0.0) for _, lanes in group]

            def row(r, *accs, group=group):
                n, oh = b.sdiv(r, c64(g.OH)), b.srem(r, c64(g.OH))
                return for_range(b, c64(0), c64(g.OW),
                                 lambda ow, *a: self.pixel(n, oh, ow, group, a), accs, "ow")

            accs = for_range(b, lo, hi, row, zeros * self.rows, "row")
            for i, acc in enumerate(accs):
                at = (i // len(group)) * self.cout + group[i % len(group)][0]
                self.vec.store(acc, partials, b.add(slot, c64(at)))

    def reduce(self, partials):
        """dW[e] = the chunks' sums of element e, in chunk order (each thread a share of e)."""
        b, t, size = self.b, self.dtype, self.rows * self.cout

        def element(e):
            def add(c, total):
                return [b.fadd(total, self.kb.load(partials, b.add(b.mul(c, c64(size)), e), t))]

            (total,) = for_range(b, c64(0), c64(CHUNKS), add, [const(t, 0)], "c")
            self.kb.store(total, self.kb.out, e, t)

        lo, hi = self.kb.split(c64(size))
        for_range(b, lo, hi, element, name="e")

    def emit(self):
        """Each thread its share of the chunks, one barrier, then its share of the sums."""
        kb, b = self.kb, self.b
        partials = global_buffer(b, f"{kb.fn.name}_chunks", self.dtype,
                                 CHUNKS * self.rows * self.cout)
        lo, hi = kb.split(c64(CHUNKS))
        for_range(b, lo, hi, lambda c: self.chunk(c, partials), name="chunk")
        b.call(declare_barrier(kb.module), [kb.tid, kb.nthreads])
        self.reduce(partials)
        return kb.finish()


def emit_conv_weight_grad_blocked(kb, node):
    return DirectWeightGrad(kb, node).emit()

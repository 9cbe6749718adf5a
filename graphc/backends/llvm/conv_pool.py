"""Convolutions with their max pooling fused (passes.kernels.ConvKernel.pool: windows that tile
the result, strides = pool size, no padding): the pre-pooling image is never written to memory.

`PoolWindow` is the pooling's static shape (1 x 1 when nothing is pooled), which the direct
convolution (conv_direct.py) folds into its register blocks. The GEMM path here, each thread
its share of the pooled rows: the PH conv rows under a pooled row go through im2col and the
GEMM (bias and activation in its epilogue) into a stack buffer, whose windows are then reduced
channel-vector-wise into the output. Rows and columns past the last whole window (when PH or
PW does not divide the size) are dropped, as pooling drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_gemm import ConvBlocks
from graphc.backends.llvm.conv_kernels import Geometry, define_im2col_block
from graphc.backends.llvm.irutil import c64, for_range


@dataclass(frozen=True)
class PoolWindow:
    """A max pooling's window (PH x PW) and pooled sizes (POH x POW), as 2-D."""

    PH: int
    PW: int
    POH: int
    POW: int

    @classmethod
    def of(cls, pool, g: Geometry) -> PoolWindow:
        """From the fused pooling node (None: a 1 x 1 window, nothing pooled)."""
        size = (1, 1) if pool is None else tuple(pool.attr("pool_size"))
        ph, pw = size if len(size) == 2 else (1, *size)
        return cls(ph, pw, g.OH // ph, g.OW // pw)

    @property
    def pools(self) -> bool:
        return (self.PH, self.PW) != (1, 1)


def emit_conv_pooled(kb, node, bias, activation, pool: PoolWindow):
    """Each thread: its pooled rows, one at a time (see the module doc)."""
    x, w = node.inputs
    ck = ConvBlocks(kb, node, x.shape, w.shape, w.shape[-1])
    g, b, K = ck.g, kb.b, c64(ck.g.K)
    unit = pool.PH * g.OW  # conv pixels under one pooled row
    rows = min(unit, ck.block_rows)
    cols, image = ck.block_buffer(rows * g.K), ck.block_buffer(unit * ck.cout)
    im2col = define_im2col_block(kb.module, ck.dtype, g)
    lo, hi = kb.split(b.mul(kb.dims(node)[0], c64(pool.POH)))

    def pooled_row(r):
        n, ph = b.sdiv(r, c64(pool.POH)), b.srem(r, c64(pool.POH))
        start = b.add(b.mul(n, c64(g.OH * g.OW)), b.mul(ph, c64(unit)))

        def block(first, count):
            b.call(im2col, [first, count, c64(0), K, kb.ins[0], cols])
            C = ck.at(image, b.mul(b.sub(first, start), c64(ck.cout)))
            ck.gemm(False, False, count, c64(ck.cout), K, cols, K, kb.ins[1], c64(ck.cout), C,
                    c64(ck.cout), bias, activation)

        ck.blocks(start, b.add(start, c64(unit)), rows, block)
        pool_row(kb, ck, pool, image, r)

    for_range(b, lo, hi, pooled_row, name="prow")
    return kb.finish()


def pool_row(kb, ck, pool, image, r, row_stride=None, activation="linear"):
    """out[pooled row r] = the max over each window of `image` (PH conv rows of `row_stride`
    pixels, OW by default), then the activation: after the max when it commutes with it
    exactly (relu), else on each value first (a polynomial sigmoid may not be monotone)."""
    b, vec, cout = kb.b, ChannelVectors(kb.b, ck.dtype), ck.cout
    stride = ck.g.OW if row_stride is None else row_stride
    late = activation in ("linear", "relu")

    def pixel(pw):
        out = b.mul(b.add(b.mul(r, c64(pool.POW)), pw), c64(cout))
        for first, lanes in vec.chunks(cout):
            best = None
            for dh in range(pool.PH):
                for dw in range(pool.PW):
                    at = b.add(b.mul(pw, c64(pool.PW)), c64(dh * stride + dw))
                    value = vec.load(image, b.add(b.mul(at, c64(cout)), c64(first)), lanes)
                    value = value if late else vecmath.emit_activation(b, activation, value)
                    best = value if best is None else vec.maximum(best, value)
            best = vecmath.emit_activation(b, activation, best) if late else best
            vec.store(best, kb.out, b.add(out, c64(first)))

    for_range(b, c64(0), c64(pool.POW), pixel, name="pw")

"""Vectors along the channel axis of channels_last images, for the direct convolution
(conv_direct.py) and the pooling fused into convolutions (conv_pool.py): a row of channels is
cut into blocks of at most CHUNK_VECTORS machine vectors, each one LLVM vector value (kept in
registers), loaded and stored unaligned. bfloat16 lanes are float32 in registers (exact), 16-bit
in memory: a store rounds, which leaves values that were bfloat16 unchanged."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.bf16 import narrow_bits, widen_bits
from graphc.backends.llvm.emit_reduce import EXTREMA
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import COMPUTE_DTYPE, I32, ITEMSIZE, MEM_TYPE, REG_TYPE

CHUNK_VECTORS = 4  # channels per block: this many machine vectors


class ChannelVectors:
    """Vector loads, stores and splats of `dtype` values in builder `b`."""

    def __init__(self, b: ir.IRBuilder, dtype: str):
        self.b, self.dtype, self.align = b, dtype, ITEMSIZE[dtype]

    def chunks(self, channels: int) -> list:
        """(first channel, lanes) of each block of a row of `channels`."""
        step = CHUNK_VECTORS * VECTOR_LANES[COMPUTE_DTYPE.get(self.dtype, self.dtype)]
        return [(c, min(step, channels - c)) for c in range(0, channels, step)]

    def type(self, lanes: int) -> ir.VectorType:
        return ir.VectorType(REG_TYPE[self.dtype], lanes)

    def address(self, ptr, offset):
        return self.b.gep(ptr, [offset], source_etype=MEM_TYPE[self.dtype], inbounds=True)

    def load(self, ptr, offset, lanes: int):
        """`lanes` values from element `offset` (i64) of ptr."""
        if self.dtype == "bfloat16":
            bits = ir.VectorType(MEM_TYPE[self.dtype], lanes)
            return widen_bits(self.b, self.b.load(self.address(ptr, offset), typ=bits,
                                                  align=self.align))
        return self.b.load(self.address(ptr, offset), typ=self.type(lanes), align=self.align)

    def store(self, value, ptr, offset):
        """Also into a typed stack buffer (llvmlite checks a typed pointer's element type)."""
        at = self.address(ptr, offset)
        value = narrow_bits(self.b, value) if self.dtype == "bfloat16" else value
        at = at if at.type.is_opaque else self.b.bitcast(at, value.type.as_pointer())
        self.b.store(value, at, align=self.align)

    def zeros(self, lanes: int):
        return vecmath.const(self.type(lanes), 0.0)

    def splat(self, value, lanes: int):
        """A vector of `lanes` copies of the scalar `value`."""
        b, vt = self.b, ir.VectorType(value.type, lanes)
        one = b.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(I32, 0))
        return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined),
                                ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))

    def maximum(self, x, y):
        """Lane-wise max that propagates NaN, as np.max (llvm.maximum)."""
        fn = vecmath.intrinsic(self.b, "maximum", x.type, 2)
        return self.b.call(fn, [x, y], fastmath=EXTREMA)

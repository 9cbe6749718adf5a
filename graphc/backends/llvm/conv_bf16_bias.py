"""The bias gradient of a bfloat16 convolution, summed inside its weight-gradient kernel
(conv{1,2}d_weight_bias_grad, bias_grad_fusion.py): the pass that transposes dy for the tiles
or the GEMM also adds each channel's float32 values of dy into 16 float32 lanes of its own;
at the end the lanes are added and the sum rounded once into the result's row K, as the
interpreter's float32 sum of dy is rounded once (another order: within one bfloat16 step).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.bf16 import narrow_bits, widen_bits
from graphc.backends.llvm.conv_bf16_parts import VL, elem, lane_mask, masked_load, zero_floats
from graphc.backends.llvm.irutil import F32, I32, c64, ceil_div, for_range

VF = ir.VectorType(F32, VL)


class BiasSums:
    """Per channel 16 float32 lanes in a thread's buffer (only the thread that sums uses it)."""

    def __init__(self, kb, buffers, channels: int):
        self.kb, self.b, self.channels = kb, kb.b, channels
        self.lanes = buffers.array(F32, channels * VL)
        zero_floats(kb, self.lanes, c64(channels * VL))

    def add_rows_once(self, k0, dy_t, stride: int, count):
        """add_rows, in the pass over dW's row 0 only (k0: the pass's first row)."""
        with self.b.if_then(self.b.icmp_signed("==", k0, c64(0))):
            self.add_rows(dy_t, stride, count)

    def round_once(self, k0, row):
        """round_into_row, after the pass over dW's row 0 only."""
        with self.b.if_then(self.b.icmp_signed("==", k0, c64(0))):
            self.round_into_row(row)

    def add_rows(self, dy_t, stride: int, count):
        """lanes[j] += float32 dy_t[j, i] for i < count, j < channels (rows `stride` apart)."""
        b = self.b
        steps = ceil_div(b, count, c64(VL))

        def channel(j):
            target = b.bitcast(elem(b, self.lanes, b.mul(j, c64(VL)), F32), VF.as_pointer())

            def step(v):
                first = b.mul(v, c64(VL))
                mask = lane_mask(b, b.sub(count, first), VL)
                bits = masked_load(b, self.kb.module,
                                   elem(b, dy_t, b.add(b.mul(j, c64(stride)), first)), mask)
                b.store(b.fadd(b.load(target, typ=VF, align=4), widen_bits(b, bits)), target,
                        align=4)

            for_range(b, c64(0), steps, step, name="bv")

        for_range(b, c64(0), c64(self.channels), channel, name="bj")

    def round_into_row(self, row):
        """row[j] = bfloat16(the sum of lanes[j]) for j < channels."""
        b = self.b

        def channel(j):
            vector = b.load(b.bitcast(elem(b, self.lanes, b.mul(j, c64(VL)), F32),
                                      VF.as_pointer()), typ=VF, align=4)
            total = b.extract_element(vector, ir.Constant(I32, 0))
            for lane in range(1, VL):
                total = b.fadd(total, b.extract_element(vector, ir.Constant(I32, lane)))
            b.store(narrow_bits(b, total), elem(b, row, j))

        for_range(b, c64(0), c64(self.channels), channel, name="br")

"""The bfloat16 convolution weight gradient on AMX tiles, fed directly (no GEMM call, no
repacking): dW^T[cout, K] = dy^T @ cols, float32 sums in tiles, rounded once into dW.

Each thread takes a range of dW's rows (im2col columns), WIDTH at a time, and runs over all
output pixels, PIXELS at a time:
    A  dy^T, cout rows of PIXELS pixels (16 x 16 register transposes): an A tile is 16 couts
       x 32 pixels, read in place
    B  the im2col columns of pixel pairs, written straight in the tile layout `tdpbf16ps`
       reads: word [q, k] = (x under column k of pixel 2q, of pixel 2q + 1), 16 channels of
       both pixels interleaved in registers per store
    C  the float32 sums, cout x WIDTH, 32 x 32 blocks of four accumulator tiles: loaded,
       summed over the pass's pixels, stored back
Padding (couts to 32, pixels to 32, columns to 32) is zero in A and B, so no NaN reaches a
result from outside the operands. The sums run in another order than the interpreter's, as
conv_bf16.py's do (the tests allow one bfloat16 step).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles as tiles
from graphc.backends.llvm.bf16 import narrow_bits
from graphc.backends.llvm.conv_bf16_bias import BiasSums
from graphc.backends.llvm.conv_bf16_parts import (
    BLOCK,
    VI16,
    VL,
    WGRAD_PIXELS,
    WGRAD_WIDTH,
    ThreadBuffers,
    elem,
    lane_mask,
    masked_load,
    rounded_up,
    transpose_rows,
    zero_elements,
    zero_floats,
)
from graphc.backends.llvm.conv_gemm import ConvBlocks, kernel_shape
from graphc.backends.llvm.conv_kernels import Sweep
from graphc.backends.llvm.gemm_bf16_kernel import splat
from graphc.backends.llvm.gemm_variant import declare
from graphc.backends.llvm.irutil import F32, I1, I16, I32, PTR, c64, ceil_div, for_range

PIXELS = WGRAD_PIXELS  # pixels per pass: the tiles' reduction dimension (dy^T's row length)
ROW = PIXELS + 32  # dy^T's row stride: 16 rows of a tile fall in distinct L1 sets
WIDTH = WGRAD_WIDTH  # dW rows per pass (a multiple of 32): C's float32 columns stay in L2
V32 = ir.VectorType(I16, 2 * VL)
# (a0, b0, a1, b1, ...): two pixels' 16 channels as 16 pair words
PAIRS = ir.Constant(ir.VectorType(I32, 2 * VL), [k // 2 + VL * (k % 2) for k in range(2 * VL)])


def emit_conv_weight_grad_amx(kb, node):
    """The kernel (see the module doc): per thread, its dW rows WIDTH at a time (and for
    conv{r}d_weight_bias_grad the bias sums in the pass over dW's row 0: conv_bf16_bias)."""
    ck = ConvBlocks(kb, node, node.inputs[0].shape, kernel_shape(node), node.shape[-1])
    wgrad = TileWeightGrad(kb, ck, node.op.endswith("weight_bias_grad"))
    tiles.emit_request_permission(kb.module, kb.b)
    tiles.load_config(kb.module, kb.b)
    wgrad.zero_padded_couts()
    k_lo, k_hi = kb.split(c64(ck.g.K))
    pixels = kb.b.mul(kb.dims(node.inputs[0])[0], c64(ck.g.OH * ck.g.OW))
    ck.blocks(k_lo, k_hi, WIDTH, lambda k0, kcount: wgrad.columns(k0, kcount, pixels))
    tiles.release(kb.module, kb.b)
    return wgrad.buffers.finish()


class TileWeightGrad:
    """A thread's buffers and the steps of one pass."""

    def __init__(self, kb, ck, with_bias: bool):
        self.kb, self.ck, self.b = kb, ck, kb.b
        self.couts = rounded_up(ck.cout)
        self.buffers = ThreadBuffers(kb)
        self.dy_t = self.buffers.array(I16, self.couts * ROW)
        self.pairs = self.buffers.array(I32, PIXELS // 2 * WIDTH)
        self.total = self.buffers.array(F32, self.couts * WIDTH)
        self.bias = BiasSums(kb, self.buffers, ck.cout) if with_bias else None

    def zero_padded_couts(self):
        """dy^T rows past cout: zero (A tiles read them; their results are not stored)."""
        start = self.ck.cout * ROW
        zero_elements(self.kb, self.dy_t, c64(start), c64(self.couts * ROW))

    def columns(self, k0, kcount, pixels):
        """dW rows k0 .. k0 + kcount: sums over every pixel, then rounded into dW."""
        b, ck = self.b, self.ck
        zero_floats(self.kb, self.total, c64(self.couts * WIDTH))
        # columns past kcount stay zero
        zero_elements(self.kb, self.pairs, c64(0), c64(PIXELS // 2 * WIDTH), I32)

        def chunk(first, count):
            dy = ck.at(self.kb.ins[-1], b.mul(first, c64(ck.cout)))
            transpose_rows(self.kb, dy, count, ck.cout, self.dy_t, ROW)
            if self.bias is not None:
                self.bias.add_rows_once(k0, self.dy_t, ROW, count)
            self.zero_pixel_tail(count)
            self.pack_pairs(first, count, k0, kcount)
            self.sum_blocks(ceil_div(b, count, c64(BLOCK)), kcount)

        ck.blocks(c64(0), pixels, PIXELS, chunk)
        self.round_into_dw(k0, kcount)
        if self.bias is not None:
            self.bias.round_once(k0, ck.at(self.kb.out, c64(ck.g.K * ck.cout)))

    def zero_pixel_tail(self, count):
        """dy^T columns count .. the next multiple of 32: zero (A's padding)."""
        b = self.b
        end = b.mul(ceil_div(b, count, c64(BLOCK)), c64(BLOCK))

        def row(j):
            base = b.mul(j, c64(ROW))
            zero_elements(self.kb, self.dy_t, b.add(base, count), b.add(base, end))

        for_range(b, c64(0), c64(self.ck.cout), row, name="zt")

    def pack_pairs(self, first, count, k0, kcount):
        """B's pair rows for pixels first .. first + count (and zero pairs up to a multiple
        of 32 pixels): word [q, k - k0] for k0 <= k < k0 + kcount."""
        b, g = self.b, self.ck.g
        s = Sweep(b, g)
        rows = b.mul(ceil_div(b, count, c64(BLOCK)), c64(BLOCK // 2))

        def pair_row(q):
            ends = [b.add(b.mul(q, c64(2)), c64(e)) for e in (0, 1)]
            valid = [b.icmp_signed("<", e, count) for e in ends]
            places = [s.position(b.add(first, e)) for e in ends]
            dst = elem(b, self.pairs, b.mul(q, c64(WIDTH)), I32)
            for_range(b, c64(0), c64(g.KH), lambda kh: for_range(
                b, c64(0), c64(g.KW), lambda kw: self.pack_tap(
                    s, kh, kw, places, valid, dst, k0, kcount), name="kw"), name="kh")

        for_range(b, c64(0), rows, pair_row, name="q")

    def pack_tap(self, s, kh, kw, places, valid, dst, k0, kcount):
        """One tap's channels (those within k0 .. k0 + kcount) of both pixels of a pair."""
        b, g = self.b, self.ck.g
        start = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), c64(g.C))
        c_lo = b.select(b.icmp_signed(">", k0, start), b.sub(k0, start), c64(0))
        end = b.sub(b.add(k0, kcount), start)
        c_hi = b.select(b.icmp_signed("<", end, c64(g.C)), end, c64(g.C))
        sources = []
        for (n, oh, ow), ok in zip(places, valid):
            ih = b.sub(b.add(b.mul(oh, c64(g.SH)), b.mul(kh, c64(g.DH))), c64(g.PT))
            iw = b.sub(b.add(b.mul(ow, c64(g.SW)), b.mul(kw, c64(g.DW))), c64(g.PL))
            inside = b.and_(b.and_(b.icmp_unsigned("<", ih, c64(g.H)),
                                   b.icmp_unsigned("<", iw, c64(g.W))), ok)
            sources.append((b.select(inside, s.pixel(n, ih, iw), c64(0)), inside))
        target = elem(b, dst, b.sub(start, k0), I32)  # column 0 of the tap
        if g.C % VL:
            return self.pack_masked(sources, target, c_lo, c_hi)
        whole = b.and_(b.icmp_signed(">=", start, k0),
                       b.icmp_signed("<=", b.add(start, c64(g.C)), b.add(k0, kcount)))
        with b.if_else(whole) as (then, otherwise):
            with then:  # the usual case: every channel, no masks
                for c in range(0, g.C, VL):
                    halves = [b.select(inside, b.load(elem(b, self.kb.ins[0], b.add(src, c64(c))),
                                                      typ=VI16, align=2), ir.Constant(VI16, None))
                              for src, inside in sources]
                    b.store(b.shuffle_vector(*halves, PAIRS), elem(b, target, c64(c), I32),
                            align=2)
            with otherwise:
                self.pack_masked(sources, target, c_lo, c_hi)

    def pack_masked(self, sources, target, c_lo, c_hi):
        """Channels c_lo .. c_hi of a tap, 16 at a time, loads and stores masked."""
        b, module = self.b, self.kb.module

        def vector(v):
            c = b.add(c_lo, b.mul(v, c64(VL)))
            lanes = lane_mask(b, b.sub(c_hi, c), VL)
            halves = [masked_load(b, module, elem(b, self.kb.ins[0], b.add(src, c)),
                                  b.and_(lanes, splat(b, inside, I1)))
                      for src, inside in sources]
            words = b.shuffle_vector(halves[0], halves[1], PAIRS)
            masked_store(b, module, words, elem(b, target, c, I32),
                         lane_mask(b, b.sub(c_hi, c), 2 * VL, pairs=True))

        steps = ceil_div(b, b.sub(c_hi, c_lo), c64(VL))
        for_range(b, c64(0), steps, vector, name="cv")

    def sum_blocks(self, kblocks, kcount):
        """C += A @ B over this pass's pixels (kblocks x 32), block by 32 x 32 block."""
        b, module = self.b, self.kb.module
        col_blocks = ceil_div(b, kcount, c64(BLOCK))
        c_stride, a_stride, b_stride = c64(WIDTH * 4), c64(ROW * 2), c64(WIDTH * 4)

        def block(rb, cb):
            corners = [(b.add(b.mul(rb, c64(BLOCK)), c64(16 * (t // 2))),
                        b.add(b.mul(cb, c64(BLOCK)), c64(16 * (t % 2)))) for t in range(4)]
            c_tiles = [elem(b, self.total, b.add(b.mul(i, c64(WIDTH)), j), F32)
                       for i, j in corners]
            for t, ptr in enumerate(c_tiles):
                tiles.load(module, b, t, ptr, c_stride)

            def k_step(kq):
                for t, half in ((4, 0), (5, 1)):
                    row = b.add(b.mul(rb, c64(BLOCK)), c64(16 * half))
                    ptr = elem(b, self.dy_t, b.add(b.mul(row, c64(ROW)), b.mul(kq, c64(32))))
                    tiles.load(module, b, t, ptr, a_stride)
                for t, half in ((6, 0), (7, 1)):
                    col = b.add(b.mul(cb, c64(BLOCK)), c64(16 * half))
                    ptr = elem(b, self.pairs, b.add(b.mul(kq, c64(16 * WIDTH)), col), I32)
                    tiles.load(module, b, t, ptr, b_stride)
                for acc, (at, bt) in enumerate(((4, 6), (4, 7), (5, 6), (5, 7))):
                    tiles.dot_bf16(module, b, acc, at, bt)

            for_range(b, c64(0), kblocks, k_step, name="kq")
            for t, ptr in enumerate(c_tiles):
                tiles.store(module, b, t, ptr, c_stride)

        for_range(b, c64(0), c64(self.couts // BLOCK), lambda rb: for_range(
            b, c64(0), col_blocks, lambda cb: block(rb, cb), name="cb"), name="rb")

    def round_into_dw(self, k0, kcount):
        """dW[k0 + k, j] = bfloat16(total[j, k]) for k < kcount, j < cout."""
        b, cout = self.b, self.ck.cout
        dw = self.ck.at(self.kb.out, b.mul(k0, c64(cout)))

        def row(k):
            def one(j):
                value = b.load(elem(b, self.total, b.add(b.mul(j, c64(WIDTH)), k), F32), typ=F32)
                b.store(narrow_bits(b, value), elem(b, dw, b.add(b.mul(k, c64(cout)), j)))

            for_range(b, c64(0), c64(cout), one, name="rj")

        for_range(b, c64(0), kcount, row, name="rk")


def masked_store(b, module, value, ptr, mask):
    fn = declare(module, "llvm.masked.store.v32i16.p0",
                 ir.FunctionType(ir.VoidType(), [V32, PTR, I32, mask.type]))
    b.call(fn, [value, ptr, ir.Constant(I32, 2), mask])

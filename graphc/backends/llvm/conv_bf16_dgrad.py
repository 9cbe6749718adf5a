"""The column blocks of the bfloat16 convolution input gradient, cols = dy @ W^T in float32,
on AMX tiles fed directly (conv_bf16.emit_conv_input_grad_bf16 runs col2im on them):

    B  W^T in the tile layout `tdpbf16ps` reads, packed once per call of the kernel: word
       [q, k] = (W[k, 2q], W[k, 2q + 1]), zero past cout and K (padded to 32)
    A  a block's dy rows copied into rows of cout padded to 32 (zeros), 32-row tiles pairs
    C  32 x 32 blocks of four accumulator tiles stored straight into cols (row stride K):
       a tile row past K spills into the next row's first columns, so the column blocks run
       from the last to the first and the left tiles store last, overwriting every spill
       (hence K >= 16: a tile row never spans two rows); the last row spills into SLACK

Where tiles are not granted, or K < 16, GemmColumns runs the bfloat16 GEMM (packing its
operands per block). Both give each value as one float32 sum of cout products.
"""

from __future__ import annotations

from graphc.backends.llvm import gemm_amx_tiles as tiles
from graphc.backends.llvm.conv_bf16_parts import (
    BLOCK,
    ThreadGemm,
    elem,
    rounded_up,
    zero_elements,
)
from graphc.backends.llvm.gemm_amx_int8 import memcpy
from graphc.backends.llvm.irutil import F32, I16, I32, c64, ceil_div, for_range

SLACK = BLOCK  # floats past the last row of cols that the last tiles may write


def tiles_apply(K: int) -> bool:
    return tiles.permission_granted() and K >= 16


class GemmColumns:
    """cols[rows, K] = dy[first:first + rows] @ W^T by the bfloat16 GEMM (program_gemm)."""

    def __init__(self, kb, ck, buffers, rows: int):
        self.kb, self.ck = kb, ck
        self.gemm = ThreadGemm(buffers, (False, True), False, "linear", "float32",
                               (rows, ck.g.K, ck.cout))

    def __call__(self, first, rows, cols):
        b, K, cout = self.kb.b, c64(self.ck.g.K), c64(self.ck.cout)
        self.gemm(rows, K, cout, self.ck.at(self.kb.ins[0], b.mul(first, cout)), cout,
                  self.kb.ins[1], cout, cols, K)

    def finish(self):
        """Nothing to release."""


class TileColumns:
    """cols[rows, K] = dy[first:first + rows] @ W^T on tiles (see the module doc)."""

    def __init__(self, kb, ck, buffers, rows: int):
        self.kb, self.ck, self.b = kb, ck, kb.b
        self.couts, self.ks = rounded_up(ck.cout), rounded_up(ck.g.K)
        self.packed = buffers.array(I32, self.couts // 2 * self.ks)
        self.rows = buffers.array(I16, rounded_up(rows) * self.couts)
        tiles.emit_request_permission(kb.module, self.b)
        tiles.load_config(kb.module, self.b)
        self.pack_weights()

    def pack_weights(self):
        """packed[q, k] = (W[k, 2q], W[k, 2q + 1]) bits, zero past cout and K."""
        b, cout, K = self.b, self.ck.cout, self.ck.g.K
        zero_elements(self.kb, self.packed, c64(0), c64(self.couts // 2 * self.ks), I32)

        def row(k):
            def channel(c):
                value = b.load(elem(b, self.kb.ins[1], b.add(b.mul(k, c64(cout)), c)), typ=I16)
                q, half = b.sdiv(c, c64(2)), b.srem(c, c64(2))
                word = b.add(b.mul(q, c64(self.ks)), k)
                half_word = elem(b, self.packed, b.add(b.mul(word, c64(2)), half))
                b.store(value, b.bitcast(half_word, I16.as_pointer()))

            for_range(b, c64(0), c64(cout), channel, name="wc")

        for_range(b, c64(0), c64(K), row, name="wk")

    def __call__(self, first, rows, cols):
        b = self.b
        self.copy_rows(first, rows)
        blocks = ceil_div(b, rows, c64(BLOCK))
        last = self.ks // BLOCK - 1
        for_range(b, c64(0), blocks, lambda rb: for_range(
            b, c64(0), c64(last + 1), lambda i: self.block(rb, b.sub(c64(last), i), cols),
            name="cb"), name="rb")

    def copy_rows(self, first, rows):
        """A's rows: dy rows first .. first + rows, zero past cout and up to 32 rows."""
        b, cout = self.b, self.ck.cout
        padded = b.mul(ceil_div(b, rows, c64(BLOCK)), c64(BLOCK))
        zero_elements(self.kb, self.rows, b.mul(rows, c64(self.couts)),
                      b.mul(padded, c64(self.couts)))
        dy = self.ck.at(self.kb.ins[0], b.mul(first, c64(cout)))
        if cout == self.couts:  # rows already padded: one copy
            memcpy(b, self.kb.module, self.rows, dy, b.mul(rows, c64(2 * cout)))
            return

        def row(i):
            target = elem(b, self.rows, b.mul(i, c64(self.couts)))
            memcpy(b, self.kb.module, target, elem(b, dy, b.mul(i, c64(cout))), c64(2 * cout))
            zero_elements(self.kb, target, c64(cout), c64(self.couts))

        for_range(b, c64(0), rows, row, name="ar")

    def block(self, rb, cb, cols):
        """cols[32 rb .. +32, 32 cb .. +32]: sums over every cout pair, then stored."""
        b, module, K = self.b, self.kb.module, self.ck.g.K
        r0, j0 = b.mul(rb, c64(BLOCK)), b.mul(cb, c64(BLOCK))
        for acc in range(4):
            tiles.zero(module, b, acc)

        def k_step(kq):
            for t in (4, 5):
                row = b.add(r0, c64(16 * (t - 4)))
                ptr = elem(b, self.rows, b.add(b.mul(row, c64(self.couts)), b.mul(kq, c64(32))))
                tiles.load(module, b, t, ptr, c64(self.couts * 2))
            for t in (6, 7):
                word = b.add(b.mul(kq, c64(16 * self.ks)), b.add(j0, c64(16 * (t - 6))))
                tiles.load(module, b, t, elem(b, self.packed, word, I32), c64(self.ks * 4))
            for acc, (at, bt) in enumerate(((4, 6), (4, 7), (5, 6), (5, 7))):
                tiles.dot_bf16(module, b, acc, at, bt)

        for_range(b, c64(0), c64(self.couts // BLOCK), k_step, name="kq")
        for acc in (3, 1, 2, 0):  # right tiles first: the left ones overwrite their spills
            row, col = b.add(r0, c64(16 * (acc // 2))), b.add(j0, c64(16 * (acc % 2)))
            ptr = elem(b, cols, b.add(b.mul(row, c64(K)), col), F32)
            tiles.store(module, b, acc, ptr, c64(K * 4))

    def finish(self):
        tiles.release(self.kb.module, self.b)


def column_product(kb, ck, buffers, rows: int):
    """TileColumns where tiles apply to this convolution, else GemmColumns."""
    kind = TileColumns if tiles_apply(ck.g.K) else GemmColumns
    return kind(kb, ck, buffers, rows)


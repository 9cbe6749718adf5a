"""The int8 GEMM on Intel AMX: `tdpbusd` (16 rows x 64 unsigned bytes of A times 16 rows of 4 k
x 16 columns of signed bytes of B, into 16 x 16 int32 per instruction).

Public API (the signature, contract and epilogues of gemm_int8.define_gemm_int8):
  define_gemm_int8_amx(module, epilogue, activation='linear', bias=False,
                       min_rows=MIN_ROWS, a_padded=False) -> ir.Function
  a_rows_bytes(M, lda) -> int   bytes an `a_padded` A must hold (whole 32-row blocks + slack)

B's packed layout (graphc.ops.quant.pack_weights: [ceil(K/4), round_up(N, 16), 4]) is AMX's
B-tile layout already: a tile is 16 of its k-group rows x 16 columns, the row stride one
packed row. Each thread takes whole 32-row blocks of C; it copies a block's rows of A to its
stack, zero-padded to 32 rows and to K a multiple of 64 (A's rows end anywhere: nothing past
them is read) - or, with `a_padded` (A quantized straight into such a buffer by emit_quant.py),
reads the tiles from A itself: rows past M and bytes past K are then read but never used
(they meet zero rows of B or land in rows of C that are not stored) - and computes each
32 x 32 block of C (row blocks outside, column blocks inside) in four accumulator tiles (0-3)
from two A tiles (4, 5) and two B tiles (6, 7), then stores them to the stack and runs
gemm_int8's epilogue per row. The last 16 k-group rows of B are read from a zero-padded copy on
the stack (made once per call), so no tile reads past B; a 16-column tile past N's last vector
reads the next row of B into columns the epilogue drops. Below `min_rows` rows, where a tile
would mostly multiply padding, the call goes to the vpdpbusd variant (which splits a few rows
by columns between the threads).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles as tiles
from graphc.backends.llvm.gemm_int8 import (
    ENTRY_ARGS,
    ENTRY_TYPES,
    LANES,
    VI32,
    Int8Variant,
    byte_at,
    column_terms,
    define_gemm_int8,
    gemm_int8_name,
    lane_mask,
    new_function,
    store_row,
)
from graphc.backends.llvm.gemm_variant import counted_loop, declare, entry_prologue
from graphc.backends.llvm.irutil import I1, I8, I32, I64, PTR, VOID, c64, split_range
from graphc.ops.quant import GROUP

BLOCK = 32  # rows and columns of C per block: 2 x 2 accumulator tiles
TILE_K = 64  # k per tile step (16 k-group rows of B)
TILE_GROUPS = TILE_K // GROUP
MIN_ROWS = 16  # fewer rows: vpdpbusd (a tile of 16 rows would be mostly padding)


def a_rows_bytes(M: int, lda: int) -> int:
    """Bytes an `a_padded` A holds: whole 32-row blocks, and a tile row of slack past the last
    (its last k step may start within the row and read 64 bytes)."""
    return -(-M // BLOCK) * BLOCK * lda + TILE_K


def define_gemm_int8_amx(module: ir.Module, epilogue: str, activation: str = "linear",
                         bias: bool = False, min_rows: int = MIN_ROWS,
                         a_padded: bool = False) -> ir.Function:
    """Define the variant in `module` (or return it if already defined). See module doc."""
    name = gemm_int8_name(epilogue, activation, bias, True).replace("_u8s8_", "_amx_u8s8_")
    name += ("" if min_rows == MIN_ROWS else f"_from{min_rows}") + ("_apadded" if a_padded else "")
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    # min_rows 1: every call on tiles, no vpdpbusd variant compiled alongside
    small = define_gemm_int8(module, epilogue, activation, bias, vnni=True) if min_rows > 1 \
        else None
    fn = new_function(module, name, ENTRY_TYPES, ENTRY_ARGS)
    AmxInt8Gemm(Int8Variant(module, name, epilogue, activation, bias, True), fn, small,
                min_rows, a_padded).emit()
    return fn


def memcpy(b, module, dst, src, nbytes):
    fn = declare(module, "llvm.memcpy.p0.p0.i64", ir.FunctionType(VOID, [PTR, PTR, I64, I1]))
    b.call(fn, [dst, src, nbytes, ir.Constant(I1, 0)])


def memset(b, module, dst, nbytes):
    fn = declare(module, "llvm.memset.p0.i64", ir.FunctionType(VOID, [PTR, I8, I64, I1]))
    b.call(fn, [dst, ir.Constant(I8, 0), nbytes, ir.Constant(I1, 0)])


def clamp(b, x, hi):
    return b.select(b.icmp_signed("<", x, hi), x, hi)


class AmxInt8Gemm:
    """One entry being emitted: its arguments, stack buffers and loops."""

    def __init__(self, spec, fn, small, min_rows, a_padded):
        self.spec, self.fn, self.small, self.min_rows = spec, fn, small, min_rows
        self.a_padded = a_padded
        self.module = spec.module
        self.a = dict(zip(ENTRY_ARGS, fn.args, strict=True))

    def emit(self):
        a, module = self.a, self.module
        b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        M, N, nt, t, nvec = entry_prologue(b, a, LANES)
        if self.small is not None:
            with b.if_then(b.icmp_signed("<", M, c64(self.min_rows))):
                b.call(self.small, list(self.fn.args))
                b.ret_void()
        groups = b.sdiv(b.add(a["K"], c64(GROUP - 1)), c64(GROUP))
        steps = b.sdiv(b.add(groups, c64(TILE_GROUPS - 1)), c64(TILE_GROUPS))
        self.steps = b.select(b.icmp_signed("<", steps, c64(1)), c64(1), steps)
        self.ldb = b.mul(nvec, c64(LANES * GROUP))  # bytes per k-group row of packed B
        self.kt = b.mul(self.steps, c64(TILE_K))  # bytes per row of the A block
        self.alloc_buffers(b)
        self.copy_b_tail(b, groups)
        blocks = b.sdiv(b.add(M, c64(BLOCK - 1)), c64(BLOCK))
        lo, hi = split_range(b, blocks, a["tid"], a["nthreads"])
        tiles.emit_request_permission(module, b)
        tiles.load_config(module, b)
        counted_loop(b, lo, hi, c64(1), lambda b, rb: self.row_block(b, b.mul(rb, c64(BLOCK))),
                     "rb")
        tiles.release(module, b)
        b.ret_void()

    def alloc_buffers(self, b):
        # one tile of slack past the tail copy: the last 16-column tile may read past N's vector
        self.b_tail = b.alloca(I8, size=b.add(b.mul(self.ldb, c64(TILE_GROUPS)), c64(64)))
        self.scratch = b.alloca(I32, size=c64(BLOCK * BLOCK))
        buffers = [self.b_tail, self.scratch]
        if not self.a_padded:
            self.a_block = b.alloca(I8, size=b.mul(self.kt, c64(BLOCK)))
            buffers.append(self.a_block)
        for buf in buffers:
            buf.align = 64

    def copy_b_tail(self, b, groups):
        """B's last tile step of k-group rows, zero past its real rows (and in the slack)."""
        first = b.mul(b.sub(self.steps, c64(1)), c64(TILE_GROUPS))
        memset(b, self.module, self.b_tail, b.add(b.mul(self.ldb, c64(TILE_GROUPS)), c64(64)))

        def row(b, r):
            real = b.sub(groups, first)
            with b.if_then(b.icmp_signed("<", r, real)):
                memcpy(b, self.module, byte_at(b, self.b_tail, b.mul(r, self.ldb)),
                       byte_at(b, self.a["B"], b.mul(b.add(first, r), self.ldb)), self.ldb)
        counted_loop(b, c64(0), c64(TILE_GROUPS), c64(1), row, "bt")

    def row_block(self, b, i0):
        """C[i0:i0+32, :]: A's rows (to the stack unless a_padded), then every 32-column
        block."""
        a = self.a
        rows = clamp(b, b.sub(a["M"], i0), c64(BLOCK))
        if self.a_padded:
            self.tiles_a, self.lda = byte_at(b, a["A"], b.mul(i0, a["lda"])), a["lda"]
        else:
            self.copy_a(b, i0, rows)
            self.tiles_a, self.lda = self.a_block, self.kt
        counted_loop(b, c64(0), a["N"], c64(BLOCK),
                     lambda b, j0: self.column_block(b, i0, rows, j0), "cb")

    def copy_a(self, b, i0, rows):
        a = self.a

        def copy_row(b, r):
            dst = byte_at(b, self.a_block, b.mul(r, self.kt))
            memcpy(b, self.module, dst, byte_at(b, a["A"], b.mul(b.add(i0, r), a["lda"])),
                   a["K"])
            memset(b, self.module, byte_at(b, dst, a["K"]), b.sub(self.kt, a["K"]))
        counted_loop(b, c64(0), rows, c64(1), copy_row, "ar")
        # rows past M: zeros, so the tiles never meet uninitialized bytes
        memset(b, self.module, byte_at(b, self.a_block, b.mul(rows, self.kt)),
               b.mul(b.sub(c64(BLOCK), rows), self.kt))

    def column_block(self, b, i0, rows, j0):
        module = self.module
        for acc in range(4):
            tiles.zero(module, b, acc)
        b_cols = [b.mul(b.add(j0, c64(half * 16)), c64(GROUP)) for half in (0, 1)]

        def k_step(b, q, b_rows):
            for t, half in ((4, 0), (5, 1)):
                ptr = byte_at(b, self.tiles_a, b.add(b.mul(c64(half * 16), self.lda),
                                                     b.mul(q, c64(TILE_K))))
                tiles.load(module, b, t, ptr, self.lda)
            for t, col in zip((6, 7), b_cols):
                tiles.load(module, b, t, byte_at(b, b_rows, col), self.ldb)
            for acc, (at, bt) in enumerate(((4, 6), (4, 7), (5, 6), (5, 7))):
                tiles.dot_u8s8(module, b, acc, at, bt)

        last = b.sub(self.steps, c64(1))
        counted_loop(b, c64(0), last, c64(1), lambda b, q: k_step(
            b, q, byte_at(b, self.a["B"], b.mul(b.mul(q, c64(TILE_GROUPS)), self.ldb))), "kq")
        k_step(b, last, self.b_tail)
        for acc in range(4):
            offset = (acc // 2) * 16 * BLOCK + (acc % 2) * 16
            ptr = b.gep(self.scratch, [c64(offset)], source_etype=I32)
            tiles.store(module, b, acc, ptr, c64(BLOCK * 4))
        self.epilogue(b, i0, rows, j0)

    def epilogue(self, b, i0, rows, j0):
        """gemm_int8's epilogue on each real row of the block (masked to N's columns)."""
        args = {**self.a, "j0": j0, "ncols": clamp(b, b.sub(self.a["N"], j0), c64(BLOCK))}
        masks = [lane_mask(b, c64(v * LANES), args["ncols"]) for v in (0, 1)]
        columns = column_terms(self.spec, b, 2, masks, args)

        def row(b, r):
            accs = [b.load(b.gep(self.scratch, [b.add(b.mul(r, c64(BLOCK)), c64(v * LANES))],
                                 source_etype=I32), typ=VI32, align=64) for v in (0, 1)]
            store_row(self.spec, b, b.add(i0, r), accs, columns, masks, args)
        counted_loop(b, c64(0), rows, c64(1), row, "ep")

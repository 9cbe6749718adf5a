"""The bfloat16 GEMM on Intel AMX: C[M,N] = act(op(A) @ op(B) + bias), A and B bfloat16,
float32 accumulation in tiles by `tdpbf16ps` (16 x 32 bfloat16 times 16 pair rows x 16 columns
into 16 x 16 float32, per instruction).

Public API (the signature and the epilogue of gemm_bf16.define_bf16_gemm):
  define_amx_gemm(module, transpose_a, transpose_b, bias, activation, out_dtype) -> ir.Function
  amx_workspace_words(M, N, K) -> int   i32 words (64-byte aligned) of `workspace`

op(B) is packed as for vdpbf16ps (gemm_bf16_pack.py: pair rows, 64-column panels) with the pair
rows padded to a multiple of 16, which is AMX's B-tile layout (one tile: 16 pair rows x 16
columns, a row stride of one panel). Each thread then takes whole 32-row blocks of C: it copies
their op(A) rows, zero-padded to 32 rows and to K a multiple of 32, after op(B) in the
workspace, and computes each 32 x 32 block of C (column strips outside, row blocks inside)
in four accumulator tiles (0-3) from two A tiles (4, 5) and two B tiles (6, 7), stores them to
the stack and runs the bfloat16 GEMM's epilogue. The zero padding keeps out NaN: nothing past
op(A) or op(B) is read into a tile.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles as tiles
from graphc.backends.llvm import vecmath
from graphc.backends.llvm.gemm_bf16_kernel import PANEL, V32, VI16, VL, emit_epilogue, splat
from graphc.backends.llvm.gemm_bf16_pack import PairPackedGemm, panel_words
from graphc.backends.llvm.gemm_variant import counted_loop, declare, round_up
from graphc.backends.llvm.irutil import F32, I16, I32, I64, PTR, c64, split_range

BLOCK = 32  # rows and columns of C per block: 2 x 2 accumulator tiles
TILE_PAIRS = 16  # pair rows (32 k) per A or B tile
OUT_DTYPES = ("float32", "bfloat16")
MASK16 = ir.VectorType(ir.IntType(1), VL)


def padded_pairs(K: int) -> int:
    return -(-((K + 1) // 2) // TILE_PAIRS) * TILE_PAIRS


def amx_workspace_words(M: int, N: int, K: int) -> int:
    """Packed op(B), then op(A)'s rows padded to 32-row blocks (each word two bfloat16)."""
    b_words = -(-panel_words(N, padded_pairs(K)) // 16) * 16
    return b_words + -(-M // BLOCK) * BLOCK * padded_pairs(K)


def amx_gemm_name(transpose_a, transpose_b, bias, activation, out_dtype) -> str:
    ops = ("t" if transpose_a else "n") + ("t" if transpose_b else "n")
    tail = ("_bias" if bias else "") + f"_{activation}"
    return f"graphc_gemm_amx_{'f32' if out_dtype == 'float32' else 'bf16'}_{ops}{tail}"


def define_amx_gemm(module: ir.Module, transpose_a: bool, transpose_b: bool, bias: bool,
                    activation: str, out_dtype: str) -> ir.Function:
    """Define the variant in `module` (or return it if already defined). See module doc."""
    if out_dtype not in OUT_DTYPES or activation not in vecmath.ACTIVATIONS:
        raise ValueError(f"define_amx_gemm: out_dtype must be one of {OUT_DTYPES} and "
                         f"activation one of {sorted(vecmath.ACTIVATIONS)}; received "
                         f"{out_dtype!r}, {activation!r}")
    name = amx_gemm_name(transpose_a, transpose_b, bias, activation, out_dtype)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return AmxGemm(module, name, transpose_a, transpose_b, bias, activation, out_dtype,
                   False).fn


class AmxGemm(PairPackedGemm):
    """The AMX variant: whole 32-row blocks of C per thread, 32 x 32 blocks in tiles."""

    def packed_pairs(self, b):
        return round_up(b, self.kp, TILE_PAIRS)

    def emit_compute(self, b):
        a, module = self.args, self.module
        b_words = round_up(b, b.mul(self.pairs, self.np), 16)
        self.a_packed = b.gep(a["workspace"], [b_words], source_etype=I32)
        self.a_stride = b.mul(self.pairs, c64(4))  # bytes per packed row of op(A)
        self.scratch = b.alloca(F32, size=c64(BLOCK * BLOCK))
        self.scratch.align = 64
        tiles.emit_request_permission(module, b)
        tiles.load_config(module, b)
        blocks = b.sdiv(b.add(a["M"], c64(BLOCK - 1)), c64(BLOCK))
        lo, hi = split_range(b, blocks, a["tid"], a["nthreads"])
        counted_loop(b, b.mul(lo, c64(BLOCK)), b.mul(hi, c64(BLOCK)), c64(1), self.pack_a_row,
                     "pa")
        # columns outside: one 32-column strip of packed B (K x 128 bytes) stays in L2 while
        # the thread's row blocks pass; rows outside streamed all of B once per row block
        counted_loop(b, c64(0), a["N"], c64(BLOCK), lambda b, j0: counted_loop(
            b, lo, hi, c64(1), lambda b, rb: self.emit_block(b, b.mul(rb, c64(BLOCK)), j0),
            "rb"), "cb")
        tiles.release(module, b)

    def a_row(self, b, i):
        """Packed op(A) row i (bfloat16 elements, pairs * 2 of them)."""
        return b.gep(self.a_packed, [b.mul(i, self.pairs)], source_etype=I32)

    def pack_a_row(self, b, i):
        """op(A)[i, :] into its packed row, zeros past K (and for rows past M)."""
        a = self.args
        row = self.a_row(b, i)
        in_m = b.icmp_signed("<", i, a["M"])
        lanes = ir.Constant(ir.VectorType(I64, VL), list(range(VL)))

        def chunk(b, k):
            ks = b.add(splat(b, k, I64), lanes)
            mask = b.and_(b.icmp_signed("<", ks, splat(b, a["K"], I64)),
                          splat(b, in_m, ir.IntType(1)))
            value = self.load_a(b, i, k, ks, mask)
            b.store(value, b.gep(row, [k], source_etype=I16), align=2)

        counted_loop(b, c64(0), b.mul(self.pairs, c64(2)), c64(VL), chunk, "ak")

    def load_a(self, b, i, k, ks, mask):
        """op(A)[i, k:k+16] as <16 x i16>, zeros where not `mask` (nothing else is read)."""
        a = self.args
        if not self.ta:  # contiguous in k: one masked load
            fn = declare(self.module, "llvm.masked.load.v16i16.p0",
                         ir.FunctionType(VI16, [PTR, I32, MASK16, VI16]))
            ptr = b.gep(a["A"], [b.add(b.mul(i, a["lda"]), k)], source_etype=I16)
            return b.call(fn, [ptr, ir.Constant(I32, 2), mask, ir.Constant(VI16, None)])
        fn = declare(self.module, "llvm.masked.gather.v16i16.v16p0",
                     ir.FunctionType(VI16, [ir.VectorType(PTR, VL), I32, MASK16, VI16]))
        index = b.add(b.mul(ks, splat(b, a["lda"], I64)), splat(b, i, I64))
        # llvmlite's gep has no vector of indices: the addresses as integers
        base = splat(b, b.ptrtoint(a["A"], I64), I64)
        addresses = b.add(base, b.shl(index, ir.Constant(index.type, [1] * VL)))
        ptrs = b.inttoptr(addresses, ir.VectorType(PTR, VL))
        return b.call(fn, [ptrs, ir.Constant(I32, 2), mask, ir.Constant(VI16, None)])

    def emit_block(self, b, i0, j0):
        """C[i0:i0+32, j0:j0+32]: tiles over all pair rows, then the epilogue per row."""
        module, a = self.module, self.args
        for acc in range(4):
            tiles.zero(module, b, acc)
        a_rows = [self.a_row(b, b.add(i0, c64(half * 16))) for half in (0, 1)]
        b_cols = [self.packed(b, c64(0), b.add(j0, c64(half * 16))) for half in (0, 1)]

        def k_step(b, q):
            pair = b.mul(q, c64(TILE_PAIRS))
            for t, row in zip((4, 5), a_rows):
                tiles.load(module, b, t, b.gep(row, [pair], source_etype=I32), self.a_stride)
            for t, col in zip((6, 7), b_cols):
                ptr = b.gep(col, [b.mul(pair, c64(PANEL))], source_etype=I32)
                tiles.load(module, b, t, ptr, c64(PANEL * 4))
            for acc, (at, bt) in enumerate(((4, 6), (4, 7), (5, 6), (5, 7))):
                tiles.dot_bf16(module, b, acc, at, bt)

        counted_loop(b, c64(0), b.sdiv(self.pairs, c64(TILE_PAIRS)), c64(1), k_step, "kq")
        for acc in range(4):
            offset = (acc // 2) * 16 * BLOCK + (acc % 2) * 16
            ptr = b.gep(self.scratch, [c64(offset)], source_etype=F32)
            tiles.store(module, b, acc, ptr, c64(BLOCK * 4))
        rows = b.select(b.icmp_signed("<", b.sub(a["M"], i0), c64(BLOCK)), b.sub(a["M"], i0),
                        c64(BLOCK))
        counted_loop(b, c64(0), rows, c64(1), lambda b, r: self.row_epilogue(b, i0, r, j0), "ep")

    def row_epilogue(self, b, i0, r, j0):
        base = b.mul(r, c64(BLOCK))
        accs = [b.load(b.gep(self.scratch, [b.add(base, c64(v * VL))], source_etype=F32),
                       typ=V32, align=64) for v in (0, 1)]
        emit_epilogue(self, b, b.add(i0, r), 1, j0, accs, nv=2)

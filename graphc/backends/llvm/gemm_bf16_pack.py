"""What every bfloat16 GEMM variant shares (gemm_bf16.py's vdpbf16ps tiles, gemm_amx.py's AMX
tiles): the entry function and op(B) packed in pairs of consecutive k.

A word (B[2p, j], B[2p+1, j]) per (pair row p, column j), zero past K and past N, panel-major in
64-column panels (each panel's pair rows contiguous), so a tile streams one panel. Each thread
packs a share of the pair rows (16 columns per vector when B is not transposed; one word at a
time from B^T, whose pairs are adjacent), then all meet at graphc_barrier and each thread runs
the variant's `emit_compute` on its share of C.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from graphc.backends.llvm.gemm_bf16_kernel import PANEL, V32, VI16, VI32, VL
from graphc.backends.llvm.gemm_variant import counted_loop, declare
from graphc.backends.llvm.irutil import I16, I32, I64, PTR, c64, split_range

ENTRY_ARGS = ["tid", "nthreads", "M", "N", "K", "A", "lda", "B", "ldb", "C", "ldc", "bias",
              "workspace"]
ENTRY_TYPES = [I32, I32, I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR, PTR]


def panel_words(N: int, pairs: int) -> int:
    """i32 words of op(B) packed with `pairs` pair rows (gemm_bf16_pack.py's layout)."""
    return max(1, pairs * (-(-N // PANEL) * PANEL))


@dataclass
class PairPackedGemm:
    """One variant, emitted on construction: pack op(B) in pairs, barrier, emit_compute."""

    module: ir.Module
    name: str
    ta: bool
    tb: bool
    bias: bool
    act: str
    out_dtype: str
    emulated: bool
    fn: ir.Function = field(init=False)

    def __post_init__(self):
        self.V = V32  # the accumulators' type (gemm_microkernel.k_loop reads it)
        self.fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), ENTRY_TYPES),
                              name=self.name)
        for arg, arg_name in zip(self.fn.args, ENTRY_ARGS, strict=True):
            arg.name = arg_name
        self.args = a = dict(zip(ENTRY_ARGS, self.fn.args, strict=True))
        b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        with b.if_then(b.or_(b.icmp_signed("<=", a["M"], c64(0)),
                             b.icmp_signed("<=", a["N"], c64(0)))):
            b.ret_void()
        self.np = b.mul(b.sdiv(b.add(a["N"], c64(PANEL - 1)), c64(PANEL)), c64(PANEL))
        self.kp = b.sdiv(b.add(a["K"], c64(1)), c64(2))
        self.pairs = self.packed_pairs(b)
        self.emit_pack(b)
        barrier = declare(self.module, "graphc_barrier",
                          ir.FunctionType(ir.VoidType(), [I32, I32]))
        b.call(barrier, [a["tid"], a["nthreads"]])
        self.emit_compute(b)
        b.ret_void()

    def packed_pairs(self, b):
        """Pair rows of each packed panel (rows past K's pairs are zeros)."""
        return self.kp

    def emit_compute(self, b):
        raise NotImplementedError(f"{type(self).__name__} defines no emit_compute")

    def packed(self, b, p, j):
        """Where word (p, j) goes in the workspace."""
        panel = b.mul(b.sdiv(j, c64(PANEL)), b.mul(self.pairs, c64(PANEL)))
        index = b.add(panel, b.add(b.mul(p, c64(PANEL)), b.srem(j, c64(PANEL))))
        return b.gep(self.args["workspace"], [index], source_etype=I32)

    def emit_pack(self, b):
        """This thread's share of the pair rows, zero-padded to whole panels."""
        a = self.args
        lo, hi = split_range(b, self.pairs, a["tid"], a["nthreads"])
        vector_end = c64(0) if self.tb else b.sub(a["N"], b.srem(a["N"], c64(VL)))

        def pair_row(b, p):
            has_even = b.icmp_signed("<", b.mul(p, c64(2)), a["K"])
            has_odd = b.icmp_signed("<", b.add(b.mul(p, c64(2)), c64(1)), a["K"])
            counted_loop(b, c64(0), vector_end, c64(VL),
                         lambda b, j: self.pack_vector(b, p, has_even, has_odd, j), "pv")
            counted_loop(b, vector_end, self.np, c64(1),
                         lambda b, j: b.store(self.word(b, p, has_even, has_odd, j),
                                              self.packed(b, p, j)),
                         "pj")

        counted_loop(b, lo, hi, c64(1), pair_row, "pk")

    def element(self, b, k, j, inside, ty=I16):
        """op(B)[k, j] (one i16, or 16 columns as <16 x i16>), 0 where not `inside`; the index
        is clamped to 0 there, so the load stays inside B."""
        a = self.args
        index = b.add(b.mul(j, a["ldb"]), k) if self.tb else b.add(b.mul(k, a["ldb"]), j)
        index = b.select(inside, index, c64(0))
        value = b.load(b.gep(a["B"], [index], source_etype=I16), typ=ty, align=2)
        return b.select(inside, value, ir.Constant(ty, None))

    def word(self, b, p, has_even, has_odd, j):
        inside = b.icmp_signed("<", j, self.args["N"])
        even = self.element(b, b.mul(p, c64(2)), j, b.and_(inside, has_even))
        odd = self.element(b, b.add(b.mul(p, c64(2)), c64(1)), j, b.and_(inside, has_odd))
        return b.or_(b.zext(even, I32), b.shl(b.zext(odd, I32), ir.Constant(I32, 16)))

    def pack_vector(self, b, p, has_even, has_odd, j):
        """16 columns of op(B) = B (not transposed) at once."""
        even = self.element(b, b.mul(p, c64(2)), j, has_even, VI16)
        odd = self.element(b, b.add(b.mul(p, c64(2)), c64(1)), j, has_odd, VI16)
        word = b.or_(b.zext(even, VI32), b.shl(b.zext(odd, VI32), ir.Constant(VI32, [16] * VL)))
        b.store(word, self.packed(b, p, j), align=64)

"""The bfloat16 GEMM: C[M,N] = act(op(A) @ op(B) + bias), A and B bfloat16, accumulated in
float32 by `vdpbf16ps` (AVX512-BF16) or by its exact emulation on other CPUs.

Public API:
  define_bf16_gemm(module, transpose_a, transpose_b, bias, activation, out_dtype, emulated)
      -> ir.Function with define_gemm's signature (gemm.py):
      void @name(i32 tid, i32 nthreads, i64 M, i64 N, i64 K, i16* A, i64 lda, i16* B, i64 ldb,
                 C* C, i64 ldc, C* bias, i32* workspace)
      C and bias are `out_dtype` ('float32' or 'bfloat16'; a bfloat16 C is rounded after the
      product, the bias add and the activation, as the interpreter's separate ops round).
  bf16_workspace_words(N, K) -> int   i32 words (64-byte aligned) of `workspace`
  hardware_dot_product() -> bool      this CPU runs vdpbf16ps (else the emulated path)
  describe_path() -> str              the line `graphc info` prints
  program_gemm(module, ...) -> ir.Function  the variant a compiled bfloat16 matmul calls

`vdpbf16ps` takes, per float32 lane, a PAIR of consecutive k: op(B) is packed into words
(B[2p, j], B[2p+1, j]) (the high half zero past an odd K), panel-major in 64-column panels
padded with zeros. Each thread packs a share of the pair rows (16 columns per vector when B is
not transposed; one word at a time from B^T, whose pairs are adjacent), all meet at
graphc_barrier, then each computes its share of C's rows in 6 x 64 tiles (gemm_bf16_kernel.py).
The emulated path computes what the instruction does, so both paths give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.gemm_bf16_kernel import MR, PANEL, V32, VI16, VI32, VL, emit_tile
from graphc.backends.llvm.gemm_variant import counted_loop, declare
from graphc.backends.llvm.irutil import I16, I32, I64, PTR, c64, split_range

ENTRY_ARGS = ["tid", "nthreads", "M", "N", "K", "A", "lda", "B", "ldb", "C", "ldc", "bias",
              "workspace"]
ENTRY_TYPES = [I32, I32, I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR, PTR]
OUT_DTYPES = ("float32", "bfloat16")


def hardware_dot_product() -> bool:
    return bool(llvm.get_host_cpu_features().get("avx512bf16"))


def describe_path() -> str:
    if hardware_dot_product():
        return "vdpbf16ps (AVX512-BF16): float32 accumulation in hardware"
    return ("emulated with float32 arithmetic (no AVX512-BF16): the same bits as vdpbf16ps, "
            "about 3x slower than the float32 GEMM")


def bf16_workspace_words(N: int, K: int) -> int:
    return max(1, (K + 1) // 2 * (-(-N // PANEL) * PANEL))


def bf16_gemm_name(transpose_a, transpose_b, bias, activation, out_dtype, emulated) -> str:
    ops = ("t" if transpose_a else "n") + ("t" if transpose_b else "n")
    tail = ("_bias" if bias else "") + f"_{activation}" + ("_emulated" if emulated else "")
    return f"graphc_gemm_bf16_{'f32' if out_dtype == 'float32' else 'bf16'}_{ops}{tail}"


def define_bf16_gemm(module: ir.Module, transpose_a: bool, transpose_b: bool, bias: bool,
                     activation: str, out_dtype: str, emulated: bool) -> ir.Function:
    """Define the variant in `module` (or return it if already defined). See module doc."""
    if out_dtype not in OUT_DTYPES or activation not in vecmath.ACTIVATIONS:
        raise ValueError(f"define_bf16_gemm: out_dtype must be one of {OUT_DTYPES} and "
                         f"activation one of {sorted(vecmath.ACTIVATIONS)}; received "
                         f"{out_dtype!r}, {activation!r}")
    name = bf16_gemm_name(transpose_a, transpose_b, bias, activation, out_dtype, emulated)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return Bf16Gemm(module, name, transpose_a, transpose_b, bias, activation, out_dtype,
                    emulated).fn


def program_gemm(module: ir.Module, transpose_a, transpose_b, bias, activation) -> ir.Function:
    """The variant a bfloat16 matmul kernel of a compiled function calls: bfloat16 C, this
    CPU's path; defined inside the function's module (internal: modules never share it)."""
    fn = define_bf16_gemm(module, transpose_a, transpose_b, bias, activation, "bfloat16",
                          not hardware_dot_product())
    fn.linkage = "internal"
    return fn


@dataclass
class Bf16Gemm:
    """One variant, emitted on construction: pack op(B) in pairs, barrier, row tiles."""

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
        self.emit_pack(b)
        barrier = declare(self.module, "graphc_barrier",
                          ir.FunctionType(ir.VoidType(), [I32, I32]))
        b.call(barrier, [a["tid"], a["nthreads"]])
        lo, hi = split_range(b, a["M"], a["tid"], a["nthreads"])
        counted_loop(b, c64(0), a["N"], c64(PANEL), lambda b, j0: self.emit_rows(b, lo, hi, j0),
                     "j")
        b.ret_void()

    def emit_rows(self, b, lo, hi, j0):
        """Rows lo..hi of the 64-column panel at j0: 6-row tiles, then single rows."""
        full = b.sub(hi, b.srem(b.sub(hi, lo), c64(MR)))
        counted_loop(b, lo, full, c64(MR), lambda b, i0: emit_tile(self, b, i0, MR, j0), "mi")
        counted_loop(b, full, hi, c64(1), lambda b, i0: emit_tile(self, b, i0, 1, j0), "m1")

    def packed(self, b, p, j):
        """Where word (p, j) goes: panel-major (each 64-column panel's pair rows contiguous),
        so a tile streams one panel instead of striding across all of N."""
        panel = b.mul(b.sdiv(j, c64(PANEL)), b.mul(self.kp, c64(PANEL)))
        index = b.add(panel, b.add(b.mul(p, c64(PANEL)), b.srem(j, c64(PANEL))))
        return b.gep(self.args["workspace"], [index], source_etype=I32)

    # ---- packing ------------------------------------------------------------------------------

    def emit_pack(self, b):
        """This thread's share of the pair rows, zero-padded to whole panels."""
        a = self.args
        lo, hi = split_range(b, self.kp, a["tid"], a["nthreads"])
        vector_end = c64(0) if self.tb else b.sub(a["N"], b.srem(a["N"], c64(VL)))

        def pair_row(b, p):
            has_odd = b.icmp_signed("<", b.add(b.mul(p, c64(2)), c64(1)), a["K"])
            counted_loop(b, c64(0), vector_end, c64(VL),
                         lambda b, j: self.pack_vector(b, p, has_odd, j), "pv")
            counted_loop(b, vector_end, self.np, c64(1),
                         lambda b, j: b.store(self.word(b, p, has_odd, j), self.packed(b, p, j)),
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

    def word(self, b, p, has_odd, j):
        inside = b.icmp_signed("<", j, self.args["N"])
        even = self.element(b, b.mul(p, c64(2)), j, inside)
        odd = self.element(b, b.add(b.mul(p, c64(2)), c64(1)), j, b.and_(inside, has_odd))
        return b.or_(b.zext(even, I32), b.shl(b.zext(odd, I32), ir.Constant(I32, 16)))

    def pack_vector(self, b, p, has_odd, j):
        """16 columns of op(B) = B (not transposed) at once."""
        true = ir.Constant(ir.IntType(1), 1)
        even = self.element(b, b.mul(p, c64(2)), j, true, VI16)
        odd = self.element(b, b.add(b.mul(p, c64(2)), c64(1)), j, has_odd, VI16)
        word = b.or_(b.zext(even, VI32), b.shl(b.zext(odd, VI32), ir.Constant(VI32, [16] * VL)))
        b.store(word, self.packed(b, p, j), align=64)

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
  program_gemm(module, ..., out_dtype="bfloat16") -> ir.Function  the variant a compiled
      bfloat16 matmul or convolution calls:
      AMX (gemm_amx.py) where the CPU has amx-bf16 and Linux grants tile data, else
      vdpbf16ps, else its emulation
  program_workspace_words(M, N, K) -> int  `workspace` words of program_gemm's variant

`vdpbf16ps` takes, per float32 lane, a PAIR of consecutive k: op(B) is packed into words
(B[2p, j], B[2p+1, j]) (gemm_bf16_pack.py), then each thread computes its share of C's rows in
6 x 64 tiles (gemm_bf16_kernel.py).
The emulated path computes what the instruction does, so both paths give the same bits.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles, vecmath
from graphc.backends.llvm.gemm_amx import amx_workspace_words, define_amx_gemm
from graphc.backends.llvm.gemm_bf16_kernel import MR, PANEL, emit_tile
from graphc.backends.llvm.gemm_bf16_pack import PairPackedGemm, panel_words
from graphc.backends.llvm.gemm_variant import counted_loop
from graphc.backends.llvm.irutil import c64, split_range

OUT_DTYPES = ("float32", "bfloat16")


def hardware_dot_product() -> bool:
    return bool(llvm.get_host_cpu_features().get("avx512bf16"))


def describe_path() -> str:
    if gemm_amx_tiles.permission_granted():
        return "AMX tdpbf16ps (amx-bf16): float32 accumulation in tiles, 32 x 32 blocks"
    if hardware_dot_product():
        return "vdpbf16ps (AVX512-BF16): float32 accumulation in hardware"
    return ("emulated with float32 arithmetic (no AVX512-BF16): the same bits as vdpbf16ps, "
            "about 3x slower than the float32 GEMM")


def bf16_workspace_words(N: int, K: int) -> int:
    return panel_words(N, (K + 1) // 2)


def program_workspace_words(M: int, N: int, K: int) -> int:
    if gemm_amx_tiles.permission_granted():
        return amx_workspace_words(M, N, K)
    return bf16_workspace_words(N, K)


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


def program_gemm(module: ir.Module, transpose_a, transpose_b, bias, activation,
                 out_dtype: str = "bfloat16") -> ir.Function:
    """The variant a bfloat16 matmul or convolution kernel of a compiled function calls
    (`out_dtype` C and bias), this CPU's path; defined inside the function's module (internal:
    modules never share it)."""
    if gemm_amx_tiles.permission_granted():
        fn = define_amx_gemm(module, transpose_a, transpose_b, bias, activation, out_dtype)
    else:
        fn = define_bf16_gemm(module, transpose_a, transpose_b, bias, activation, out_dtype,
                              not hardware_dot_product())
    fn.linkage = "internal"
    return fn


class Bf16Gemm(PairPackedGemm):
    """The vdpbf16ps variant: each thread's share of C's rows in 6 x 64 register tiles."""

    def emit_compute(self, b):
        a = self.args
        lo, hi = split_range(b, a["M"], a["tid"], a["nthreads"])
        counted_loop(b, c64(0), a["N"], c64(PANEL), lambda b, j0: self.emit_rows(b, lo, hi, j0),
                     "j")

    def emit_rows(self, b, lo, hi, j0):
        """Rows lo..hi of the 64-column panel at j0: 6-row tiles, then single rows."""
        full = b.sub(hi, b.srem(b.sub(hi, lo), c64(MR)))
        counted_loop(b, lo, full, c64(MR), lambda b, i0: emit_tile(self, b, i0, MR, j0), "mi")
        counted_loop(b, full, hi, c64(1), lambda b, i0: emit_tile(self, b, i0, 1, j0), "m1")

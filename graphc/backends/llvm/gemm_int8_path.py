"""Which int8 GEMM this machine runs: AMX `tdpbusd` where the CPU has amx-int8 and Linux grants
tile data, else AVX512-VNNI `vpdpbusd`, else the portable exact path (gemm_int8.py's plain
vector IR). All three give the same int32 sums, so the same results.

Public API:
  int8_path() -> 'amx' | 'vnni' | 'portable'
  describe_path() -> str                            (for `graphc info`)
  define_host_gemm_int8(module, epilogue, activation='linear', bias=False,
                        a_padded=False, own_comp=False, min_rows=MIN_ROWS) -> ir.Function
      a_padded: A's buffer holds gemm_amx_int8.a_rows_bytes(M, lda) bytes (the AMX path then
      reads its tiles from A without a copy; the other paths need no more than M rows)
      own_comp: gemm_int8's variant that sums comp itself (for a few rows: never AMX)
      min_rows: the AMX path's calls below it go to vpdpbusd (1: always tiles)
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles
from graphc.backends.llvm.gemm_amx_int8 import MIN_ROWS, define_gemm_int8_amx
from graphc.backends.llvm.gemm_int8 import define_gemm_int8, host_has_vnni

DESCRIPTIONS = {
    "amx": "AMX tdpbusd (amx-int8): int32 accumulation in tiles, 32 x 32 blocks "
           "(vpdpbusd below 16 rows)",
    "vnni": "vpdpbusd (AVX512-VNNI): int32 accumulation in vector registers",
    "portable": "portable vector IR (no AVX512-VNNI): the same exact int32 sums, several times "
                "slower",
}


def int8_path() -> str:
    if gemm_amx_tiles.int8_granted():
        return "amx"
    return "vnni" if host_has_vnni() else "portable"


def describe_path() -> str:
    return DESCRIPTIONS[int8_path()]


def define_host_gemm_int8(module: ir.Module, epilogue: str, activation: str = "linear",
                          bias: bool = False, a_padded: bool = False,
                          own_comp: bool = False, min_rows: int = MIN_ROWS) -> ir.Function:
    """The variant this CPU runs best (same signature and results on every path)."""
    if own_comp:
        return define_gemm_int8(module, epilogue, activation, bias, own_comp=True)
    if int8_path() == "amx":
        return define_gemm_int8_amx(module, epilogue, activation, bias, min_rows, a_padded)
    return define_gemm_int8(module, epilogue, activation, bias)

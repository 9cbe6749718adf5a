"""Intel AMX from llvmlite: the process's permission to use tile data, the tile configuration
and the tile instructions (LLVM's intrinsics with immediate tile numbers, target features
+amx-tile and +amx-bf16 or +amx-int8).

Linux grants tile data per process, on request (arch_prctl ARCH_REQ_XCOMP_PERM): without it the
first tile instruction kills the process with SIGILL. `permission_granted()` (bf16) and
`int8_granted()` ask once from Python (they decide the paths); the compiled GEMM asks again
on its first call, so the code also runs in a process that never imported graphc (an
exported library).
"""

from __future__ import annotations

import ctypes
import functools

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm.gemm_variant import declare
from graphc.backends.llvm.irutil import I64, PTR

SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 158, 0x1023, 18
TILES, ROWS, COLSB = 8, 16, 64  # every tile used: 16 rows of 64 bytes (the largest)
I8 = ir.IntType(8)


def cpu_has_amx_bf16() -> bool:
    features = llvm.get_host_cpu_features()
    return bool(features.get("amx-tile") and features.get("amx-bf16"))


def cpu_has_amx_int8() -> bool:
    features = llvm.get_host_cpu_features()
    return bool(features.get("amx-tile") and features.get("amx-int8"))


@functools.cache
def tile_data_granted() -> bool:
    """Linux lets this process use tile data (asked for once; False without amx-tile)."""
    if not llvm.get_host_cpu_features().get("amx-tile"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0


def permission_granted() -> bool:
    """This process may run AMX bf16 tiles (False on other CPUs and kernels)."""
    return cpu_has_amx_bf16() and tile_data_granted()


def int8_granted() -> bool:
    """This process may run AMX int8 tiles (tdpbusd)."""
    return cpu_has_amx_int8() and tile_data_granted()


def config_bytes() -> bytes:
    """ldtilecfg's 64 bytes: palette 1, then colsb (u16) and rows (u8) of each tile."""
    config = bytearray(64)
    config[0] = 1
    for tile in range(TILES):
        config[16 + 2 * tile:18 + 2 * tile] = COLSB.to_bytes(2, "little")
        config[48 + tile] = ROWS
    return bytes(config)


def module_global(module, name, ty, initializer):
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    var = ir.GlobalVariable(module, ty, name=name)
    var.linkage, var.initializer, var.align = "internal", initializer, 64
    return var


def emit_request_permission(module, b):
    """Ask the kernel for tile data on this module's first call (a repeat request is harmless,
    so threads racing here need no lock)."""
    asked = module_global(module, "graphc_amx_asked", I8, ir.Constant(I8, 0))
    with b.if_then(b.icmp_unsigned("==", b.load(asked), ir.Constant(I8, 0))):
        syscall = declare(module, "syscall", ir.FunctionType(I64, [I64], var_arg=True))
        b.call(syscall, [ir.Constant(I64, v) for v in
                         (SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)])
        b.store(ir.Constant(I8, 1), asked)


def load_config(module, b):
    ty = ir.ArrayType(I8, 64)
    config = module_global(module, "graphc_amx_config", ty,
                           ir.Constant(ty, bytearray(config_bytes())))
    config.global_constant = True
    b.call(intrinsic(module, "ldtilecfg", [PTR]), [config])


def intrinsic(module, name, args):
    return declare(module, f"llvm.x86.{name}", ir.FunctionType(ir.VoidType(), args))


def tile(n):
    return ir.Constant(I8, n)


def release(module, b):
    b.call(intrinsic(module, "tilerelease", []), [])


def zero(module, b, t):
    b.call(intrinsic(module, "tilezero", [I8]), [tile(t)])


def load(module, b, t, ptr, stride_bytes):
    b.call(intrinsic(module, "tileloadd64", [I8, PTR, I64]), [tile(t), ptr, stride_bytes])


def store(module, b, t, ptr, stride_bytes):
    b.call(intrinsic(module, "tilestored64", [I8, PTR, I64]), [tile(t), ptr, stride_bytes])


def dot_u8s8(module, b, acc, a, bt):
    """tile acc (16 x 16 int32) += tile a (16 x 64 unsigned bytes) @ tile bt (16 rows of 4 k
    x 16 columns, signed bytes): exact, wrapping int32 sums."""
    b.call(intrinsic(module, "tdpbusd", [I8, I8, I8]), [tile(acc), tile(a), tile(bt)])


def dot_bf16(module, b, acc, a, bt):
    """tile acc += tile a (16 x 32 bfloat16) @ tile bt (16 pair rows x 16 columns)."""
    b.call(intrinsic(module, "tdpbf16ps", [I8, I8, I8]), [tile(acc), tile(a), tile(bt)])


"""The int8 multiply-add peak of one core, measured: loops of independent `vpdpbusd`
(AVX512-VNNI) and, where granted, AMX `tdpbusd`, with no memory traffic in the loop.

Public API:
  measure_int8_peaks() -> {'vnni': MAC/s, 'amx': MAC/s}   (one thread; a path this CPU
                                                          lacks is left out)
Each is the best of RUNS timed runs (for the benchmarks' "% of int8 peak"; not cached).
"""

from __future__ import annotations

import ctypes
import functools
import time

import numpy as np
from llvmlite import ir

from graphc.backends.llvm import gemm_amx_tiles as tiles
from graphc.backends.llvm import jit
from graphc.backends.llvm.gemm_int8 import VI32, VPDPBUSD, host_has_vnni
from graphc.backends.llvm.gemm_microkernel import k_loop
from graphc.backends.llvm.gemm_variant import counted_loop, declare
from graphc.backends.llvm.irutil import I32, I64, PTR, VOID, c64

VNNI_CHAINS = 16  # independent accumulators: vpdpbusd's latency (~5) x throughput (2 a cycle)
AMX_CHAINS = 6  # tiles 0-5 accumulate from tiles 6 and 7
MACS = {"vnni": 16 * 4, "amx": 16 * 16 * 64}  # multiply-adds per instruction
RUNS = 40  # of ~1 ms each
LOOP = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)


class Vectors:
    V = VI32  # k_loop's accumulator type


def define_vnni_loop(module):
    """void vnni_loop(i64 n, i32* out): n x VNNI_CHAINS vpdpbusd, the sums stored to out."""
    fn = ir.Function(module, ir.FunctionType(VOID, [I64, PTR]), name="vnni_loop")
    n, out = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    dot = declare(module, VPDPBUSD, ir.FunctionType(VI32, [VI32, VI32, VI32]))
    a = b.load(out, typ=VI32, align=1)  # operands from memory: nothing folds away
    w = b.load(b.gep(out, [c64(16)], source_etype=I32), typ=VI32, align=1)
    chains = k_loop(Vectors, b, n, [a] * VNNI_CHAINS,
                    lambda b, _, accs: [b.call(dot, [acc, a, w]) for acc in accs])
    total = chains[0]
    for acc in chains[1:]:
        total = b.add(total, acc)
    b.store(total, out, align=1)
    b.ret_void()


def define_amx_loop(module):
    """void amx_loop(i64 n, i8* buf): n x AMX_CHAINS tdpbusd on tiles, tile 0 stored to buf."""
    fn = ir.Function(module, ir.FunctionType(VOID, [I64, PTR]), name="amx_loop")
    n, buf = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    tiles.emit_request_permission(module, b)
    tiles.load_config(module, b)
    for t in range(AMX_CHAINS):
        tiles.zero(module, b, t)
    for t in (6, 7):
        tiles.load(module, b, t, buf, c64(64))
    counted_loop(b, c64(0), n, c64(1), lambda b, _: [
        tiles.dot_u8s8(module, b, t, 6, 7) for t in range(AMX_CHAINS)], "i")
    tiles.store(module, b, 0, buf, c64(64))
    tiles.release(module, b)
    b.ret_void()


@functools.cache
def compiled_loops(paths: tuple):
    module = ir.Module(name="graphc_int8_peak")
    for path in paths:
        (define_amx_loop if path == "amx" else define_vnni_loop)(module)
    # no IR pipeline: the loops are written as they should run
    return jit.compile_ir(str(module), "graphc_int8_peak", speed_level=0)


def best_rate(loop, macs_per_iteration: int, iterations: int) -> float:
    buf = np.ones(1024, np.uint8)
    loop(1000, buf.ctypes.data)  # warm up (and AMX's permission request)
    best = float("inf")
    for _ in range(RUNS):  # this thread's CPU time: a shared machine's preemptions do not count
        t0 = time.thread_time()
        loop(iterations, buf.ctypes.data)
        best = min(best, time.thread_time() - t0)
    return macs_per_iteration * iterations / best


def measure_int8_peaks() -> dict:
    paths = (("vnni",) if host_has_vnni() else ()) + (("amx",) if tiles.int8_granted() else ())
    module = compiled_loops(paths)
    chains = {"vnni": VNNI_CHAINS, "amx": AMX_CHAINS}
    iterations = {"vnni": 200_000, "amx": 30_000}
    return {path: best_rate(LOOP(module.address(f"{path}_loop")), MACS[path] * chains[path],
                            iterations[path]) for path in paths}

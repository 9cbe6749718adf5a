"""int8 (u8 x s8 -> i32 on AVX512-VNNI) against float32, measured in the same run.

    python bench/bench_int8.py gemm    [--seconds 2]   the GEMMs alone: GOP/s, int8 / fp32
    python bench/bench_int8.py predict [--seconds 2]   model.predict, fp32 vs int8 vs peers

`gemm`: graphc's int8 GEMM (gemm_int8.py, weights packed once) and its fp32 GEMM (gemm.py) on the
same shapes, alternating short rounds, best round of each, on 1 thread and on the whole pool.
One multiply-add counts as 2 operations for both; "% fp32 peak" is against graphc.machine_peak
(the fp32 FMA peak: int8's ceiling is ~4x it).
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time

import numpy as np
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_int8, jit, peak, threads

GEMM_SHAPES = [(1024, 784, 500), (1024, 512, 512), (256, 2048, 2048), (1, 784, 500)]
STEP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)


def best_of_rounds(calls: dict, seconds: float, rounds: int = 20) -> dict:
    """Best single-call time of each contender over interleaved short rounds."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            deadline = time.perf_counter() + seconds / rounds / len(calls)
            while True:
                t0 = time.perf_counter()
                call()
                best[name] = min(best[name], time.perf_counter() - t0)
                if time.perf_counter() > deadline:
                    break
    return best


def compile_step(define, name):
    module = ir.Module(name=name)
    fn = define(module)
    (gemm_int8.define_gemm_int8_step if "u8" in fn.name else gemm.define_gemm_step)(
        module, fn, "step")
    return jit.compile_ir(str(module), name)


def gemm_calls(M, K, N, rng):
    """Two thread-count variants of the int8 and fp32 GEMM calls on prepared operands."""
    i8 = compile_step(lambda m: gemm_int8.define_gemm_int8(m, "int32"), "bench_gemm_int8")
    f32 = compile_step(lambda m: gemm.define_gemm(m, "float32", False, False, False, "linear",
                                                  False), "bench_gemm_f32")
    A = rng.integers(0, 256, (M, gemm_int8.padded_k(K)), dtype=np.uint8)
    B = gemm_int8.pack_weights(rng.integers(-128, 128, (K, N), dtype=np.int8))
    C = np.zeros((M, N), np.int32)
    Af, Bf = rng.standard_normal((M, K), np.float32), rng.standard_normal((K, N), np.float32)
    Cf = np.zeros((M, N), np.float32)
    ws = np.zeros(gemm.gemm_workspace_elems(M, N, K, threads.num_threads()) + 16, np.float32)
    ws = ws[(-ws.ctypes.data % 64) // 4:]
    keep = (A, B, C, Af, Bf, Cf, ws)
    i8_args = (ctypes.c_int64 * 12)(M, N, K, A.ctypes.data, A.shape[1], B.ctypes.data, 0, 0, 0,
                                    0, C.ctypes.data, N)
    f32_args = (ctypes.c_int64 * 11)(M, N, K, Af.ctypes.data, K, Bf.ctypes.data, N,
                                     Cf.ctypes.data, N, 0, ws.ctypes.data)
    calls = {}
    for label, mod, args in (("int8", i8, i8_args), ("fp32", f32, f32_args)):
        address, argp = mod.address("step"), ctypes.addressof(args)
        one = STEP(address)
        calls[f"{label} 1T"] = lambda one=one, argp=argp: one(argp, 0, 1)
        calls[f"{label} pool"] = lambda a=address, p=argp: threads.parallel_run(a, p)
    return calls, (keep, i8_args, f32_args, i8, f32)


def bench_gemm(seconds):
    rng = np.random.default_rng(0)
    peak_1t = peak.machine_peak() / threads.num_threads()
    print(f"int8 vs fp32 GEMM, CPU {jit.host_cpu()[0]}, VNNI: {gemm_int8.host_has_vnni()}, "
          f"pool threads {threads.num_threads()}, fp32 peak/thread {peak_1t / 1e9:.0f} GFLOP/s")
    print(f"{'M x K x N':18s} {'threads':>7s} {'int8 GOP/s':>11s} {'fp32 GFLOP/s':>13s} "
          f"{'ratio':>6s} {'int8 % fp32 peak':>17s}")
    for M, K, N in GEMM_SHAPES:
        calls, keep = gemm_calls(M, K, N, rng)
        best = best_of_rounds(calls, seconds)
        ops = 2.0 * M * K * N
        for label, nt in (("1T", 1), ("pool", threads.num_threads())):
            i8, f32 = ops / best[f"int8 {label}"] / 1e9, ops / best[f"fp32 {label}"] / 1e9
            print(f"{f'{M}x{K}x{N}':18s} {nt:7d} {i8:11.1f} {f32:13.1f} {i8 / f32:6.2f} "
                  f"{100 * i8 * 1e9 / (peak_1t * nt):16.0f}%", flush=True)
        del keep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["gemm", "predict"])
    parser.add_argument("--seconds", type=float, default=2.0, help="per case, all contenders")
    opts = parser.parse_args(argv)
    threads.ensure_runtime()
    if opts.what == "gemm":
        bench_gemm(opts.seconds)


if __name__ == "__main__":
    main(sys.argv[1:])

"""bfloat16 against float32 on this machine, contenders interleaved in one run (best round kept).

    python bench/bench_bf16.py [--rounds 30] [--skip-gemm] [--skip-training]

GEMM: graphc's bf16 GEMM (vdpbf16ps, and its emulation) against its float32 GEMM, GFLOP/s and
% of the float32 peak (graphc.machine_peak), on 1 thread and on the pool.
"""

from __future__ import annotations

import argparse
import ctypes
import time

import ml_dtypes
import numpy as np
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_bf16, jit, peak, threads

GEMM_SHAPES = [(100, 784, 500), (256, 2048, 2048), (512, 512, 512)]  # M, K, N


def aligned(elems, dtype):
    raw = np.empty(elems * np.dtype(dtype).itemsize + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + elems * np.dtype(dtype).itemsize].view(dtype)


def compiled_step(define):
    module = ir.Module(name="bench_bf16")
    fn = define(module)
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


def gemm_call(module, A, B, C, ws, nthreads):
    """A zero-argument callable running C = A @ B once on `nthreads` (1 or the pool)."""
    (M, K), N = A.shape, B.shape[1]
    args = (ctypes.c_int64 * 11)(M, N, K, A.ctypes.data, K, B.ctypes.data, N, C.ctypes.data, N,
                                 0, ws.ctypes.data)
    address, slots = module.address("step"), ctypes.addressof(args)
    keep = (module, A, B, C, ws, args)  # the callable owns what the raw pointers point into
    if nthreads == 1:
        step = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)(address)
        return lambda: (step(slots, 0, 1), keep)
    return lambda: (threads.parallel_run(address, slots), keep)


def gemm_contenders(M, K, N, nthreads):
    rng = np.random.default_rng(0)
    A32, B32 = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(
        np.float32)
    A16, B16 = A32.astype(ml_dtypes.bfloat16), B32.astype(ml_dtypes.bfloat16)
    C = np.empty((M, N), np.float32)
    ws32 = aligned(gemm.gemm_workspace_elems(M, N, K, 2), np.float32)
    ws16 = aligned(gemm_bf16.bf16_workspace_words(N, K), np.int32)
    f32 = compiled_step(lambda m: gemm.define_gemm(m, "float32", False, False, False, "linear",
                                                   False))
    out = {"fp32 GEMM": gemm_call(f32, A32, B32, C, ws32, nthreads)}
    paths = [("bf16 vdpbf16ps", False)] if gemm_bf16.hardware_dot_product() else []
    for label, emulated in paths + [("bf16 emulated", True)]:
        module = compiled_step(lambda m, e=emulated: gemm_bf16.define_bf16_gemm(
            m, False, False, False, "linear", "float32", e))
        out[label] = gemm_call(module, A16, B16, C, ws16, nthreads)
    return out


def interleaved_best(contenders: dict, rounds: int) -> dict:
    """Best time of each contender over `rounds` rounds, each round running all of them."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for label, call in contenders.items():
            t0 = time.perf_counter()
            call()
            best[label] = min(best[label], time.perf_counter() - t0)
    return best


def bench_gemms(rounds: int) -> None:
    peak_one = peak.machine_peak() / threads.num_threads() / 1e9  # GFLOP/s of one thread
    print("GEMM (C float32 = A @ B): GFLOP/s, % of the float32 peak, speed-up over fp32")
    for M, K, N in GEMM_SHAPES:
        for nthreads in (1, threads.num_threads()):
            contenders = gemm_contenders(M, K, N, nthreads)
            for call in contenders.values():
                call()  # warm up: first-touch of buffers, thread start
            best = interleaved_best(contenders, rounds)
            base = best["fp32 GEMM"]
            for label, seconds in best.items():
                gflops = 2 * M * N * K / seconds / 1e9
                print(f"  {M}x{K}x{N} {nthreads}T {label:15s} {gflops:7.1f} GFLOP/s "
                      f"{100 * gflops / (peak_one * nthreads):5.0f}% "
                      f"{base / seconds:5.2f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--skip-gemm", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    print(f"bf16 GEMM path: {gemm_bf16.describe_path()}")
    if not args.skip_gemm:
        bench_gemms(args.rounds)


if __name__ == "__main__":
    main()

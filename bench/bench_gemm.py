"""GFLOP/s of graphc's JIT GEMM against NumPy's `@` (OpenBLAS), measured in the same run.

    python bench/bench_gemm.py [--seconds-per-case 2] [--dtype float32] [--only 512x]

Each case alternates rounds of ours and numpy's and keeps the best time of each (the machine may
be shared and noisy). "ours" runs on the whole graphc thread pool (GRAPHC_NUM_THREADS, default
all CPUs); "ours 1T" is the same code called with nthreads=1 on this thread, timed by this
thread's CPU clock (time.thread_time: on a busy machine the time it is descheduled does not
count, caches shared with other processes still do). NumPy uses OpenBLAS's own threads.
Shapes are written M x K x N: op(A) is M x K, op(B) is K x N.
"""

from __future__ import annotations

import argparse
import ctypes
import time

import numpy as np
from llvmlite import ir

from graphc.backends.llvm import gemm, jit, threads
from graphc.backends.llvm.peak import machine_peak

# (label, M, K, N, transpose_a, transpose_b, bias+relu epilogue)
CASES = [
    ("A@B    100x784x500 (dense forward)", 100, 784, 500, False, False, False),
    ("A^T@B  784x100x500 (weight gradient)", 784, 100, 500, True, False, False),
    ("A@B^T  100x500x784 (input gradient)", 100, 500, 784, False, True, False),
    ("A@B    512x512x512", 512, 512, 512, False, False, False),
    ("relu(A@B+b) 100x784x500 (fused epilogue)", 100, 784, 500, False, False, True),
    ("relu(A@B+b) 100x500x500 (tutorial layer 2)", 100, 500, 500, False, False, True),
    ("A^T@B  500x100x500 (layer 2 weight grad)", 500, 100, 500, True, False, False),
    ("A@B^T  100x500x500 (layer 2 input grad)", 100, 500, 500, False, True, False),
    ("relu(A@B+b) 256x2048x2048 (wide MLP)", 256, 2048, 2048, False, False, True),
    ("A^T@B  2048x256x2048 (wide weight grad)", 2048, 256, 2048, True, False, False),
    ("A@B^T  256x2048x2048 (wide input grad)", 256, 2048, 2048, False, True, False),
]


def aligned(shape, dtype):
    n, itemsize = int(np.prod(shape)), np.dtype(dtype).itemsize
    raw = np.empty(n * itemsize + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + n * itemsize].view(dtype).reshape(shape)


def compile_case(dtype, ta, tb, fused):
    module = ir.Module(name="bench_gemm")
    fn = gemm.define_gemm(module, dtype, ta, tb, fused, "relu" if fused else "linear", False)
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


def best_time(call, budget, clock=time.perf_counter):
    """Best single-call time (by `clock`) over repeated calls for about `budget` seconds."""
    best, deadline = float("inf"), time.perf_counter() + budget
    while time.perf_counter() < deadline:
        t0 = clock()
        call()
        best = min(best, clock() - t0)
    return best


def run_case(case, dtype, seconds, rng):
    label, M, K, N, ta, tb, fused = case
    module = compile_case(dtype, ta, tb, fused)
    A = aligned((K, M) if ta else (M, K), dtype)
    B = aligned((N, K) if tb else (K, N), dtype)
    A[:], B[:] = rng.standard_normal(A.shape), rng.standard_normal(B.shape)
    bias = rng.standard_normal(N).astype(dtype)
    C = aligned((M, N), dtype)
    ws = aligned(gemm.gemm_workspace_elems(M, N, K, threads.num_threads(), dtype), dtype)
    args = (ctypes.c_int64 * 11)(M, N, K, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1],
                                 C.ctypes.data, N, bias.ctypes.data, ws.ctypes.data)
    step, argp = module.address("step"), ctypes.addressof(args)
    step_1t = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)(step)
    a_op, b_op = (A.T if ta else A), (B.T if tb else B)

    def ours():
        threads.parallel_run(step, argp)

    def numpy_call():
        if fused:
            np.maximum(a_op @ b_op + bias, 0)
        else:
            a_op @ b_op

    ours()
    expected = np.maximum(a_op @ b_op + bias, 0) if fused else a_op @ b_op
    if not np.allclose(C, expected, rtol=1e-4, atol=1e-3 * np.sqrt(K)):
        raise AssertionError(f"{label}: the JIT GEMM disagrees with numpy")
    t_ours = t_numpy = t_one = float("inf")
    for _ in range(4):  # alternate so both see the same machine load
        t_ours = min(t_ours, best_time(ours, seconds / 10))
        t_numpy = min(t_numpy, best_time(numpy_call, seconds / 10))
    t_one = best_time(lambda: step_1t(argp, 0, 1), seconds / 5, time.thread_time)
    flops = 2.0 * M * N * K
    return label, flops / t_ours / 1e9, flops / t_numpy / 1e9, flops / t_one / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-case", type=float, default=3.0)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--only", default="", help="run the cases whose label contains this")
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    threads.ensure_runtime()
    print(f"graphc GEMM vs numpy @, {opts.dtype}, graphc threads: {threads.num_threads()}, "
          f"CPU: {jit.host_cpu()[0]}")
    peak = machine_peak() / 1e9
    header = (f"{'case':44s} {'ours GF/s':>10s} {'% peak':>7s} {'numpy GF/s':>11s} {'ratio':>6s} "
              f"{'ours 1T':>8s} {'% 1T peak':>9s}")
    print(header)
    print("-" * len(header))
    for case in [c for c in CASES if opts.only in c[0]]:
        label, ours, numpy_rate, one = run_case(case, opts.dtype, opts.seconds_per_case, rng)
        one_peak = peak / threads.num_threads()
        print(f"{label:44s} {ours:10.1f} {100 * ours / peak:6.1f}% {numpy_rate:11.1f} "
              f"{ours / numpy_rate:6.2f} {one:8.1f} {100 * one / one_peak:8.1f}%", flush=True)


if __name__ == "__main__":
    main()

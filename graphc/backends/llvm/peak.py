"""The machine's measured float32 peak and a cycle-counter reader, in one small JIT module.

Peak: a loop of independent vector FMAs (as many accumulators as hide the FMA latency, as
wide as the host's widest float vector) timed on one thread, best of a few runs, times the
pool's thread count. Measured once per CPU and kept in $GRAPHC_HOME/machine_peak.json.
"""

from __future__ import annotations

import ctypes
import functools
import json
import time

from graphc.backends.llvm import jit, threads
from graphc.files import atomic_write, graphc_home

ACCUMULATORS = 12  # enough independent chains to cover FMA latency x throughput (4-5 x 2)
ITERATIONS = 1_000_000
RUNS = 5
PEAK_FILE = "machine_peak.json"


def vector_lanes(features: str) -> int:
    flags = features.split(",")
    return 16 if "+avx512f" in flags else 8 if "+avx" in flags else 4


def tools_ir(lanes: int) -> str:
    """graphc_cycles() -> i64 and graphc_fma_loop(i64 n) -> float."""
    vec = f"<{lanes} x float>"
    splat = lambda v: "<" + ", ".join([f"float {v}"] * lanes) + ">"  # noqa: E731
    phis = [f"  %a{j} = phi {vec} [ {splat('1.0')}, %entry ], [ %n{j}, %loop ]"
            for j in range(ACCUMULATORS)]
    fmas = [f"  %n{j} = call {vec} @llvm.fma.v{lanes}f32({vec} %a{j}, {vec} {splat('0.5')}, "
            f"{vec} {splat('0.25')})" for j in range(ACCUMULATORS)]
    sums = [f"  %s{j} = fadd {vec} %s{j - 1}, %n{j}" for j in range(1, ACCUMULATORS)]
    return "\n".join([
        "declare i64 @llvm.readcyclecounter()",
        f"declare {vec} @llvm.fma.v{lanes}f32({vec}, {vec}, {vec})",
        "define i64 @graphc_cycles() {\n  %c = call i64 @llvm.readcyclecounter()\n  ret i64 %c\n}",
        "define float @graphc_fma_loop(i64 %count) {\nentry:\n  br label %loop\nloop:",
        "  %i = phi i64 [ 0, %entry ], [ %next, %loop ]", *phis, *fmas,
        "  %next = add i64 %i, 1", "  %more = icmp ult i64 %next, %count",
        "  br i1 %more, label %loop, label %done\ndone:",
        f"  %s0 = fadd {vec} %n0, {splat('0.0')}", *sums,
        f"  %r = extractelement {vec} %s{ACCUMULATORS - 1}, i32 0", "  ret float %r\n}\n"])


@functools.cache
def tools():
    """(cycles(), fma_loop(n), lanes) compiled for this host."""
    lanes = vector_lanes(jit.host_cpu()[1])
    module = jit.compile_ir(tools_ir(lanes), "graphc_profile_tools")
    cycles = ctypes.CFUNCTYPE(ctypes.c_int64)(module.address("graphc_cycles"))
    loop = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64)(module.address("graphc_fma_loop"))
    return cycles, loop, lanes, module


def cycle_counter() -> int:
    """The cycle counter the profiling build reads (rdtsc on x86)."""
    return tools()[0]()


def measure_thread_peak() -> float:
    """FLOP/s of one thread running the FMA loop (best of RUNS)."""
    _, loop, lanes, _ = tools()
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        loop(ITERATIONS)
        best = min(best, time.perf_counter() - start)
    return 2.0 * lanes * ACCUMULATORS * ITERATIONS / best


def cpu_key() -> str:
    """The key of this CPU's measurements in the cache files (peak, bandwidth)."""
    cpu, features = jit.host_cpu()
    return f"{cpu} {vector_lanes(features)} lanes"


def machine_peak(remeasure: bool = False) -> float:
    """Peak float32 FLOP/s of the machine for graphc's thread pool (one thread's measured FMA
    rate times the pool's threads), measured once per CPU and cached in GRAPHC_HOME."""
    key = cpu_key()
    path = graphc_home() / PEAK_FILE
    known = read_json(path)
    if remeasure or key not in known:
        known[key] = measure_thread_peak()
        write_json(path, known)
    return known[key] * threads.num_threads()


def describe_peak(remeasure: bool = False) -> str:
    """One line for `graphc info` (remeasure: time the FMA loop again and update the cache)."""
    total = machine_peak(remeasure)
    lanes = vector_lanes(jit.host_cpu()[1])
    return (f"{total / 1e9:.1f} GFLOP/s float32 ({total / threads.num_threads() / 1e9:.1f} per "
            f"thread x {threads.num_threads()} threads; {lanes}-lane FMA loop, "
            f"{'measured again' if remeasure else 'measured once'}, "
            f"kept in {graphc_home() / PEAK_FILE})")


def percent_of_peak(flops_per_second: float) -> float:
    """flops_per_second as a percentage of the machine's float32 peak (for benchmarks)."""
    return 100.0 * flops_per_second / machine_peak()


def read_json(path) -> dict:
    """The cached peaks, or {} when the file is missing or damaged (it is measured again)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path, data: dict) -> None:
    """The cache file `path` holding `data`, written atomically (a crash leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()))

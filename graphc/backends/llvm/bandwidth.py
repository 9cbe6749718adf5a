"""The machine's measured memory bandwidth per cache level, the other half of a roofline.

Like the FLOP peak (peak.py): emitted loops (bandwidth_ir.py: read, write and triad
a = b + s * c) JIT-compiled for the host's widest vectors, timed best of a few runs, on one
thread and on the whole pool (every thread streaming its own slice at once, as kernels do).
Working sets per thread: half the L1d, half the L2, 8 x the L2 (in the shared L3, far from
its end on a big-L3 part) and twice the L3 (DRAM). Levels are measured when first asked for
and kept, per CPU, in $GRAPHC_HOME/machine_bandwidth.json: a profile asks only for the levels
its kernels' working sets fit in, `graphc info --peak` for all of them.
"""

from __future__ import annotations

import ctypes
import functools
import time

import numpy as np

from graphc.backends.llvm import gemm_plan, jit, threads
from graphc.backends.llvm.bandwidth_ir import ARRAYS, KINDS, UNROLL, bandwidth_ir
from graphc.backends.llvm.peak import cpu_key, read_json, vector_lanes, write_json
from graphc.files import graphc_home

BANDWIDTH_FILE = "machine_bandwidth.json"
LEVELS = ("L1", "L2", "L3", "DRAM")
RUNS = 5
DRAM_RUNS = 2  # a pass over twice the L3 takes ~0.1-0.5 s: fewer runs
BYTES_PER_RUN = 64 << 20  # per thread: long enough that the pool's fork/join is noise
ASSUMED_CACHES = {"L1": 32 << 10, "L2": 1 << 20, "L3": 32 << 20}  # without /sys (not Linux)
ALIGN = 64
# rates count bytes as STREAM does (triad: 3 per element); the memory system moves 4, as the
# stored line is read first (write-allocate), and profiles count traffic that way
TRIAD_TRAFFIC = 4 / 3


def cache_sizes() -> dict:
    """gemm_plan.cache_sizes, or ASSUMED_CACHES where /sys does not say (not Linux)."""
    return gemm_plan.cache_sizes() or dict(ASSUMED_CACHES)


def working_set(level: str, nthreads: int) -> int:
    """Bytes one thread streams over to measure `level`."""
    caches = cache_sizes()
    l2 = caches.get("L2", ASSUMED_CACHES["L2"])
    l3 = caches.get("L3", 8 * l2)
    per_level = {"L1": caches.get("L1", ASSUMED_CACHES["L1"]) // 2, "L2": l2 // 2,
                 "L3": min(8 * l2, l3 // (2 * nthreads)), "DRAM": 2 * l3 // nthreads}
    return per_level[level]


def capacities(nthreads: int) -> dict:
    """{level: bytes of data that fit in it across nthreads cores} (private levels add up)."""
    caches = cache_sizes()
    fits = {"L1": nthreads * caches.get("L1", 0), "L2": nthreads * caches.get("L2", 0),
            "L3": caches.get("L3", 0), "DRAM": float("inf")}
    return {level: size for level, size in fits.items() if size}


@functools.cache
def loops():
    """({kind: step function address}, lanes, module) for this host."""
    lanes = vector_lanes(jit.host_cpu()[1])
    module = jit.compile_ir(bandwidth_ir(lanes), "graphc_bandwidth")
    return {kind: module.address(f"graphc_bw_{kind}") for kind in KINDS}, lanes, module


def aligned_floats(count: int) -> np.ndarray:
    raw = np.zeros(count + ALIGN // 4, np.float32)
    skip = (-raw.ctypes.data % ALIGN) // 4
    return raw[skip:skip + count]


def measure(kind: str, bytes_per_thread: int, nthreads: int) -> float:
    """Bytes/s of `kind` over a working set of bytes_per_thread on each of nthreads threads
    (1: the calling thread alone; else the pool, which must have that many threads)."""
    addresses, lanes, _ = loops()
    vector_bytes = 4 * lanes
    per_array = max(UNROLL, bytes_per_thread // (ARRAYS[kind] * vector_bytes) // UNROLL * UNROLL)
    passes = max(1, BYTES_PER_RUN // (per_array * vector_bytes * ARRAYS[kind]))
    arrays = [aligned_floats(nthreads * per_array * lanes) for _ in range(ARRAYS[kind])]
    arrays += arrays[:1] * (3 - len(arrays))  # slots a kind does not touch
    sizes, sink = np.array([per_array, passes], np.int64), np.zeros(nthreads, np.float32)
    args = (ctypes.c_void_p * 5)(sizes.ctypes.data, *(a.ctypes.data for a in arrays),
                                 sink.ctypes.data)
    address = ctypes.addressof(args)
    run = (functools.partial(threads.parallel_run, addresses[kind], address) if nthreads > 1 else
           functools.partial(STEP(addresses[kind]), address, 0, 1))
    run()  # first touch of the pages, caches warm
    best = min(timed(run) for _ in range(RUNS if passes > 1 else DRAM_RUNS))
    return nthreads * passes * per_array * vector_bytes * ARRAYS[kind] / best


STEP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def thread_counts() -> list:
    """1 and the pool's size: the rates a profile of either build can be held against."""
    return sorted({1, threads.num_threads()})


def machine_bandwidth(levels=LEVELS, remeasure: bool = False) -> dict:
    """{str(threads): {level: {kind: bytes/s}}} for the levels asked for, measured when missing
    (or again with remeasure) and cached per CPU in GRAPHC_HOME."""
    path = graphc_home() / BANDWIDTH_FILE
    known = read_json(path)
    table = known.setdefault(cpu_key(), {})
    changed = False
    for nthreads in thread_counts():
        rates = table.setdefault(str(nthreads), {})
        for level in levels:
            if remeasure or level not in rates:
                size = working_set(level, nthreads)
                rates[level] = {kind: measure(kind, size, nthreads) for kind in KINDS}
                changed = True
    if changed:
        write_json(path, known)
    return {n: {level: table[n][level] for level in levels} for n in map(str, thread_counts())}


def roofline_levels(nthreads: int, largest_bytes: float) -> list:
    """[(level, capacity bytes, triad traffic bytes/s)] for nthreads threads, from L1 up to
    the first level that holds largest_bytes (the biggest kernel working set of a profile);
    the rate is the best measured with at most nthreads threads, so bounds stay lower bounds."""
    capacity = capacities(nthreads)
    needed = []
    for level in capacity:
        needed.append(level)
        if largest_bytes <= capacity[level]:
            break
    table = machine_bandwidth(needed)
    # nthreads threads can do what fewer did: on a busy machine the pool's own rate is the lower
    usable = [table[str(n)] for n in thread_counts() if n <= nthreads]
    return [(level, capacity[level],
             TRIAD_TRAFFIC * max(rates[level]["triad"] for rates in usable)) for level in needed]


def describe_bandwidth(remeasure: bool = False) -> list:
    """Lines for `graphc info --peak`: GB/s read / write / triad per level and thread count."""
    table = machine_bandwidth(remeasure=remeasure)
    lines = []
    for nthreads, levels in table.items():
        for level, rates in levels.items():
            size = working_set(level, int(nthreads))
            rate_text = " / ".join(f"{rates[kind] / 1e9:.1f}" for kind in KINDS)
            lines.append(f"{level:<4} {nthreads} thread(s), {size >> 10} KB each: "
                         f"{rate_text} GB/s read / write / triad")
    return lines + [f"(kept in {graphc_home() / BANDWIDTH_FILE})"]

"""The GEMM's blocking per machine (gemm.py): the register tile (MR rows x NV vectors), how many
k rows of a B panel one pass keeps in cache (K-blocking), how far ahead A is prefetched and how
many k steps one trip of the k loop runs.

AMD Zen (LLVM cpu name `znver*`) keeps the plan it was tuned with (6 x 4, one pass: 85-90% of
peak there). Elsewhere (this Intel AVX-512 core: 2 FMA ports, 4-cycle latency, 48 KiB L1,
2 MiB L2), measured one thread at a time with the kernel looping natively: the 6 x 4 tile beat
8 x 3, 12 x 2 and 14 x 2 (up to 10 points: their A rows are more broadcast streams); a k loop
unrolled x4 beat x2 and x1 (~5 points: loop control takes FMA ports); a panel of B read from L2
(96x784x64: 92% of peak) did as well as one cut into L1-sized blocks, so K is cut only where
a panel would outgrow a quarter of L2; prefetching A's rows ahead cost 3-10 points.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from graphc.backends.llvm import jit

VECTOR_BYTES = 64
L2_FALLBACK = 1024 * 1024  # when sysfs does not say (containers)
L2_SHARE = 4  # a B panel's block takes 1/L2_SHARE of L2: A's rows and C's tiles need the rest
MIN_K_BLOCK = 64  # below this the C tile's reloads between blocks start to cost


@dataclass(frozen=True)
class TilePlan:
    """mr rows x nv vectors of accumulators; k_block: k rows of B per pass (None: all of K);
    prefetch: elements of A ahead of the k loop that each row prefetches (0: none)."""

    mr: int = 6
    nv: int = 4
    k_block: int | None = None
    prefetch: int = 0
    unroll: int = 1

    def tag(self) -> str:
        """A short name for symbols and cache keys."""
        return f"{self.mr}x{self.nv}k{self.k_block or 0}p{self.prefetch}u{self.unroll}"


ZEN = TilePlan(6, 4, None, 0)


@functools.cache
def host_plan() -> TilePlan:
    """The plan for this machine's CPU (jit.host_cpu) and L2 cache."""
    cpu = jit.host_cpu()[0]
    if cpu.startswith("znver"):
        return ZEN
    return blocked_plan(l2_bytes())


def blocked_plan(cache_bytes: int, mr: int = 6, nv: int = 4, prefetch: int = 0,
                 unroll: int = 4, share: int = L2_SHARE) -> TilePlan:
    """A plan whose B blocks fill 1/share of a cache of `cache_bytes`."""
    row_bytes = nv * VECTOR_BYTES
    k_block = max(MIN_K_BLOCK, cache_bytes // share // row_bytes)
    return TilePlan(mr, nv, k_block, prefetch, unroll)


def l2_bytes() -> int:
    """CPU 0's L2 cache in bytes, from sysfs (L2_FALLBACK when it is not there)."""
    return cache_sizes().get("L2", L2_FALLBACK)


@functools.cache
def cache_sizes() -> dict:
    """{'L1': data cache bytes, 'L2': ..., 'L3': ...} of CPU 0 from sysfs (a level's size for
    one core, or for all of them when shared); {} where sysfs does not say (containers)."""
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind in ("Data", "Unified"):
            sizes[f"L{level}"] = parse_size(size)
    return sizes


def parse_size(text: str) -> int:
    """sysfs cache sizes: '48K', '2048K', '1M', '1G'."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)

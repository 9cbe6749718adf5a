"""The GEMM's blocking per machine (gemm.py): the register tile (MR rows x NV vectors), how many
k rows of a B panel one pass keeps in L1 (K-blocking), and how far ahead A is prefetched.

AMD Zen (LLVM cpu name `znver*`) keeps the tile it was tuned with (6 x 4, no K-blocking: its
32-48 KiB L1 and large L2 bandwidth were measured at 85-90% of peak without). Elsewhere (Intel
AVX-512 cores: Golden Cove / Sapphire Rapids with 2 FMA ports, 4-cycle latency) a panel of
K x NV vectors read from L2 for every MR-row tile held 512^3 at ~65% of peak: the panel is cut
into blocks that fill half of L1, so every tile after the first reads it from L1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from graphc.backends.llvm import jit

VECTOR_BYTES = 64
L1_FALLBACK = 32 * 1024  # when sysfs does not say (containers): the smallest L1 of x86-64 cores
L1_SHARE = 2  # a B block takes 1/L1_SHARE of L1: A's rows and C's tile need the rest
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
    """The plan for this machine's CPU (jit.host_cpu) and L1 data cache."""
    cpu = jit.host_cpu()[0]
    if cpu.startswith("znver"):
        return ZEN
    return blocked_plan(l1_data_bytes())


def blocked_plan(l1_bytes: int, mr: int = 6, nv: int = 4, prefetch: int = 0,
                 unroll: int = 2) -> TilePlan:
    """A plan whose B blocks fill 1/L1_SHARE of an L1 of `l1_bytes`."""
    row_bytes = nv * VECTOR_BYTES
    k_block = max(MIN_K_BLOCK, l1_bytes // L1_SHARE // row_bytes)
    return TilePlan(mr, nv, k_block, prefetch, unroll)


def l1_data_bytes() -> int:
    """The L1 data cache of CPU 0 in bytes, from sysfs (L1_FALLBACK when it is not there)."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Data" and level == "1":
            return parse_size(size)
    return L1_FALLBACK


def parse_size(text: str) -> int:
    """sysfs cache sizes: '48K', '2048K', '1M'."""
    units = {"K": 1024, "M": 1024 * 1024}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)

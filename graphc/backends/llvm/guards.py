"""GRAPHC_CHECK_BOUNDS=1: a test mode that proves the compiled code stays inside its buffers.

Every buffer a call touches except shared variables and constants (the inputs, the outputs
and each buffer of the arena) gets GUARD bytes of a canary pattern on both sides, and
arena buffers stop sharing bytes. After each call every canary is compared; a changed one
raises, naming the buffer and the node that owns it. It catches writes outside a buffer
(reads leave no trace); run the llvm tests with it set to check a change to the lowering.
"""

from __future__ import annotations

import os

import numpy as np

from graphc.ops.leaves import aligned_copy

GUARD = 64  # canary bytes on each side of a buffer (a multiple of 64 keeps buffers aligned)
CANARY = 0xA5


def enabled() -> bool:
    return os.environ.get("GRAPHC_CHECK_BOUNDS", "").strip() not in ("", "0")


class Guarded:
    """An array placed between two canary regions; `inner` is what the compiled code sees."""

    def __init__(self, array: np.ndarray, label: str):
        self.label, nbytes = label, array.nbytes
        self.raw = aligned_copy(np.full(nbytes + 2 * GUARD, CANARY, np.uint8))
        self.inner = self.raw[GUARD:GUARD + nbytes].view(array.dtype).reshape(array.shape)
        self.inner[...] = array

    def check(self) -> None:
        check_canaries(self.raw, [(0, GUARD), (len(self.raw) - GUARD, len(self.raw))],
                       self.label)


def check_canaries(raw: np.ndarray, regions, label: str) -> None:
    for start, end in regions:
        if np.any(raw[start:end] != CANARY):
            raise MemoryError(f"llvm backend: compiled code wrote outside {label} (bytes "
                              f"{start}..{end} of its guarded block changed)")


def arena_sizes(sizes) -> list:
    """Arena byte sizes with room for a canary region on each side."""
    return [size + 2 * GUARD for size in sizes]


def label_of(buf) -> str:
    node = buf.node
    where = f" ({node.op}, node built at {node.site})" if node is not None else ""
    return f"the {buf.kind} buffer {buf.slot}{where}"

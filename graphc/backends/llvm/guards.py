"""GRAPHC_CHECK_BOUNDS=1: a test mode that proves the compiled code stays inside its buffers.

Every buffer a call touches (inputs, outputs, shared variables, constants and each buffer of
the arena, which then stop sharing bytes) gets its own mapping: a canary region before it,
and right after it (past at most the padding that keeps it aligned, and, for the buffers a
kernel writes, a canary region) a page that may not be read or written. A read or write
past the end of a buffer stops the process with a segfault at once (Python's faulthandler
shows the call); after each call every canary is compared, and a changed one raises
MemoryError naming the buffer and the node that owns it. Run the llvm tests with it set to
check a change to the lowering.
"""

from __future__ import annotations

import ctypes
import mmap
import os

import numpy as np

GUARD = 64  # canary bytes on each side of a buffer (a multiple of 64 keeps buffers aligned)
CANARY = 0xA5
PAGE = mmap.PAGESIZE
PROT_NONE = 0
_LIBC = ctypes.CDLL(None, use_errno=True)


def enabled() -> bool:
    return os.environ.get("GRAPHC_CHECK_BOUNDS", "").strip() not in ("", "0")


class Guarded:
    """`nbytes` bytes between a canary region and a page that faults when touched; `inner` is
    what the compiled code sees. `align` is the start's alignment; `slack` canary bytes after
    the end catch writes that a fault would hide from the MemoryError of `check`."""

    def __init__(self, nbytes: int, label: str, align: int = 64, slack: int = GUARD):
        self.label = label
        body = -(-nbytes // align) * align + slack  # bytes from the start to the page
        usable = -(-(GUARD + body) // PAGE) * PAGE
        self.map = mmap.mmap(-1, usable + PAGE)
        self.raw = np.frombuffer(self.map, np.uint8, count=usable)
        page = self.raw.ctypes.data + usable
        if _LIBC.mprotect(ctypes.c_void_p(page), ctypes.c_size_t(PAGE), PROT_NONE) != 0:
            raise OSError(ctypes.get_errno(), "mprotect of a guard page failed")
        self.start, self.end = usable - body, usable - body + nbytes
        self.raw[:] = CANARY

    def view(self, dtype, shape) -> np.ndarray:
        return self.raw[self.start:self.end].view(dtype).reshape(shape)

    @property
    def address(self) -> int:
        return self.raw.ctypes.data + self.start

    def check(self) -> None:
        check_canaries(self.raw, [(0, self.start), (self.end, len(self.raw))], self.label)


def holding(array: np.ndarray, label: str, read_only: bool = False) -> Guarded:
    """A Guarded block holding a copy of `array`. A read-only one (an input) ends right at its
    guard page: NumPy does not align inputs, so the kernels need only the item's alignment."""
    if read_only:
        block = Guarded(array.nbytes, label, align=array.dtype.itemsize, slack=0)
    else:
        block = Guarded(array.nbytes, label)
    block.view(array.dtype, array.shape)[...] = array
    return block


def check_canaries(raw: np.ndarray, regions, label: str) -> None:
    for start, end in regions:
        if np.any(raw[start:end] != CANARY):
            raise MemoryError(f"llvm backend: compiled code wrote outside {label} (bytes "
                              f"{start}..{end} of its guarded block changed)")


def label_of(buf) -> str:
    node = buf.node
    where = f" ({node.op}, node built at {node.site})" if node is not None else ""
    return f"the {buf.kind} buffer {buf.slot}{where}"

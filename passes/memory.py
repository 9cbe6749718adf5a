"""Memory planning: place intermediate buffers in one arena so that buffers whose lifetimes
overlap never share bytes, and buffers whose lifetimes do not may (liveness-based reuse).

Lifetimes are closed intervals [first, last] of kernel positions in the schedule: a buffer is
written by kernel `first` and last read by kernel `last`. Placement is greedy, largest buffer
first, each at the lowest aligned offset that does not overlap a placed buffer it is live with
(the classic offset-assignment heuristic of TFLite's and XLA's arena planners).
"""

from __future__ import annotations


def align_up(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def plan_offsets(sizes, intervals, alignment: int = 64):
    """(offsets, arena bytes) for buffers of `sizes` bytes live over `intervals`."""
    order = sorted(range(len(sizes)), key=lambda k: (-sizes[k], intervals[k][0]))
    placed: list = []  # (offset, end, first, last)
    offsets = [0] * len(sizes)
    for k in order:
        first, last = intervals[k]
        size = align_up(max(sizes[k], 1), alignment)
        clashes = sorted((o, e) for o, e, f, end in placed if f <= last and first <= end)
        offset = 0
        for o, e in clashes:
            if offset + size <= o:
                break
            offset = max(offset, align_up(e, alignment))
        offsets[k] = offset
        placed.append((offset, offset + size, first, last))
    total = max((e for _, e, _, _ in placed), default=0)
    return offsets, total


def peak_live_bytes(sizes, intervals) -> int:
    """The most bytes live at once: a lower bound on any arena (for reports and tests)."""
    points = {p for first, last in intervals for p in (first, last)}
    return max((sum(s for s, (f, e) in zip(sizes, intervals) if f <= p <= e) for p in points),
               default=0)

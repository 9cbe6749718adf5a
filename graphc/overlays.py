"""Overlays: {kernel name: number} dicts a diagram or viewer colours kernels by.

    gc.profile(f, *args).overlay()      share of the step per kernel (profile_report.py)
    compare_overlay(gc.compare(f, ...))  largest relative error per kernel, worst first
"""

from __future__ import annotations

import math

from graphc.ir import user_site


def compare_overlay(report) -> dict:
    """{kernel name: max_rel} of a graphc.compare report, worst kernel first (NaN and
    inf errors are the worst)."""
    rows = getattr(report, "kernels", None)
    if rows is None:
        raise TypeError(f"compare_overlay: expected a graphc.compare report, got "
                        f"{type(report).__name__} (at {user_site()})")

    def badness(row):
        return math.inf if not math.isfinite(row.max_rel) else row.max_rel

    return {row.name: row.max_rel for row in sorted(rows, key=badness, reverse=True)}

"""Overlays in diagrams and the viewer: each kernel (or interpreter op) coloured by its share
of the step (a gc.profile report) or by its error (a gc.compare report).

An overlay is {key: {'key', 'name', 'colour', 'label', 'details', 'value'}}: key a fused kernel's
name (llvm) or the node gc.profile timed as an interpreter op (numpy: its node's name, else
'op@id'); 'name' the kernel's or op's name in the profile's table; 'label' the line a
diagram adds under the kernel's name; 'details' the rows the viewer's details panel shows;
'value' what orders the page's table (worst first).
"""

from __future__ import annotations

from graphc.ir import Node, user_site
from graphc.profile import node_label as profiled_name
from graphc.profile_report import Profile
from graphc.viz import kernels

# a kernel's share of the step -> colour, hottest first (the legend lists them)
SHARE_COLOURS = (
    (0.25, "#dc2626", "25% of the step or more"),
    (0.10, "#ea580c", "10-25%"),
    (0.03, "#d97706", "3-10%"),
    (0.0, "#2563eb", "under 3%"),
)
ERROR_LEGEND = (
    ("#16a34a", "max relative error <= 1e-5"),
    ("#d97706", "<= 1e-3"),
    ("#dc2626", "> 1e-3, NaN, or elements beyond tolerance"),
)


def share_colour(share: float) -> str:
    return next(colour for floor, colour, _ in SHARE_COLOURS if share >= floor)


def legend(kind: str) -> tuple:
    """((colour, meaning), ...) for an overlay of `kind` ('profile' or 'compare')."""
    if kind == "profile":
        return tuple((colour, text) for _, colour, text in SHARE_COLOURS)
    return ERROR_LEGEND


def profile_row_key(row) -> str:
    """A kernel's name, or for an interpreter op (one node) the name of its node."""
    return row.nodes[0] if row.kind == "op" and row.nodes else row.name


def from_profile(report: Profile) -> dict:
    stats = {}
    for row in report.kernels:
        share = report.share(row)
        key = profile_row_key(row)
        stats[key] = {
            "key": key,
            "name": row.name,
            "colour": share_colour(share),
            "label": f"{100 * share:.1f}% of step, {row.mean_seconds * 1e6:.1f} us",
            "value": share,
            "details": {
                "profiled": row.name,
                "share of step": f"{100 * share:.1f}%",
                "time per call (us)": round(row.mean_seconds * 1e6, 2),
                "GFLOP/s": round(row.gflops, 3),
                "MFLOP per call": round(row.flops / 1e6, 4),
                "KB moved per call": round(row.bytes / 1024, 2),
            },
        }
    return stats


def from_compare(report) -> dict:
    stats = kernels.stats_from_report(report)
    for name, entry in stats.items():
        entry["key"] = entry["name"] = name
        error = entry["error"]
        entry["value"] = float("inf") if entry["mismatches"] else error  # beyond tolerance: worst
        entry["details"] = {"max relative error": f"{error:.3e}" if error is not None else "n/a",
                            "elements beyond tolerance": entry["mismatches"]}
        if entry.get("seconds") is not None:
            entry["details"]["time (ms)"] = round(entry["seconds"] * 1e3, 4)
    return stats


def overlay_of(profile=None, compare=None) -> tuple[str | None, dict]:
    """(kind, stats) of the one report given: 'profile', 'compare', or (None, {})."""
    if profile is not None and compare is not None:
        raise ValueError(f"pass profile= or compare=, not both: a diagram colours kernels by "
                         f"one of them (at {user_site()})")
    if profile is not None:
        if not isinstance(profile, Profile):
            raise TypeError(f"profile must be a gc.profile report; got "
                            f"{type(profile).__name__} (at {user_site()})")
        return "profile", from_profile(profile)
    if compare is not None:
        return "compare", from_compare(compare)
    return None, {}


def stats_of(node: Node, stats: dict) -> dict | None:
    """The overlay entry of a drawn node: its kernel's, or its own as an interpreter op."""
    if not stats:
        return None
    if node.op == "kernel":
        return stats.get(node.attr("body").name)
    return stats.get(profiled_name(node))


def ranked(stats: dict) -> list:
    """[(key, entry)], the worst (largest share or error) first."""
    def badness(item):
        value = item[1]["value"]
        return float("inf") if value is None or value != value else value

    return sorted(stats.items(), key=badness, reverse=True)

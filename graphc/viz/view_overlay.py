"""The viewer's overlay: the details rows each coloured node gets, and the page's legend and
table of kernels, worst first (stats from graphc/viz/overlay.py)."""

from __future__ import annotations

import html

from graphc.viz.kernels import inner_ops
from graphc.viz.overlay import legend, ranked, stats_of

TABLE_ROWS = 25  # the page lists this many kernels, worst first; the rest are counted
TITLES = {"profile": "profile: share of the step", "compare": "compare: error per kernel"}


def annotate(writer, table: dict, stats: dict) -> None:
    """Add the overlay's rows to the details of every drawn node it covers (a kernel's inner
    ops get their kernel's)."""
    for node in writer.drawing.graph.nodes():
        entry = stats_of(node, stats)
        for covered in (node, *inner_ops(node)):
            dot_id = writer.ids.get(id(covered))
            if entry and dot_id in table:
                table[dot_id].update(entry["details"])


def legend_html(kind: str) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{colour}"></span>{html.escape(text)}</li>'
        for colour, text in legend(kind)
    )
    return f'<ul class="legend">{items}</ul>'


def table_html(stats: dict) -> str:
    rows = ranked(stats)
    cells = []
    for _, entry in rows[:TABLE_ROWS]:
        swatch = f'<span class="swatch" style="background:{entry["colour"]}"></span>'
        cells.append(f"<tr><td>{swatch}{html.escape(entry['name'])}</td>"
                     f"<td>{html.escape(entry['label'])}</td></tr>")
    more = len(rows) - TABLE_ROWS
    tail = f'<p class="more">and {more} more</p>' if more > 0 else ""
    head = "<tr><th>kernel or op</th><th></th></tr>"
    return f'<table class="ranking">{head}{"".join(cells)}</table>{tail}'


def overlay_section(kind: str | None, stats: dict) -> str:
    """The page's overlay box (legend and worst-first table), or "" without an overlay."""
    if kind is None:
        return ""
    return (f'<details id="overlay" open><summary>{html.escape(TITLES[kind])}</summary>'
            f"{legend_html(kind)}{table_html(stats)}</details>")

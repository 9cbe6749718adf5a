"""The viewer's overlay: the details rows each coloured node gets, and the page's legend and
table of kernels, worst first (stats from graphc/viz/overlay.py)."""

from __future__ import annotations

import html

from graphc.viz.kernels import inner_ops
from graphc.viz.overlay import legend, ranked, stats_of

TABLE_ROWS = 25  # the page lists this many kernels, worst first; the rest are counted
TITLES = {"profile": "profile: share of the step", "compare": "compare: error per kernel"}


def annotate(writer, table: dict, stats: dict) -> dict:
    """Add the overlay's rows to the details of every drawn node it covers (a kernel's inner
    ops get their kernel's); returns {overlay key: DOT ids of its nodes}."""
    drawn: dict = {}
    for node in writer.drawing.graph.nodes():
        entry = stats_of(node, stats)
        for covered in (node, *inner_ops(node)):
            dot_id = writer.ids.get(id(covered))
            if entry and dot_id in table:
                table[dot_id].update(entry["details"])
                drawn.setdefault(entry["key"], []).append(dot_id)
    return drawn


def where_drawn(stages: list) -> tuple[str, dict]:
    """(stage, {overlay key: DOT ids}) a table row shows when clicked: the fused stage with
    kernels as clusters if drawn, else the last stage that drew overlay nodes."""
    drawn = [s for s in stages if s.overlay_ids]
    chosen = next((s for s in drawn if s.name == "fused"), drawn[-1] if drawn else None)
    return (chosen.name, chosen.overlay_ids) if chosen else ("", {})


def legend_html(kind: str) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{colour}"></span>{html.escape(text)}</li>'
        for colour, text in legend(kind)
    )
    return f'<ul class="legend">{items}</ul>'


def table_html(stats: dict, stage: str, drawn: dict) -> str:
    """The kernels worst first; clicking a drawn one's row shows its nodes in `stage`."""
    rows = ranked(stats)
    cells = []
    for key, entry in rows[:TABLE_ROWS]:
        swatch = f'<span class="swatch" style="background:{entry["colour"]}"></span>'
        link = (f' data-stage="{html.escape(stage)}" data-ids="{" ".join(drawn[key])}"'
                if key in drawn else "")
        cells.append(f"<tr{link}><td>{swatch}{html.escape(entry['name'])}</td>"
                     f"<td>{html.escape(entry['label'])}</td></tr>")
    more = len(rows) - TABLE_ROWS
    tail = f'<p class="more">and {more} more</p>' if more > 0 else ""
    head = "<tr><th>kernel or op</th><th></th></tr>"
    return f'<table class="ranking">{head}{"".join(cells)}</table>{tail}'


def overlay_section(kind: str | None, stats: dict, stages: list) -> str:
    """The page's overlay box (legend and worst-first table), or "" without an overlay."""
    if kind is None:
        return ""
    table = table_html(stats, *where_drawn(stages))
    return (f'<details id="overlay" open><summary>{html.escape(TITLES[kind])}</summary>'
            f"{legend_html(kind)}{table}</details>")

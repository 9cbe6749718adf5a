"""`gc.view`: one self-contained HTML page to explore a Function, Graph or model.

Each pipeline stage (raw, grad, optimized, expanded, fused) is laid out here by graphviz's
`dot` as SVG and inlined: the stages before fusion are cut from one layout of their union,
so a node keeps its place when the stage changes (graphc/viz/view_layout.py), the fused
stage and its kernels-as-boxes twin are laid out on their own, alongside. A small inline
script (graphc/viz/view_assets.py) adds pan/zoom, search, a stage selector and a details
panel. No file is fetched when the page opens: no CDN, no fonts, no scripts from elsewhere.
graphviz lays the graph out because it is already graphc's diagram engine, so the page and
`to_dot` draw the same picture.

Besides the pipeline's stages, the page has the fused stage again with each kernel as one
box, and a model's layer view whose layers link to the ops that read their weights. Each
node of a stage says whether that stage's pass made it (a checkbox outlines those). A stage
with more than `max_nodes` drawn nodes is drawn with each fused kernel as one box, and one
still too big is left out with a note saying how to draw it.
"""

from __future__ import annotations

import html
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from graphc.files import atomic_write
from graphc.ir import Graph, Node
from graphc.viz import view_details
from graphc.viz.graph import READABLE_ABOVE, Writer, drawn_size, resolve
from graphc.viz.layers import layers_digraph
from graphc.viz.overlay import overlay_of
from graphc.viz.render import DiagramError, dot_program, run_dot
from graphc.viz.view_assembly import module_code
from graphc.viz.view_assets import SCRIPT, STYLE
from graphc.viz.view_collapse import COLLAPSE_SCRIPT
from graphc.viz.view_dashboard import dashboard_html
from graphc.viz.view_layout import shared_layout
from graphc.viz.view_overlay import annotate, overlay_section
from graphc.viz.view_scopes import changes, every_node, mark_drawn, scopes_of

BOXES = " (kernels as boxes)"  # the fused stage again, each kernel collapsed to one box
MAX_NODES = 2500  # above this a stage takes dot many seconds and the page gets sluggish


@dataclass
class Stage:
    """One selectable view in the page: its SVG (or a note why not) and its nodes' details."""

    name: str
    title: str
    svg: str = ""
    note: str = ""
    nodes: dict = field(default_factory=dict)
    dot_seconds: float = 0.0
    overlay_ids: dict = field(default_factory=dict)  # {overlay key: DOT ids of its nodes}
    scopes: dict = field(default_factory=dict)  # {layer or kernel: DOT ids}, collapsible


def prefixed(svg: str, prefix: str) -> str:
    """Inline SVG whose element ids get `prefix`, so the page's stages never share one."""
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)


def svg_of(source: str, prefix: str) -> tuple[str, float]:
    """(inline SVG, seconds dot took); element ids get `prefix`."""
    start = time.perf_counter()
    svg = run_dot(dot_program(), source, "svg", what="the viewer").decode()
    return prefixed(svg, prefix), time.perf_counter() - start


def writer_for(drawing, collapse: bool) -> Writer:
    """A drawn Writer, in the readable layout (update tags, ranked weights) when big."""
    readable = drawn_size(drawing, collapse) > READABLE_ABOVE
    writer = Writer(drawing, True, "TB", collapse_kernels=collapse, readable=readable)
    writer.draw()
    return writer


def prepared_stage(fn, name: str, index: int, max_nodes: int, boxes: bool = False,
                   stats: dict | None = None) -> tuple[Stage, Writer | None]:
    """A pipeline stage of a Function and its drawn Writer (None when it is too big to
    draw); fused kernels drawn as boxes when `boxes` or when their clusters would be too
    big; kernels coloured by the overlay `stats`."""
    drawing = resolve(fn, name)
    drawing.kernel_stats = stats or {}
    stage = Stage(name + BOXES if boxes else name, drawing.title + BOXES * boxes)
    collapse = boxes or (name == "fused" and drawn_size(drawing, False) > max_nodes)
    if collapse and not boxes:
        stage.note = f"each kernel is drawn as one box: the clusters would exceed {max_nodes} nodes"
    size = drawn_size(drawing, collapse)
    if size > max_nodes:
        stage.note = (
            f"stage {name!r} has {size} nodes, more than this page draws ({max_nodes}); "
            f"its kernels are collapsed in stage 'fused', or pass max_nodes={size} to "
            f"gc.view to draw it anyway"
        )
        return stage, None
    return stage, writer_for(drawing, collapse)


def has_kernels(writer: Writer) -> bool:
    """Whether the drawing has fused kernels (clusters or boxes): laid out on its own."""
    return writer.collapse_kernels or any(n.op == "kernel" for n in writer.drawing.graph.nodes())


def lay_out(writers: list) -> tuple[list, float]:
    """(each Writer's SVG, seconds): the stages without kernels from one shared layout
    (graphc/viz/view_layout.py: a node keeps its place between them), the others each
    from its own; two dot processes at a time."""
    start = time.perf_counter()
    shared = [i for i, w in enumerate(writers) if w is not None and not has_kernels(w)]
    alone = [i for i, w in enumerate(writers) if w is not None and i not in shared]
    svgs = [""] * len(writers)
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = pool.submit(shared_layout, [writers[i] for i in shared]) if shared else None
        separate = pool.map(lambda i: run_dot(dot_program(), writers[i].dot.source, "svg",
                                              what="the viewer").decode(), alone)
        for i, svg in zip(alone, separate):
            svgs[i] = svg
        for i, svg in zip(shared, together.result() if together else []):
            svgs[i] = svg
    return svgs, time.perf_counter() - start


def describe_stage(stage: Stage, writer: Writer, fn, index: int, boxes: bool,
                   layers: set | None) -> None:
    """Fill in a drawn stage's node details, scopes (none when kernels are already boxes),
    the changes its pass made and the overlay."""
    drawing = writer.drawing
    before = fn.graph(fn.stages[index - 1]) if index else None
    after = fn.graph(fn.stages[index + 1]) if index + 1 < len(fn.stages) else None
    old = None if before is None else set(every_node(before))
    stage.nodes = view_details.describe_drawn(writer, fn, old)
    scopes = {} if boxes else scopes_of(drawing.graph, drawing.parts, layers)
    marks = changes(drawing.graph, before, None if boxes else after)
    stage.scopes = mark_drawn(writer, stage.nodes, scopes, marks)
    stage.overlay_ids = annotate(writer, stage.nodes, drawing.kernel_stats)


def function_stages(fn, max_nodes: int, stats: dict | None = None,
                    layers: set | None = None) -> list:
    """Every stage of a Function, and the fused one again with each kernel as one box;
    `layers`: the model's layer names (what the raw..expanded stages collapse by)."""
    jobs = [(name, i, False) for i, name in enumerate(fn.stages)]
    if "fused" in fn.stages:
        jobs.append(("fused", fn.stages.index("fused"), True))
    prepared = [prepared_stage(fn, name, i, max_nodes, boxes, stats) for name, i, boxes in jobs]
    svgs, seconds = lay_out([writer for _, writer in prepared])
    for (stage, writer), svg, (_, index, boxes) in zip(prepared, svgs, jobs):
        if writer is not None:
            stage.svg = prefixed(svg, f"{'b' if boxes else 's'}{index}_")
            stage.dot_seconds = seconds
            describe_stage(stage, writer, fn, index, boxes, layers)
    return [stage for stage, _ in prepared]


def graph_stage(obj) -> Stage:
    """A Graph, node or list of nodes: one stage."""
    drawing = resolve(obj, "optimized")
    writer = writer_for(drawing, False)
    stage = Stage("graph", drawing.title)
    stage.svg, stage.dot_seconds = svg_of(writer.dot.source, "s0_")
    stage.nodes = view_details.describe_drawn(writer, None)
    return stage


def layer_links(records: list, raw: Stage | None) -> dict:
    """{layer name: DOT ids in the raw stage of the ops that read the layer's weights}
    (weights are named 'layer/...'); the link the model's layer view offers."""
    links = {r["name"]: [] for r in records}
    if raw is None:
        return links
    for dot_id, info in raw.nodes.items():
        layer = info["name"].split("/")[0] if info["op"] == "shared" else None
        if layer in links:
            links[layer].append(dot_id)
    return links


def layers_stage(model, raw: Stage | None) -> Stage:
    records = model.layer_records()
    digraph = layers_digraph(records, show_shapes=True, show_params=True, show_dtype=True)
    stage = Stage("layers", f"{getattr(model, 'name', 'model')}: layers")
    stage.svg, stage.dot_seconds = svg_of(digraph.source, "layers_")
    links = layer_links(records, raw)
    for i, record in enumerate(records):
        details = {k: v for k, v in record.items() if k != "inbound"}
        details["op"], details["inbound"] = record["type"], ", ".join(record.get("inbound", []))
        if links[record["name"]]:
            details["links"] = {"raw": links[record["name"]]}
        stage.nodes[f"layer{i}"] = {k: str(v) if isinstance(v, (list, tuple)) else v
                                    for k, v in details.items()}
    return stage


def link_ops_to_layers(layers: Stage, stages: list) -> None:
    """Each layer links to the ops it made in each stage scoped by layer (raw keeps its
    weights), and each of those ops links back to its layer."""
    by_name = {info["name"]: dot_id for dot_id, info in layers.nodes.items()}
    for stage in stages:
        for scope, ids in stage.scopes.items():
            if scope not in by_name:
                continue  # a kernel's scope, or no layer of this model
            layer = layers.nodes[by_name[scope]]
            if stage.name != "raw":
                layer.setdefault("links", {})[stage.name] = ids
            for dot_id in ids:
                stage.nodes[dot_id].setdefault("links", {})["layers"] = [by_name[scope]]


def is_function(obj) -> bool:
    return hasattr(obj, "pipeline") and hasattr(obj, "graph")


def is_model(obj) -> bool:
    return hasattr(obj, "layer_records") and hasattr(obj, "layers")


def stages_of(obj, max_nodes: int, stats: dict | None = None) -> tuple[list, object]:
    """(stages, the Function whose kernels the page describes, or None); kernels coloured
    by the overlay `stats`."""
    if is_model(obj):
        fn = getattr(obj, "train_function", None)
        names = {record["name"] for record in obj.layer_records()}
        stages = function_stages(fn, max_nodes, stats, names) if fn else []
        raw = stages[0] if stages else None
        layers = layers_stage(obj, raw)
        link_ops_to_layers(layers, stages)
        if fn is None:
            layers.note = "the model has no training step yet: fit it to see the compiled graphs"
        return [layers, *stages], fn
    if is_function(obj):
        return function_stages(obj, max_nodes, stats), obj
    if isinstance(obj, (Graph, Node, list, tuple)):
        return [graph_stage(obj)], None
    raise DiagramError(
        f"gc.view shows a graphc Function, Graph, node or list of nodes, or a model; "
        f"got {type(obj).__name__}"
    )


def renumber_keys(stages: list) -> None:
    """Node keys (Python ids, the same node in every stage) as small numbers."""
    numbers: dict = {}
    for stage in stages:
        for info in stage.nodes.values():
            if "key" in info:
                info["key"] = numbers.setdefault(info["key"], len(numbers))


def page_data(stages: list, fn, initial: str, assembly: bool | None = None) -> str:
    """The page's JSON block: stages with their nodes' details and scopes, and the kernels
    with their IR and assembly."""
    renumber_keys(stages)
    code = module_code(fn, assembly)
    data = {
        "initial": initial,
        "stages": [{"name": s.name, "title": s.title, "nodes": s.nodes, "scopes": s.scopes}
                   for s in stages],
        "kernels": view_details.describe_kernels(fn),
        "ir": view_details.kernel_ir(fn, code.ir),
        "asm": view_details.kernel_assembly(fn, code.assembly),
        "asm_source": code.source,
        "no_ir": view_details.NO_IR,
    }
    # every "<" escaped: no text in the data can close the <script> or open a comment in it
    return json.dumps(data, default=str).replace("<", "\\u003c")


def page(title: str, stages: list, fn, initial: str, overlay: str = "",
         assembly: bool | None = None) -> str:
    payload = page_data(stages, fn, initial, assembly)
    options = "".join(
        f'<option value="{html.escape(s.name)}">{html.escape(s.title)}</option>' for s in stages
    )
    divs = "".join(
        f'<div class="stage" data-stage="{html.escape(s.name)}" hidden>'
        + (f'<p class="note">{html.escape(s.note)}</p>' if s.note else "")
        + s.svg
        + "</div>"
        for s in stages
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        f'<label>stage <select id="stage">{options}</select></label>'
        f'<input id="search" type="search" placeholder="search op, name, shape (Enter: next)">'
        f'<span id="hits"></span><button id="fit">fit</button>'
        f'<button id="collapse-all">collapse all</button>'
        f'<button id="expand-all">expand all</button>'
        f'<label><input id="changes" type="checkbox"> outline what the passes changed</label>'
        f'<span class="changes-key">(green: added by this stage\'s pass, blue: rewritten, '
        f"red: removed by the next)</span></header>"
        f'<main><div id="canvas">{divs}</div>'
        f'<aside id="details">click a node for its details</aside>{overlay}</main>'
        f'<script type="application/json" id="graphc-data">{payload}</script>'
        f"<script>{SCRIPT}{COLLAPSE_SCRIPT}</script></body></html>"
    )


def default_path(obj) -> Path:
    name = getattr(obj, "name", None) or "graph"
    return Path(f"{re.sub(r'[^A-Za-z0-9_.-]', '_', str(name))}-view.html")


def view(obj, path=None, *, max_nodes: int = MAX_NODES, profile=None, compare=None,
         assembly: bool | None = None) -> Path:
    """Write one self-contained HTML page to explore `obj`; returns its path.

    Args:
        obj: a Function (every pipeline stage: raw, grad, optimized, expanded, fused), a
            Graph, a node or list of nodes, or a Keras-style model (its layers, linked to
            the ops that read each layer's weights, and its training step once fitted).
        path: the .html file to write; default NAME-view.html in the current folder.
        max_nodes: a stage with more drawn nodes is drawn with kernels collapsed, or left
            out with a note.
        profile: a gc.profile report of the Function: each kernel (numpy backend: op) is
            coloured by its share of the step, its details show time, share and GFLOP/s,
            and a legend and a table list the kernels, slowest first.
        compare: a gc.compare report: kernels coloured by their error, worst first.
        assembly: each llvm kernel's assembly is disassembled from the object code its
            compile left in the disk cache (needs `objdump`); when that is missing, None
            compiles a small module again (a big one is left out, with a note), True
            compiles any module again, False leaves the assembly out.
        A fitted model's page also shows its loss and metric curves and, when fit profiled
        its step (profile=True or a ProfilerCallback), that profile's summary and overlay.
    Example:
        gc.view(train, "train.html")  # open it in any browser; it needs no network
        gc.view(train, "hot.html", profile=gc.profile(train, x, y))
    """
    if dot_program() is None:
        raise DiagramError("gc.view lays graphs out with graphviz's `dot`, which is not installed")
    history = getattr(obj, "history", None) if is_model(obj) else None
    if profile is None and compare is None:
        profile = getattr(history, "profile", None)  # fit(profile=True) or ProfilerCallback
    kind, stats = overlay_of(profile, compare)
    stages, fn = stages_of(obj, max_nodes, stats)
    shown = [s.name for s in stages if s.svg and not s.name.endswith(BOXES)]
    initial = shown[-1] if shown else stages[0].name
    if is_model(obj):
        initial = "layers"
    title = getattr(obj, "name", None) or stages[0].title
    boxes = overlay_section(kind, stats, stages) + dashboard_html(history, profile)
    text = page(f"graphc view: {title}", stages, fn, initial, boxes, assembly)
    target = Path(path) if path is not None else default_path(obj)
    atomic_write(target, lambda f: f.write(text.encode()))
    return target

"""`to_dot`: the computation graph of a Function (at any pipeline stage), a Graph or nodes.

What a diagram shows:
- ops as boxes labelled with the op, its attributes, shape and dtype; forward ops white,
  backward ops (gradients and optimizer arithmetic, see graphc/viz/parts.py) red; ops and
  kernels that compute in bfloat16, int8 or int32 outlined in that dtype's colour, with a
  legend (graphc/viz/dtypes.py), so float32 islands show;
- placeholders as blue ellipses, shared variables as yellow cylinders, constants as small
  grey text; each output points at an "output i" tag;
- each update as an orange dashed edge from its new-value expression into the shared
  variable, labelled "W :="; above 40 nodes (the readable layout) as a short "W := this"
  tag under the expression instead, with each weight and input on the rank of the first op
  that reads it (its layer) rather than all on the top rank;
- above 150 nodes dot spends fewer passes on crossings, and above max_nodes (1500) to_dot
  refuses with a message pointing to `gc.view`, which pans, zooms and searches;
- each fused kernel (op 'kernel') as a cluster around the ops it contains (or, with
  collapse_kernels, as one box listing them), optionally coloured by an overlay
  (graphc/viz/overlay.py): its share of the step in a gc.profile report (numpy backend: each
  op's), or the error gc.compare measured for it, with the number under its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import graphviz
import numpy as np

from graphc.ir import Graph, Node, shape_text
from graphc.viz import dtypes, kernels, overlay
from graphc.viz.parts import BACKWARD, parts_of_graph, parts_of_stage
from graphc.viz.render import Diagram, DiagramError, check_rankdir

HIDDEN_ATTRS = ("shape", "dtype", "storage", "value", "ops")
STYLE = {
    "placeholder": dict(shape="ellipse", style="filled", fillcolor="#dbeafe", color="#1d4ed8"),
    "shared": dict(shape="cylinder", style="filled", fillcolor="#fef3c7", color="#b45309"),
    "constant": dict(shape="plaintext", fontcolor="#6b7280", fontsize="9"),
    "forward": dict(shape="box", style="rounded,filled", fillcolor="#ffffff", color="#334155"),
    "backward": dict(shape="box", style="rounded,filled", fillcolor="#fee2e2", color="#b91c1c"),
    "grad": dict(shape="box", style="rounded,dashed,filled", fillcolor="#fee2e2", color="#b91c1c"),
}
UPDATE_EDGE = dict(
    color="#d97706", fontcolor="#b45309", style="dashed", penwidth="1.6", constraint="false"
)
UPDATE_TAG = dict(
    shape="note", style="filled", fillcolor="#ffedd5", color="#d97706", fontcolor="#b45309"
)
READABLE_ABOVE = 40  # drawn nodes beyond which update edges cross the picture and need tags
MAX_NODES = 1500  # beyond this dot takes long and no screen shows the text: gc.view does
# Above this many nodes dot spends minutes untangling crossings: fewer passes, ~10x faster.
FAST_LAYOUT_ABOVE = 150
FAST_LAYOUT = {"mclimit": "0.1", "nslimit": "2", "nslimit1": "2"}


@dataclass
class Drawing:
    """What to_dot draws: a graph, each node's part, and a title."""

    graph: Graph
    parts: dict
    title: str
    kernel_stats: dict = field(default_factory=dict)


def short(value, limit: int = 28) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def node_label(node: Node) -> str:
    """'name: op {attrs}' over '(shape) dtype'."""
    if node.op in ("placeholder", "shared"):
        return f"{node.name or node.op}\n{shape_text(node.shape)} {node.dtype}"
    if node.op == "constant":
        value = node.attr("value").value
        if value.size > 4:
            return f"constant\n{shape_text(node.shape)} {node.dtype}"
        return short(np.array2string(value, precision=4, separator=", "))
    attrs = [
        f"{k}={short(v)}" for k, v in node.attrs if k not in HIDDEN_ATTRS and v is not False
    ]  # False flags are the defaults
    head = (f"{node.name}: " if node.name else "") + node.op
    body = ("\n" + ", ".join(attrs)) if attrs else ""
    return f"{head}{body}\n{shape_text(node.shape)} {node.dtype}"


def node_style(node: Node, part: str) -> dict:
    if node.op in ("placeholder", "shared", "constant", "grad"):
        return STYLE[node.op]
    return STYLE[BACKWARD if part == BACKWARD else "forward"]


def resolve(obj, stage: str) -> Drawing:
    """The graph, parts and title for a Function (at `stage`), a Graph, a node or nodes."""
    if hasattr(obj, "pipeline") and hasattr(obj, "graph"):
        stages = obj.pipeline.stages
        if stage not in stages:
            raise DiagramError(
                f"the function has no stage {stage!r}; its stages are {', '.join(stages)}"
            )
        graph = stages[stage]
        name = getattr(obj, "name", None) or "function"
        parts = parts_of_stage(stages, stage, kernels.inner_ops)
        return Drawing(graph, parts, f"{name}: stage '{stage}'")
    if isinstance(obj, Graph):
        return Drawing(obj, parts_of_graph(obj), "graph")
    nodes = [obj] if isinstance(obj, Node) else obj if isinstance(obj, (list, tuple)) else None
    if not nodes or not all(isinstance(n, Node) for n in nodes):
        raise DiagramError(
            f"to_dot draws a graphc Function, Graph, node or list of nodes; "
            f"got {type(obj).__name__}: {short(repr(obj), 60)}"
        )
    graph = Graph((), tuple(nodes))
    return Drawing(graph, parts_of_graph(graph), "nodes")


class Writer:
    """Emits one diagram: gives each node a stable DOT id and draws nodes, edges, clusters."""

    def __init__(
        self,
        drawing: Drawing,
        show_constants: bool,
        rankdir: str,
        collapse_kernels: bool = False,
        readable: bool = False,
    ):
        self.drawing = drawing
        self.show_constants = show_constants
        self.collapse_kernels = collapse_kernels
        self.readable = readable
        self.ids: dict[int, str] = {}
        self.drawn: set[int] = set()
        self.legend = dtypes.DtypeLegend()
        count = len(drawing.graph.nodes())
        fast = drawn_size(drawing, collapse_kernels) > FAST_LAYOUT_ABOVE
        self.dot = graphviz.Digraph(
            "graphc",
            graph_attr={
                "rankdir": rankdir,
                "label": f"{drawing.title} ({count} nodes)",
                "labelloc": "t",
                "fontname": "Helvetica",
                "fontsize": "14",
                "nodesep": "0.25",
                "ranksep": "0.45" if readable else "0.3",
                **(FAST_LAYOUT if fast else {}),
            },
            node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.08,0.04"},
            edge_attr={
                "arrowsize": "0.6",
                "color": "#475569",
                "fontname": "Helvetica",
                "fontsize": "10",
            },
        )

    def id_of(self, node: Node) -> str:
        return self.ids.setdefault(id(node), f"n{len(self.ids)}")

    def visible(self, node: Node) -> bool:
        return self.show_constants or node.op != "constant"

    def draw_node(self, node: Node, target=None) -> None:
        """Draw one node; an interpreter op a profile timed is outlined in its overlay colour
        and labelled with its share (kernels are coloured as clusters, graphc/viz/kernels.py)."""
        part = self.drawing.parts.get(id(node))
        style, label = dict(node_style(node, part)), node_label(node)
        if node.op != "constant":  # outlined in its dtype's colour (graphc/viz/dtypes.py)
            style.update(dtypes.outline(self.legend.note(dtypes.compute_class(node))))
        own = overlay.stats_of(node, self.drawing.kernel_stats)
        if own:
            label += "\n" + own["label"]
            style.update(color=own["colour"], penwidth="2.5")
        (target or self.dot).node(self.id_of(node), label, **style)
        self.drawn.add(id(node))

    def ensure_drawn(self, node: Node) -> None:
        if id(node) not in self.drawn:
            self.draw_node(node)

    def draw_edges_into(self, node: Node, target=None) -> None:
        for i in node.inputs:
            if self.visible(i):
                (target or self.dot).edge(kernels.exit_id(self, i), self.id_of(node))

    def draw(self) -> graphviz.Digraph:
        graph = self.drawing.graph
        for node in graph.nodes():
            if node.op == "kernel":
                kernels.draw_kernel(self, node)
            elif node.op == "kernel_output":
                continue  # edges start at the inner op that produces the value
            elif self.visible(node):
                self.draw_node(node)
                self.draw_edges_into(node)
        self.draw_outputs(graph)
        if self.readable:
            self.draw_update_tags(graph)
            self.rank_leaves_beside_users(graph)
        else:
            self.draw_updates(graph)
        return self.dot

    def draw_outputs(self, graph: Graph) -> None:
        for i, out in enumerate(graph.outputs):
            tag = f"out{i}"
            self.dot.node(tag, f"output {i}", shape="plaintext", fontcolor="#1d4ed8")
            self.dot.edge(kernels.exit_id(self, out), tag, style="bold", color="#1d4ed8")

    def draw_updates(self, graph: Graph) -> None:
        for var, expr in graph.updates:
            self.ensure_drawn(var)
            label = f"{var.name or 'shared'} :="
            self.dot.edge(kernels.exit_id(self, expr), self.id_of(var), label=label, **UPDATE_EDGE)


    def draw_update_tags(self, graph: Graph) -> None:
        """Each update as a short tag under its new value, not an edge back up to the
        variable (which, in a training step, crosses the whole picture)."""
        for i, (var, expr) in enumerate(graph.updates):
            tag = f"update{i}"
            self.dot.node(tag, f"{var.name or 'shared'} := this", **UPDATE_TAG)
            self.dot.edge(kernels.exit_id(self, expr), tag, color=UPDATE_TAG["color"])

    def rank_leaves_beside_users(self, graph: Graph) -> None:
        """Put each weight and input on the rank of the first op that reads it (its layer),
        instead of all of them on the top rank with long edges down."""
        if not self.collapse_kernels and any(n.op == "kernel" for n in graph.nodes()):
            return  # a rank shared across a cluster's border is not what dot draws well
        placed = set()
        for node in graph.nodes():
            for leaf in node.inputs:
                if leaf.op in ("shared", "placeholder") and id(leaf) not in placed:
                    placed.add(id(leaf))
                    with self.dot.subgraph() as rank:
                        rank.attr(rank="same")
                        rank.node(self.id_of(leaf))
                        rank.node(self.id_of(node))


def drawn_size(drawing: Drawing, collapse_kernels: bool) -> int:
    """How many boxes a diagram of `drawing` has (a kernel's ops each, unless collapsed)."""
    nodes = drawing.graph.nodes()
    return len(nodes) + (0 if collapse_kernels else sum(len(kernels.inner_ops(n)) for n in nodes))


def check_size(drawing: Drawing, size: int, max_nodes: int | None) -> int:
    """`size`, or a DiagramError pointing to gc.view when it exceeds `max_nodes`."""
    if max_nodes is not None and size > max_nodes:
        raise DiagramError(
            f"the {drawing.title} has {size} nodes, more than a static diagram shows legibly "
            f"(max_nodes={max_nodes}): gc.view(...) writes a page that pans, zooms and "
            f"searches it; or pass collapse_kernels=True (stage 'fused') or max_nodes=None"
        )
    return size


def to_dot(
    obj,
    stage: str = "optimized",
    to_file=None,
    *,
    show_constants: bool = True,
    rankdir: str = "TB",
    report=None,
    profile=None,
    compare=None,
    collapse_kernels: bool = False,
    dpi: int = 96,
    readable: bool | None = None,
    max_nodes: int | None = MAX_NODES,
) -> Diagram:
    """Draw a graphc Function at a pipeline stage, a Graph, a node or a list of nodes.

    Args:
        obj: a Function (`gc.function(...)`), a Graph, a Node or a list of Nodes.
        stage: for a Function, 'raw', 'grad', 'optimized' or a backend stage such as 'fused'.
        to_file: if given, also write the picture there (.svg, .png, .pdf or .dot).
        show_constants: draw constant leaves (small grey values).
        rankdir: 'TB' (top to bottom), 'LR', 'BT' or 'RL'.
        report: a `graphc.compare` report; fused kernels are then coloured by their error
            and labelled with their time (the same as compare=).
        profile: a `gc.profile` report; kernels (or, numpy backend, ops) are coloured by
            their share of the step and labelled with it and their time per call.
        compare: a `gc.compare` report, as report=.
        collapse_kernels: draw each fused kernel as one box listing its ops, instead of a
            cluster around them (a compact view of a big training step).
        readable: updates as tags, weights beside their readers; None: above 40 nodes.
        max_nodes: a bigger diagram is an error that points to `gc.view`; None: no cap.
    Returns:
        a Diagram: `.source` is the DOT text, `.save(path)` writes a picture.
    Example:
        gc.to_dot(train, stage="fused", to_file="train_fused.svg")
    """
    check_rankdir(rankdir)
    drawing = resolve(obj, stage)
    if not drawing.graph.nodes():
        raise DiagramError(f"nothing to draw: the {drawing.title} has no outputs or updates")
    drawing.kernel_stats = overlay.overlay_of(profile, compare if report is None else report)[1]
    size = check_size(drawing, drawn_size(drawing, collapse_kernels), max_nodes)
    readable = size > READABLE_ABOVE if readable is None else readable
    writer = Writer(drawing, show_constants, rankdir, collapse_kernels, readable)
    digraph = writer.draw()
    writer.legend.draw(digraph)  # here, not in draw: gc.view shows its own page around it
    diagram = Diagram(digraph, dpi)
    if to_file is not None:
        diagram.save(to_file)
    return diagram

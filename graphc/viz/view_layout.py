"""One graphviz layout for several stages, so a node keeps its place when the stage changes.

The stages before fusion (raw, grad, optimized, expanded) share most of their nodes. Their
drawings (each a Writer's DOT statements) are merged into one graph, keyed by node identity,
and `dot` lays that union out once; each stage's SVG is then the union's picture cut down to
that stage's own nodes and edges, renamed back to the stage's DOT ids. A node present in two
stages is drawn at the same coordinates in both, and one `dot` run replaces four (the
2-block Transformer's step: four layouts of ~1500 nodes each, or one of ~2000).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import graphviz

from graphc.viz.render import DiagramError, dot_program, run_dot
from graphc.viz.view_scopes import signature

STATEMENT = re.compile(r"\t(\w+)(?: -> (\w+))?((?: \[.*\])?\n)", re.S)
ELEMENT = re.compile(r'<g id="([^"]+)" class="(node|edge)">\n<title>([^<]*)</title>\n.*?</g>\n',
                     re.S)
TITLE = "@@graphcstagetitle@@"  # the union's label, replaced by each stage's own
# dot's x-placement (network simplex) takes ~nslimit x nodes steps, each costing more the
# more long edges cross ranks: ~60 s for a 3600-node union at graph.py's nslimit=2. This
# many steps at most keeps a Transformer step's union to seconds (edges straighten less).
PLACEMENT_STEPS = 600


@dataclass
class Statements:
    """A Writer's DOT body, parsed: nodes, edges and rank=same groups, by DOT id."""

    nodes: list = field(default_factory=list)  # (id, attributes text)
    edges: list = field(default_factory=list)  # (tail id, head id, attributes text)
    ranks: list = field(default_factory=list)  # [ids on one rank]


def statement(item: str) -> tuple:
    """(tail or node id, head id or None, attributes text) of one DOT statement."""
    found = STATEMENT.fullmatch(item)
    if found is None:
        raise DiagramError(f"gc.view cannot merge stages with the DOT statement {item!r}: "
                           f"it expects nodes, edges and rank groups only")
    return found.groups()


def parse_body(body: list) -> Statements:
    """The statements a graphviz.Digraph's body holds (as Writer emits them: one statement
    per item, rank groups as '{', 'rank=same', ids, '}')."""
    parsed, group = Statements(), None
    for item in body:
        if item == "\t{\n":
            group = []
        elif item == "\t}\n":
            parsed.ranks.append(group)
            group = None
        elif group is not None:
            if "rank=" not in item:
                group.append(item.strip())
        else:
            tail, head, rest = statement(item)
            if head:
                parsed.edges.append((tail, head, rest))
            else:
                parsed.nodes.append((tail, rest))
    return parsed


def with_id(attributes: str, element_id: str) -> str:
    """An edge's attribute text with an SVG id added, so its <g> can be found again."""
    if attributes.lstrip().startswith("["):
        return attributes.replace("[", f"[id={element_id} ", 1)
    return f" [id={element_id}]\n"


@dataclass
class StageCut:
    """One stage within the union: {union id: its DOT id} and its edges' union ids."""

    label: str
    names: dict = field(default_factory=dict)
    edges: set = field(default_factory=set)


def look(node) -> tuple:
    """What a node looks like with its inputs: how a pass's copy of a node is recognised."""
    return signature(node), tuple(signature(i) for i in node.inputs)


class Union:
    """The merged drawing of several stages' Writers. Nodes are one when their graph node
    is one (Writer.ids keys) or, for a node a pass copied (the optimizer rebuilds most of
    the graph), when it looks the same as a node of an earlier stage that this stage has
    not matched yet; tags (outputs, updates) are one when they hang from the same node."""

    def __init__(self):
        self.nodes: dict = {}  # union id -> attributes text (the first stage's)
        self.edges: dict = {}  # (tail, head, attributes, n-th) -> union edge id
        self.ranks: dict = {}  # first id of a rank group -> the group (the first stage's)
        self.looks: dict = {}  # look(node) -> union ids of nodes that look so
        self.cuts: list = []

    def node_ids(self, writer) -> dict:
        """{DOT id: union id} of a Writer's nodes: the same node, else an unmatched one that
        looks the same, else a new one."""
        graph_nodes = {id(n): n for n in writer.drawing.graph.nodes()}
        claimed = {f"k{key}" for key in writer.ids if f"k{key}" in self.nodes}
        local = {}
        for key, dot_id in writer.ids.items():
            union_id, node = f"k{key}", graph_nodes.get(key)
            if union_id not in self.nodes and node is not None:
                free = [u for u in self.looks.get(look(node), ()) if u not in claimed]
                union_id = free[0] if free else union_id
                claimed.add(union_id)
            local[dot_id] = union_id
            same = self.looks.setdefault(look(node), []) if node is not None else [union_id]
            if union_id not in same:
                same.append(union_id)
        return local

    def add(self, writer) -> None:
        parsed = parse_body(writer.dot.body)
        local = self.node_ids(writer)
        for tail, head, _ in parsed.edges:
            if head not in local:  # a tag: named by the node it hangs from
                local[head] = f"{head}_at_{local.get(tail, tail)}"
        cut = StageCut(writer.dot.graph_attr["label"])
        for dot_id, attributes in parsed.nodes:
            union_id = local.setdefault(dot_id, f"{dot_id}_alone")
            self.nodes.setdefault(union_id, attributes)
            cut.names[union_id] = dot_id
        seen: dict = {}
        for tail, head, attributes in parsed.edges:
            ends = (local[tail], local[head], attributes)
            seen[ends] = seen.get(ends, 0) + 1
            cut.edges.add(self.edges.setdefault((*ends, seen[ends]), f"e{len(self.edges)}"))
        for group in parsed.ranks:
            ids = [local[dot_id] for dot_id in group]
            self.ranks.setdefault(ids[0], ids)
        self.cuts.append(cut)

    def source(self, first) -> str:
        """The union's DOT text, with the graph settings of the Writer `first`."""
        settings = {**first.dot.graph_attr, "label": TITLE}
        limit = float(settings.get("nslimit", 2))
        settings["nslimit"] = f"{min(limit, PLACEMENT_STEPS / max(1, len(self.nodes))):.3g}"
        digraph = graphviz.Digraph("graphc", graph_attr=settings,
                                   node_attr=first.dot.node_attr, edge_attr=first.dot.edge_attr)
        body = [f"\t{union_id}{attributes}" for union_id, attributes in self.nodes.items()]
        body += [f"\t{tail} -> {head}{with_id(attributes, edge_id)}"
                 for (tail, head, attributes, _), edge_id in self.edges.items()]
        body += ["\t{rank=same " + " ".join(group) + "}\n" for group in self.ranks.values()]
        digraph.body.extend(body)
        return digraph.source


def cut_svg(svg: str, cut: StageCut) -> str:
    """The union's SVG with only `cut`'s nodes and edges, under the stage's own ids."""
    first = ELEMENT.search(svg)
    head = svg[: first.start()] if first else svg[: svg.rindex("</g>")]
    head = head.replace(TITLE, html.escape(cut.label))
    head = re.sub(r"<!--.*?-->\n", "", head, flags=re.S)
    kept = []
    for match in ELEMENT.finditer(svg):
        element_id, kind, title = match.groups()
        if kind == "node" and title in cut.names:
            kept.append(match.group(0).replace(f"<title>{title}</title>",
                                               f"<title>{cut.names[title]}</title>", 1))
        elif kind == "edge" and element_id in cut.edges:
            tail, head_id = html.unescape(title).split("->")
            renamed = html.escape(f"{cut.names[tail]}->{cut.names[head_id]}")
            kept.append(match.group(0).replace(f"<title>{title}</title>",
                                               f"<title>{renamed}</title>", 1))
    return head + "".join(kept) + "</g>\n</svg>\n"


def shared_layout(writers: list) -> list:
    """Each Writer's stage as SVG, all cut from one layout of their union."""
    union = Union()
    for writer in writers:
        union.add(writer)
    svg = run_dot(dot_program(), union.source(writers[0]), "svg", what="the viewer").decode()
    return [cut_svg(svg, cut) for cut in union.cuts]

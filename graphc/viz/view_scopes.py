"""What the viewer collapses and what it highlights: each node's scope (the layer that made it,
or the fused kernel it is in) and what a pass changed (added, rewritten, removed).

Nodes carry no layer of their own, so a layer scope is read off the graph: a model's weights
are named 'layer/...' (graphc's frontend names them so); an op that reads a layer's weight
belongs to that layer; another forward op to the latest layer among its inputs (data flows
forward through the layers); another backward op to the latest layer among the ops that use
its value (a gradient flows back to the weights its layer updates). Layers are ordered by
where their first op sits in the topological order.
"""

from __future__ import annotations

from collections import Counter

from graphc.ir import Graph, Node, shape_text
from graphc.viz.kernels import inner_ops
from graphc.viz.parts import BACKWARD


def layer_of_weight(node: Node, layers: set | None = None) -> str | None:
    """'hidden' for the shared variable 'hidden/kernel' (when 'hidden' is one of `layers`,
    if given: an optimizer's 'sgd/learning_rate' is no layer's); None for any other node."""
    if node.op != "shared" or not node.name or "/" not in node.name:
        return None
    prefix = node.name.split("/")[0]
    return prefix if layers is None or prefix in layers else None


class LayerScopes:
    """{id(node): layer name} of a graph, by the rule in this module's docstring."""

    def __init__(self, graph: Graph, parts: dict, layers: set | None):
        self.layers = layers
        self.order = graph.nodes()
        self.parts = parts
        self.scope: dict = {}
        self.rank: dict = {}  # layer -> its position in the model's flow
        self.users = {id(n): [] for n in self.order}
        for node in self.order:
            for i in node.inputs:
                self.users[id(i)].append(node)
        for var, expr in graph.updates:
            self.users[id(expr)].append(var)  # an update expression is used by its variable

    def latest(self, candidates) -> str | None:
        known = [s for s in candidates if s is not None]
        return max(known, key=lambda s: self.rank[s]) if known else None

    def assign(self, node: Node, scope: str | None) -> None:
        if scope is not None:
            self.scope[id(node)] = scope
            self.rank.setdefault(scope, len(self.rank))

    def direct(self, node: Node) -> str | None:
        """The latest layer whose weight `node` is, or reads."""
        own = layer_of_weight(node, self.layers)
        if own is not None:
            return own
        return self.latest(layer_of_weight(i, self.layers) for i in node.inputs)

    def forward(self) -> None:
        for node in self.order:
            for weight in (node, *node.inputs):
                # a layer ranks where its first weight is read
                self.assign(weight, layer_of_weight(weight, self.layers))
            if self.parts.get(id(node)) != BACKWARD:
                inputs = (self.scope.get(id(i)) for i in node.inputs if i.op != "shared")
                self.assign(node, self.direct(node) or self.latest(inputs))

    def backward(self) -> None:
        for node in reversed(self.order):
            if self.parts.get(id(node)) == BACKWARD:
                users = (self.scope.get(id(u)) for u in self.users[id(node)])
                self.assign(node, self.direct(node) or self.latest(users))

    def compute(self) -> dict:
        self.forward()
        self.backward()
        return self.scope


def layer_scopes(graph: Graph, parts: dict, layers: set | None = None) -> dict:
    """{id(node): layer name} for the nodes of `graph` that a layer made (see the module doc);
    `layers`: the model's layer names (None: any 'prefix/' of a weight's name)."""
    return LayerScopes(graph, parts, layers).compute()


def kernel_scopes(graph: Graph) -> dict:
    """{id(node): kernel name} for each fused kernel and the ops inside it."""
    scopes = {}
    for node in graph.nodes():
        if node.op == "kernel":
            name = node.attr("body").name
            scopes.update({id(n): name for n in (node, *inner_ops(node))})
    return scopes


def scopes_of(graph: Graph, parts: dict, layers: set | None = None) -> dict:
    """Kernels in a stage that has them, else layers."""
    if any(n.op == "kernel" for n in graph.nodes()):
        return kernel_scopes(graph)
    return layer_scopes(graph, parts, layers)


def every_node(graph: Graph) -> dict:
    """{id: node} of a graph's nodes and of the ops inside its kernels."""
    return {id(n): n for node in graph.nodes() for n in (node, *inner_ops(node))}


def signature(node: Node) -> tuple:
    return node.op, node.name, shape_text(node.shape), node.dtype


def changes(now: Graph, before: Graph | None, after: Graph | None) -> dict:
    """{id(node): what the pass into `now` did to it ('added' or 'rewritten': the same op as a
    node it replaced, on new inputs), and 'removed' for nodes the next pass drops}; a node
    both made here and dropped next is 'added removed' / 'rewritten removed'."""
    current = every_node(now)
    marks = {}
    if before is not None:
        old = every_node(before)
        replaced = Counter(signature(n) for key, n in old.items() if key not in current)
        for key, node in current.items():
            if key in old:
                continue
            if replaced[signature(node)] > 0:
                replaced[signature(node)] -= 1
                marks[key] = "rewritten"
            else:
                marks[key] = "added"
    if after is not None:
        kept = every_node(after)
        for key in current:
            if key not in kept:
                marks[key] = (marks.get(key, "") + " removed").strip()
    return marks


def mark_drawn(writer, table: dict, scopes: dict, marks: dict) -> dict:
    """Add 'scope' and 'change' to the details of each drawn node; returns {scope: DOT ids}."""
    members: dict = {}
    for key, dot_id in writer.ids.items():
        if dot_id not in table:
            continue
        table[dot_id]["key"] = key  # the node's identity across stages (view.page renumbers it)
        if key in scopes:
            table[dot_id]["scope"] = scopes[key]
            members.setdefault(scopes[key], []).append(dot_id)
        if key in marks:
            table[dot_id]["change"] = marks[key]
    return members

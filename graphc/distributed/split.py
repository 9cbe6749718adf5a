"""A program with allreduce nodes as a sequence of phases, each an ordinary graph that one
compiled function runs. Each phase computes what its reductions need and the values later
phases read, so no node is computed twice (random values are drawn once); the reductions of
a phase start when it ends, and are waited for by the first phase that reads them.

The level of a node is how many reductions stand between it and the inputs: leaves and nodes
depending on no allreduce are level 0, an allreduce is one more than its payload, any other
node is the highest level of its inputs. Level L runs as one phase per `bucket` of the
allreduce payloads computed at L, bucket 0 first: a node joins the first phase that needs
it (a payload's bucket, or its users' phase), so a bucket's reduction is under way while
later buckets compute (the last layers' gradients reduced while earlier ones are computed).
Nodes that only a later level needs join level L's last phase. The last phase computes the
function's outputs and its updates (so updates are stored once, at the end).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from graphc.ir import Graph, Node, toposort
from graphc.ops import LEAVES, make_node
from graphc.ops.rebuild import rebuild


@dataclass(frozen=True)
class Phase:
    """One compiled step: `graph`'s inputs are fed from `feeds` (each an original node: a
    function input, an allreduce result or a value an earlier phase produced); its outputs
    are the values of the original nodes `produces` (the last phase: the function's outputs).
    When it ends, the reduction of `reductions` (allreduce nodes) starts."""

    graph: Graph
    feeds: tuple
    produces: tuple
    reductions: tuple


def levels(order: list) -> dict:
    """id(node) -> level (see the module docstring), for nodes in topological order."""
    level: dict[int, int] = {}
    for node in order:
        if node.op in LEAVES:
            level[id(node)] = 0
        elif node.op == "allreduce":
            level[id(node)] = level[id(node.inputs[0])] + 1
        else:
            level[id(node)] = max((level[id(i)] for i in node.inputs), default=0)
    return level


def buckets(order: list, roots, level: dict) -> dict:
    """id(computed node) -> the bucket of its level whose phase first needs it (inf: only
    later levels or the outputs need it)."""
    users = defaultdict(list)
    for node in order:
        for i in node.inputs:
            users[id(i)].append(node)
    root_ids = {id(r) for r in roots}
    bucket: dict[int, float] = {}
    for node in reversed(order):
        if node.op in LEAVES or node.op == "allreduce":
            continue
        wanted = [math.inf] if id(node) in root_ids else []
        for user in users[id(node)]:
            if user.op == "allreduce":
                wanted.append(user.attr("bucket"))
            else:
                same = level[id(user)] == level[id(node)]
                wanted.append(bucket[id(user)] if same else math.inf)
        bucket[id(node)] = min(wanted)
    return bucket


def placement(order: list, roots) -> tuple[dict, int]:
    """(id(node) -> phase index, number of phases): computed nodes by where they run,
    allreduce nodes by the first phase that may read them."""
    level = levels(order)
    bucket = buckets(order, roots, level)
    last = max(level[id(r)] for r in roots)
    computed = [n for n in order if id(n) in bucket]
    finite = defaultdict(set)
    for node in computed:
        if bucket[id(node)] != math.inf and level[id(node)] < last:
            finite[level[id(node)]].add(bucket[id(node)])
    keys = sorted({(lv, b) for lv, bs in finite.items() for b in bs} |
                  {(lv, max(finite.get(lv, {0}))) for lv in range(last + 1)})
    index = {key: k for k, key in enumerate(keys)}
    phase = {}
    for node in computed:
        lv = level[id(node)]
        b = 0 if lv == last else bucket[id(node)]
        phase[id(node)] = index[(lv, max(finite.get(lv, {0})) if b == math.inf else b)]
    for node in order:
        if node.op == "allreduce":
            phase[id(node)] = min(k for (lv, _), k in index.items() if lv >= level[id(node)])
    return phase, len(keys)


def split(graph: Graph) -> list[Phase]:
    """The phases of `graph` (its gradients already expanded), in the order they run."""
    roots = graph.roots
    order = toposort(roots)
    phase, count = placement(order, roots)
    produced = defaultdict(dict)  # phase -> {id: node} its later phases or reductions read
    for node in order:
        for i in node.inputs:
            if id(i) in phase and i.op != "allreduce" and phase[id(i)] < phase.get(id(node), 0):
                produced[phase[id(i)]][id(i)] = i
            if node.op == "allreduce" and i.op not in LEAVES and i.op != "allreduce":
                produced[phase[id(i)]][id(i)] = i
    for root in roots:  # an output computed before the last phase reaches it as a value
        if id(root) in phase and root.op != "allreduce" and phase[id(root)] < count - 1:
            produced[phase[id(root)]][id(root)] = root
    reductions = defaultdict(list)
    for node in order:
        if node.op == "allreduce":
            payload = node.inputs[0]
            reductions[phase.get(id(payload), 0) if payload.op not in LEAVES else 0].append(node)
    return [
        Phase(*phase_graph(graph, list(produced[p].values()), p, phase, p == count - 1),
              tuple(reductions[p]))
        for p in range(count)
    ]


def phase_graph(graph: Graph, produces: list, p: int, phase: dict, is_last: bool) -> tuple:
    """(graph, feeds, produces) of phase p: nodes of earlier phases become placeholders."""
    substitutes: dict[int, tuple] = {}  # id(original) -> (original, placeholder)

    def earlier(node) -> bool:
        if node.op == "allreduce":
            return phase[id(node)] <= p
        return id(node) in phase and phase[id(node)] < p

    def inputs_of(node):
        return () if earlier(node) else node.inputs

    memo: dict[int, Node] = {}
    roots = graph.roots if is_last else produces
    for node in toposort(roots, inputs_of):
        if earlier(node):
            stand_in = make_node("placeholder", (), {"shape": node.shape, "dtype": node.dtype},
                                 name=f"phase{p}_in{len(substitutes)}")
            substitutes[id(node)] = (node, stand_in)
            memo[id(node)] = stand_in
        else:
            memo[id(node)] = rebuild(node, (memo[id(i)] for i in node.inputs))
    user_inputs = [i for i in graph.inputs if id(i) in memo]
    inputs = tuple(user_inputs) + tuple(stand_in for _, stand_in in substitutes.values())
    feeds = tuple(user_inputs) + tuple(original for original, _ in substitutes.values())
    if is_last:
        n = len(graph.outputs)
        new_roots = [memo[id(r)] for r in graph.roots]
        updates = tuple((var, new) for (var, _), new in zip(graph.updates, new_roots[n:]))
        return Graph(inputs, tuple(new_roots[:n]), updates), feeds, tuple(graph.outputs)
    return Graph(inputs, tuple(memo[id(n)] for n in produces), ()), feeds, tuple(produces)


def mentions_allreduce(outputs, updates) -> bool:
    """Whether gc.function's outputs or update expressions (as the user gave them) read an
    allreduce node."""
    roots = [outputs] if isinstance(outputs, Node) else list(outputs or [])
    pairs = updates.items() if isinstance(updates, dict) else (updates or [])
    roots += [expr for _, expr in pairs]
    return any(n.op == "allreduce" for n in toposort(r for r in roots if isinstance(r, Node)))

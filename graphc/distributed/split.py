"""A program with allreduce nodes as a sequence of phases, each an ordinary graph that one
compiled function runs: phase p computes what needs the reductions of phases before it, and
the values that later phases read (so no node is computed twice, and random values are drawn
once); between phases the payloads of the allreduce nodes are reduced across ranks.

The level of a node is how many reductions stand between it and the inputs: leaves and nodes
depending on no allreduce are level 0, an allreduce is one more than its payload, any other
node is the highest level of its inputs. Phase p computes the level-p nodes; the last phase
computes the function's outputs and its updates (so updates are stored once, at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.ir import Graph, Node, toposort
from graphc.ops import LEAVES, make_node
from graphc.ops.rebuild import rebuild


@dataclass(frozen=True)
class Phase:
    """One compiled step: `graph`'s inputs are fed from `feeds` (each an original node: a
    function input, an allreduce result or a value an earlier phase produced); its outputs
    are the values of the original nodes `produces` (the last phase: the function's outputs).
    After it runs, `reductions` (allreduce nodes) are reduced from their payloads' values."""

    graph: Graph
    feeds: tuple
    produces: tuple
    reductions: tuple


def levels(roots) -> dict:
    """id(node) -> level (see the module docstring)."""
    level: dict[int, int] = {}
    for node in toposort(roots):
        if node.op in LEAVES:
            level[id(node)] = 0
        elif node.op == "allreduce":
            level[id(node)] = level[id(node.inputs[0])] + 1
        else:
            level[id(node)] = max((level[id(i)] for i in node.inputs), default=0)
    return level


def carried_values(roots, level: dict) -> list:
    """The computed nodes a later phase (or a reduction) reads, each with its level."""
    carried: dict[int, Node] = {}
    for node in toposort(roots):
        for i in node.inputs:
            if i.op not in LEAVES and i.op != "allreduce" and level[id(i)] < level[id(node)]:
                carried[id(i)] = i
    return list(carried.values())


def split(graph: Graph) -> list[Phase]:
    """The phases of `graph` (its gradients already expanded), in the order they run."""
    roots = graph.roots
    level = levels(roots)
    last = max(level[id(r)] for r in roots)
    carried = carried_values(roots, level)
    reductions = [n for n in toposort(roots) if n.op == "allreduce"]
    # a root computed before the last phase reaches it through a placeholder
    final = [n for n in roots if n.op not in LEAVES and level[id(n)] < last]
    carried += [n for n in final if all(n is not c for c in carried)]
    phases = []
    for p in range(last + 1):
        produces = [n for n in carried if level[id(n)] == p] if p < last else list(roots)
        reduced = tuple(r for r in reductions if level[id(r)] == p + 1)
        phases.append(phase_graph(graph, produces, p, level, p == last) + (reduced,))
    return [Phase(*parts) for parts in phases]


def phase_graph(graph: Graph, produces: list, p: int, level: dict, is_last: bool) -> tuple:
    """(graph, feeds, produces) of phase p: nodes of earlier phases become placeholders."""
    substitutes: dict[int, tuple] = {}  # id(original) -> (original, placeholder)

    def earlier(node) -> bool:
        computed = node.op not in LEAVES and level[id(node)] < p
        return computed or (node.op == "allreduce" and level[id(node)] <= p)

    def inputs_of(node):
        return () if earlier(node) else node.inputs

    memo: dict[int, Node] = {}
    for node in toposort(produces, inputs_of):
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

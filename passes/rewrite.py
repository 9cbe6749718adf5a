"""Rewrite rules, tables of them, and the one driver that applies a table to a graph.

A rule is a small named function `node -> replacement node, or None for "no match"`
(tinygrad's pattern rewrites, PyTensor's node rewriters). A `RuleTable` keeps rules in
registration order and hands each node only the rules registered for its op. `rewrite_graph`
rebuilds a graph bottom-up and rewrites every node with the table's rules to a fixed point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.ir import Graph, Node
from graphc.ops.rebuild import transform

MAX_REWRITES_PER_NODE = 64  # rules that never settle are a bug, not a big graph


@dataclass(frozen=True)
class Rule:
    """A named rewrite of the nodes whose op is in `ops` (None: every op).

    `rewrite(node)` returns the replacement or None; a rule registered with
    `uses_context=True` is called as `rewrite(node, context)` (see `RuleTable`).
    """

    rewrite: Callable
    ops: tuple[str, ...] | None
    uses_context: bool = False

    @property
    def name(self) -> str:
        return self.rewrite.__name__

    def __call__(self, node: Node, context=None) -> Node | None:
        if self.ops is not None and node.op not in self.ops:
            return None
        return self.rewrite(node, context) if self.uses_context else self.rewrite(node)


class RuleTable:
    """Rules in registration order (the first that matches a node wins), dispatched by op.

    `context_of(graph)` builds what context-using rules read (e.g. the relus of the graph);
    it is made once per `rewrite_graph` call. `fixed_point=False` rewrites each node at most
    once (for rules whose output they would match again, such as the relu-mask expansion).
    """

    def __init__(self, name: str, context_of: Callable[[Graph], object] = lambda graph: None,
                 fixed_point: bool = True):
        self.name, self.context_of, self.fixed_point = name, context_of, fixed_point
        self.rules: list[Rule] = []
        self._rules_by_op: dict[str, tuple[Rule, ...]] = {}

    def register(self, *ops: str, uses_context: bool = False):
        """Decorator: add the function as a rule for `ops` (no ops given: for every op)."""

        def add(rewrite):
            self.rules.append(Rule(rewrite, ops or None, uses_context))
            self._rules_by_op.clear()
            return rewrite

        return add

    def rules_for(self, op: str) -> tuple[Rule, ...]:
        found = self._rules_by_op.get(op)
        if found is None:
            found = tuple(r for r in self.rules if r.ops is None or op in r.ops)
            self._rules_by_op[op] = found
        return found

    def __repr__(self):
        return f"<RuleTable {self.name}: {', '.join(r.name for r in self.rules)}>"


def rewrite_graph(graph: Graph, table: RuleTable) -> Graph:
    """`graph` rebuilt bottom-up, every node rewritten by `table`'s rules to a fixed point."""
    context = table.context_of(graph)
    return transform(graph, lambda node: rewrite_node(node, table, context))


def rewrite_node(node: Node, table: RuleTable, context=None) -> Node | None:
    """`node` after applying the first matching rule until none matches (once, without
    `table.fixed_point`); None if none did."""
    current = node
    for _ in range(MAX_REWRITES_PER_NODE if table.fixed_point else 1):
        rules = table.rules_for(current.op)
        replacement = first_match(current, rules, context) if rules else None
        if replacement is None:
            return None if current is node else current
        current = replacement
    if not table.fixed_point:
        return current
    raise RuntimeError(
        f"the rules of {table.name} keep rewriting {node!r} (built at "
        f"{node.site}); one of them undoes another"
    )


def first_match(node: Node, rules, context=None) -> Node | None:
    """The replacement from the first of `rules` that matches `node`, else None."""
    for rule in rules:
        replacement = rule.rewrite(node, context) if rule.uses_context else rule.rewrite(node)
        if replacement is not None:
            return replacement
    return None


# ---- helpers rules match with ---------------------------------------------------------------


def constant_value(node: Node):
    """The scalar value of a constant whose elements are all equal, else None."""
    if node.op != "constant":
        return None
    value = node.attr("value").value
    if value.size == 0 or not np.all(value == value.flat[0]):
        return None
    return value.flat[0].item()


def if_same_type(x: Node, node: Node) -> Node | None:
    """x, if replacing node by x changes neither shape nor dtype (no lost broadcast)."""
    return x if x.shape == node.shape and x.dtype == node.dtype else None

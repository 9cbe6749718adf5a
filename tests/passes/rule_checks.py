"""What every rewrite rule is checked for (used by test_simplify.py and test_expand.py): its
smallest matching graph is rewritten to the expected structure with the same values under the
NumPy interpreter, a near miss is left alone (None), and its docstring states its identity."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numpy_backend import Interpreter
from passes.rewrite import Rule, RuleTable, constant_value


@dataclass(frozen=True)
class RuleCase:
    """`build(x)` and `miss(x)` return output nodes; the first is the node given to the rule."""

    build: Callable
    expected: str  # the replacement of build's first output, as `sexpr` writes it
    miss: Callable
    shape: tuple = (2, 3)


def sexpr(node) -> str:
    """A node as 'op(input, ...)': placeholders by name, uniform constants by value."""
    if node.op == "placeholder":
        return node.name
    if node.op == "constant":
        value = constant_value(node)
        return "const" if value is None else f"{value:g}"
    return f"{node.op}({', '.join(sexpr(i) for i in node.inputs)})"


def case_graph(build: Callable, shape: tuple) -> gc.Graph:
    x = gc.placeholder(shape, "float64", "x")
    return gc.Graph((x,), tuple(build(x)))


def check_rewrite(table: RuleTable, rule: Rule, case: RuleCase):
    """The rule alone rewrites build's first output to `expected`, with the same values."""
    before = case_graph(case.build, case.shape)
    node = before.outputs[0]
    replacement = rule(node, table.context_of(before))
    assert replacement is not None, f"{rule.name} left {sexpr(node)} alone"
    assert sexpr(replacement) == case.expected
    after = before.with_roots((replacement,) + before.outputs[1:])
    x = np.random.default_rng(0).standard_normal(case.shape)
    np.testing.assert_allclose(Interpreter(after)(x)[0], Interpreter(before)(x)[0], rtol=1e-12)


def check_miss(table: RuleTable, rule: Rule, case: RuleCase):
    """The rule returns None for miss's first output."""
    graph = case_graph(case.miss, case.shape)
    assert rule(graph.outputs[0], table.context_of(graph)) is None


def check_docstring(rule: Rule):
    """A one-line docstring stating the identity, e.g. 'x * 1 -> x'."""
    doc = rule.rewrite.__doc__ or ""
    assert "->" in doc and "\n" not in doc.strip(), f"{rule.name}: {doc!r}"


def rules_with_tables(*tables: RuleTable) -> list:
    """pytest parameters (table, rule) for every rule of `tables`, named by the rule."""
    return [pytest.param(t, r, id=r.name) for t in tables for r in t.rules]

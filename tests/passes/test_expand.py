"""Composite expansions (passes.expand): each rule alone, on its smallest matching graph."""

import numpy as np
import pytest

import graphc as gc
from passes.expand import EXPANSIONS, expand_composites
from tests.passes.rule_checks import (
    RuleCase,
    check_docstring,
    check_miss,
    check_rewrite,
    rules_with_tables,
)

SHIFTED = "sub(x, max(x))"

CASES = {
    "expand_softmax": RuleCase(
        lambda x: [gc.softmax(x)],
        f"div(exp({SHIFTED}), sum(exp({SHIFTED})))",
        miss=lambda x: [gc.exp(x)],
    ),
    "expand_log_softmax": RuleCase(
        lambda x: [gc.log_softmax(x)],
        f"sub({SHIFTED}, log(sum(exp({SHIFTED}))))",
        miss=lambda x: [gc.exp(x)],
    ),
    "integer_mean_in_float64": RuleCase(
        lambda x: [gc.mean(gc.cast(x * 1000.0, "int32"), axis=0)],
        "cast(mean(cast(cast(mul(x, 1000)))))",
        miss=lambda x: [gc.mean(x, axis=0)],
    ),
    "relu_mask_reads_relu_output": RuleCase(
        lambda x: [x > 0.0, gc.relu(x)],
        "greater(relu(x), 0)",
        miss=lambda x: [x > 0.0],  # no relu(x) in the graph to read
    ),
}


def test_every_expansion_has_a_case():
    assert sorted(r.name for r in EXPANSIONS.rules) == sorted(CASES)


@pytest.mark.parametrize("table, rule", rules_with_tables(EXPANSIONS))
def test_expansion_rewrites_its_smallest_graph(table, rule):
    check_rewrite(table, rule, CASES[rule.name])


@pytest.mark.parametrize("table, rule", rules_with_tables(EXPANSIONS))
def test_expansion_leaves_a_near_miss_alone(table, rule):
    check_miss(table, rule, CASES[rule.name])


@pytest.mark.parametrize("table, rule", rules_with_tables(EXPANSIONS))
def test_expansion_states_its_identity(table, rule):
    check_docstring(rule)


def test_relu_mask_needs_a_scalar_zero():
    (rule,) = [r for r in EXPANSIONS.rules if r.name == "relu_mask_reads_relu_output"]
    x = gc.placeholder((2,), "float64", "x")
    graph = gc.Graph((x,), (gc.greater(x, gc.constant([0.0, 0.0], "float64")), gc.relu(x)))
    assert rule(graph.outputs[0], EXPANSIONS.context_of(graph)) is None


def test_each_relu_mask_is_rewritten_once():
    """x > 0 reads relu(x), and relu(x) > 0 reads relu(relu(x)), once each (not again)."""
    x = gc.placeholder((3,), "float64", "x")
    inner = gc.relu(x)
    graph = gc.Graph((x,), (x > 0.0, inner > 0.0, gc.relu(inner)))
    expanded = expand_composites(graph).outputs
    first, second, outer = expanded
    assert first.inputs[0].op == "relu" and first.inputs[0].inputs[0].op == "placeholder"
    assert second.inputs[0] is outer


def test_deeply_nested_relus_expand():
    x = h = gc.placeholder((3,), "float64", "x")
    for _ in range(70):
        h = gc.relu(h)
    gx = gc.grad(gc.sum(h), x)
    f = gc.function([x], gx, backend="llvm")
    assert f(np.array([-1.0, 0.5, 2.0])).tolist() == [0.0, 1.0, 1.0]

"""The rule machinery (passes.rewrite): dispatch by op in registration order, rewriting to a
fixed point, context for the rules that ask for it, and the helpers rules match with."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops import call
from passes.rewrite import RuleTable, constant_value, if_same_type, rewrite_graph, rewrite_node


def graph_of(*outputs):
    return gc.Graph((), tuple(outputs))


def test_the_first_registered_rule_that_matches_wins():
    table = RuleTable("toy")
    table.register("exp")(lambda node: None)  # registered first, never matches
    table.register("exp")(lambda node: call("abs", node.inputs[0]))
    table.register("exp")(lambda node: call("neg", node.inputs[0]))
    x = gc.vector("x")
    assert rewrite_node(gc.exp(x), table).op == "abs"


def test_a_rule_sees_only_the_ops_it_is_registered_for():
    seen = []
    table = RuleTable("toy")
    rule = table.register("exp")(lambda node: seen.append(node.op))
    x = gc.vector("x")
    rewrite_graph(graph_of(gc.log(gc.exp(x))), table)
    assert seen == ["exp"]
    assert table.rules[0](gc.log(x)) is None and rule is table.rules[0].rewrite


def test_a_rule_without_ops_sees_every_node():
    seen = []
    table = RuleTable("toy")
    table.register()(lambda node: seen.append(node.op))
    x = gc.vector("x")
    rewrite_graph(graph_of(gc.log(gc.exp(x))), table)
    assert seen == ["placeholder", "exp", "log"]


def test_replacements_are_rewritten_until_no_rule_matches():
    table = RuleTable("toy")
    table.register("exp")(lambda node: call("neg", node.inputs[0]))
    table.register("neg")(lambda node: call("abs", node.inputs[0]))
    x = gc.vector("x")
    out = rewrite_graph(graph_of(gc.exp(x) + 1), table).outputs[0]
    assert out.op == "add" and out.inputs[0].op == "abs" and out.inputs[0].inputs[0] is x


def test_rules_that_undo_each_other_are_reported():
    table = RuleTable("seesaw")
    table.register("exp")(lambda node: call("neg", node.inputs[0]))
    table.register("neg")(lambda node: call("exp", node.inputs[0]))
    with pytest.raises(RuntimeError, match="seesaw keep rewriting"):
        rewrite_graph(graph_of(gc.exp(gc.vector("x"))), table)


def test_an_unmatched_graph_keeps_its_nodes():
    x = gc.vector("x")
    out = gc.tanh(x)
    assert rewrite_graph(graph_of(out), RuleTable("empty")).outputs[0] is out
    assert rewrite_node(out, RuleTable("empty")) is None


def test_context_rules_get_what_the_table_builds_from_the_graph():
    table = RuleTable("toy", context_of=lambda graph: len(graph.outputs))
    table.register("exp", uses_context=True)(lambda node, n: call("neg", node) if n == 2 else None)
    x = gc.vector("x")
    one, two = graph_of(gc.exp(x)), graph_of(gc.exp(x), x)
    assert rewrite_graph(one, table).outputs[0].op == "exp"
    assert rewrite_graph(two, table).outputs[0].op == "neg"


def test_constant_value_is_the_value_of_uniform_constants_only():
    assert constant_value(gc.constant(np.full((2, 2), 3.0))) == 3.0
    assert constant_value(gc.constant(np.array([1.0, 2.0]))) is None
    assert constant_value(gc.constant(np.zeros((0,)))) is None
    assert constant_value(gc.vector("x")) is None


def test_if_same_type_refuses_a_replacement_that_loses_a_broadcast():
    x, y = gc.placeholder((1,)), gc.placeholder((3,))
    assert if_same_type(x, x + y) is None
    assert if_same_type(y, x + y) is y
    assert if_same_type(y, gc.cast(y, "float64")) is None

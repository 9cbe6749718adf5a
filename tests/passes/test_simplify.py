"""Simplification passes: each rule on its own, and hypothesis-generated random expressions
that must give the same values before and after the whole simplify pipeline."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphc as gc
from graphc.backends.numpy_backend import Interpreter
from passes import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    simplify,
    simplify_algebra,
)
from passes.simplify import ALGEBRA, FOLDING
from tests.fuzz.profiles import examples
from tests.passes.rule_checks import (
    RuleCase,
    check_docstring,
    check_miss,
    check_rewrite,
    rules_with_tables,
)


def graph_of(*outputs, inputs=()):
    return gc.Graph(tuple(inputs), tuple(outputs))


def test_algebraic_identities_disappear():
    x = gc.vector("x")
    g = simplify_algebra(graph_of(((x * 1) + 0 - 0) / 1, -(-x), gc.cast(x, "float32")))
    assert all(o is x for o in g.outputs)


def test_identity_that_broadcasts_is_kept():
    x = gc.placeholder((1,))
    ones = gc.constant(np.ones((3,), "float32"))
    g = simplify_algebra(graph_of(x * ones))
    assert g.outputs[0].op == "mul"


def test_log_softmax_is_stabilised():
    x = gc.matrix("x")
    g = simplify(graph_of(gc.log(gc.softmax(x)), inputs=[x]))
    assert g.outputs[0].op == "log_softmax"
    big = np.array([[1000.0, 0.0]], "float32")
    assert np.isfinite(Interpreter(g)(big)[0]).all()


def test_common_subexpressions_merge():
    x = gc.vector("x")
    g = eliminate_common_subexpressions(graph_of(gc.exp(x) + gc.exp(x)))
    a, b = g.outputs[0].inputs
    assert a is b


def test_constants_fold():
    g = fold_constants(graph_of(gc.exp(gc.constant(np.zeros(3, "float32"))) * 2))
    assert g.outputs[0].op == "constant"
    np.testing.assert_array_equal(g.outputs[0].attr("value").value, [2, 2, 2])


def test_dead_updates_are_dropped():
    w = gc.shared(np.zeros(2, "float32"))
    g = eliminate_dead_code(gc.Graph((), (), ((w, w),)))
    assert g.updates == ()


CASES = {
    "fold_constant_inputs": RuleCase(
        lambda x: [gc.exp(gc.constant(np.zeros(3)))], "1", miss=lambda x: [gc.exp(x)]
    ),
    "multiply_by_one": RuleCase(lambda x: [1 * x], "x", miss=lambda x: [x * 2]),
    "add_zero": RuleCase(lambda x: [x + 0], "x", miss=lambda x: [x + 1]),
    "subtract_zero": RuleCase(lambda x: [x - 0], "x", miss=lambda x: [0 - x]),
    "divide_by_one": RuleCase(lambda x: [x / 1], "x", miss=lambda x: [1 / x]),
    "power_of_one": RuleCase(lambda x: [x**1], "x", miss=lambda x: [x**3]),
    "power_of_two_is_square": RuleCase(lambda x: [x**2], "square(x)", miss=lambda x: [x**3]),
    "double_negation": RuleCase(lambda x: [-(-x)], "x", miss=lambda x: [-gc.exp(x)]),
    "cast_to_own_dtype": RuleCase(
        lambda x: [gc.apply("cast", x, dtype="float64")],
        "x",
        miss=lambda x: [gc.cast(x, "float32")],
    ),
    "exact_round_trip": RuleCase(  # y = cast(x) is float32: its float64 round trip is y
        lambda x: [gc.cast(gc.cast(gc.cast(x, "float32"), "float64"), "float32")],
        "cast(x)",
        miss=lambda x: [gc.cast(gc.cast(x, "float32"), "float64")],  # x's digits are lost
    ),
    "reshape_to_own_shape": RuleCase(
        lambda x: [gc.apply("reshape", x, shape=(2, 3))],
        "x",
        miss=lambda x: [gc.reshape(x, (3, 2))],
    ),
    "identity_transpose": RuleCase(
        lambda x: [gc.transpose(x, (0, 1))], "x", miss=lambda x: [gc.transpose(x)]
    ),
    "stable_log_softmax": RuleCase(
        lambda x: [gc.log(gc.softmax(x))], "log_softmax(x)", miss=lambda x: [gc.log(gc.exp(x))]
    ),
    "pool_inside_quantized_conv": RuleCase(  # passes/quant_pool.py
        lambda x: [gc.max_pool2d(quantized_1x1(x), 2)], "quantized_conv2d(x, 1, 1)",
        miss=lambda x: [gc.max_pool2d(quantized_1x1(x), 2, strides=1)], shape=(2, 4, 4, 3)
    ),
}


def quantized_1x1(x):
    ones = gc.constant(np.ones((1, 16, 4), np.int8)), gc.constant(np.ones(5))
    return gc.quantized_conv(x, *ones, kernel_size=(1, 1))
TABLES = (FOLDING, ALGEBRA)


def test_every_rule_has_a_case():
    assert sorted(r.name for t in TABLES for r in t.rules) == sorted(CASES)


@pytest.mark.parametrize("table, rule", rules_with_tables(*TABLES))
def test_rule_rewrites_its_smallest_graph(table, rule):
    check_rewrite(table, rule, CASES[rule.name])


@pytest.mark.parametrize("table, rule", rules_with_tables(*TABLES))
def test_rule_leaves_a_near_miss_alone(table, rule):
    check_miss(table, rule, CASES[rule.name])


@pytest.mark.parametrize("table, rule", rules_with_tables(*TABLES))
def test_rule_states_its_identity(table, rule):
    check_docstring(rule)


def test_identities_that_would_lose_a_broadcast_are_kept():
    x = gc.placeholder((1,), "float64", "x")
    zeros, ones = gc.constant(np.zeros(3)), gc.constant(np.ones(3))
    for node in (x + zeros, x - zeros, x * ones, x / ones, x**ones, x ** (2 * ones)):
        assert simplify_algebra(graph_of(node)).outputs[0] is node


UNARY = ["neg", "exp", "tanh", "sigmoid", "relu", "softplus", "abs"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]


@st.composite
def expressions(draw, depth=4):
    """A random expression over two inputs, with identities sprinkled in for the rules."""
    x, y = gc.placeholder((3, 4), "float64", "x"), gc.placeholder((4,), "float64", "y")
    pool = [x, y, gc.constant(1.0, "float64"), gc.constant(0.0, "float64")]
    for _ in range(draw(st.integers(1, depth * 3))):
        kind = draw(st.sampled_from(["unary", "binary", "identity", "reduce"]))
        a = draw(st.sampled_from(pool))
        if kind == "unary":
            pool.append(gc.apply(draw(st.sampled_from(UNARY)), a))
        elif kind == "binary":
            pool.append(gc.apply(draw(st.sampled_from(BINARY)), a, draw(st.sampled_from(pool))))
        elif kind == "identity":
            pool.append(draw(st.sampled_from([a * 1, a + 0, -(-a), a / 1, a**1, a**2])))
        else:
            pool.append(gc.sum(a, axis=-1, keepdims=True) if a.ndim else a)
    return x, y, pool[-1], pool[-2]


@examples(60)
@given(expressions(), st.integers(0, 2**31))
def test_simplify_preserves_values(expr, seed):
    x, y, out1, out2 = expr
    rng = np.random.default_rng(seed)
    xv, yv = rng.standard_normal((3, 4)), rng.standard_normal(4)
    before = graph_of(out1, out2, out1, inputs=[x, y])
    after = simplify(before)
    for a, b in zip(Interpreter(before)(xv, yv), Interpreter(after)(xv, yv)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert len(after.nodes()) <= len(before.nodes())

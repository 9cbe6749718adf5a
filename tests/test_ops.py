"""The op table, parametrised: every op has cases; shape/dtype rules agree with the NumPy
reference; every differentiable op's gradient agrees with finite differences in float64."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops import (
    ELEMENTWISE,
    FUSION_CLASSES,
    LEAVES,
    LOOP_OPS,
    OPS,
    REDUCTIONS,
    VIEWS,
    data_inputs,
    defop,
    make_node,
)
from graphc.testing import OP_CASES, UNCOMPUTED, build_case, check_gradient

COMPUTED = sorted(set(OPS) - UNCOMPUTED)
ALL_CASES = [(op, i) for op in sorted(OP_CASES) for i in range(len(OP_CASES[op]))]
GRAD_CASES = [(op, i) for op, i in ALL_CASES if OP_CASES[op][i].grad]


@pytest.mark.parametrize("op", COMPUTED)
def test_every_op_has_cases(op):
    assert OP_CASES.get(op), f"op {op!r} has no test case (defop(..., cases=...) in its entry)"


@pytest.mark.parametrize("op", [op for op in COMPUTED if OPS[op].differentiable])
def test_every_differentiable_op_has_a_gradient_case(op):
    assert any(c.grad for c in OP_CASES.get(op, [])), f"op {op!r} has no gradient check"


def test_cases_name_only_real_ops():
    assert not set(OP_CASES) - set(OPS)


@pytest.mark.parametrize("op", ELEMENTWISE)
def test_every_elementwise_op_has_a_0d_case(op):
    """0-d scalars are where NumPy returns Python scalars instead of arrays (issue 10, defect 6)."""
    assert any(all(s.shape == () for s in c.inputs) for c in OP_CASES[op]), op


@pytest.mark.parametrize("approximate", [False, True])
def test_0d_erf_and_gelu_run_in_the_interpreter_and_compare(approximate):
    x = gc.placeholder((), "float64")
    outputs = [gc.erf(x), gc.gelu(x, approximate=approximate)]
    got = gc.function([x], outputs, backend="numpy")(np.float64(0.3))
    assert [g.shape for g in got] == [(), ()]
    assert gc.compare([x], outputs, args=[np.float64(0.3)]).ok()


@pytest.mark.parametrize("op,i", ALL_CASES)
def test_shape_rule_matches_reference(op, i):
    spec = OP_CASES[op][i]
    values = spec.sample(np.random.default_rng(1), "float32")
    _, node = build_case(op, spec, "float32")
    result = np.asarray(OPS[op].impl(*values, **spec.attrs))
    assert result.shape == node.shape
    assert result.dtype == np.dtype(node.dtype)


@pytest.mark.parametrize("op,i", ALL_CASES)
def test_shape_rule_with_runtime_batch(op, i):
    """With the first input's batch unknown, the rule keeps every dimension it can know."""
    spec = OP_CASES[op][i]
    _, static = build_case(op, spec)
    _, dynamic = build_case(op, spec, batch=True)
    assert len(dynamic.shape) == len(static.shape)
    assert all(d is None or d == s for d, s in zip(dynamic.shape, static.shape))


@pytest.mark.parametrize("op,i", GRAD_CASES)
def test_gradient_matches_finite_differences(op, i):
    errors = check_gradient(op, OP_CASES[op][i])
    assert errors and max(errors) < 1e-6, f"{op}: relative errors {errors}"


# ---- the entry's other facts: fusion class, shape-only inputs, FLOPs; sets derived from them --


def test_every_op_has_a_known_fusion_class_and_a_flop_count():
    for name, op in OPS.items():
        assert op.fusion in FUSION_CLASSES, name
        assert callable(op.flops), name


def test_sets_of_ops_are_derived_from_the_table():
    assert LEAVES == ("placeholder", "shared", "constant")
    assert REDUCTIONS == ("sum", "mean", "max", "min")
    assert "one_hot" not in ELEMENTWISE and "argmax" not in REDUCTIONS
    assert set(LOOP_OPS) == set(ELEMENTWISE) | set(REDUCTIONS) | {"random_uniform"}
    assert set(VIEWS) == {"reshape", "transpose", "expand_dims", "broadcast_to",
                          "broadcast_like", "getitem"}
    assert all(OPS[op].dims is not None for op in ELEMENTWISE)


def test_data_inputs_leave_out_inputs_read_for_their_shape():
    x, like = gc.placeholder((3, 1)), gc.placeholder((2, 3, 4))
    assert data_inputs(make_node("broadcast_like", [x, like])) == [x]
    assert data_inputs(x + like) == [x, like]


def test_flops_come_from_the_entries():
    a, b = gc.placeholder((3, 4)), gc.placeholder((4, 5))
    nodes = {"matmul": gc.matmul(a, b), "sum": gc.sum(a), "exp": gc.exp(a), "add": a + a,
             "reshape": a.reshape(12)}
    shape_of = lambda node: node.shape  # noqa: E731
    counts = {name: OPS[node.op].flops(node, shape_of) for name, node in nodes.items()}
    assert counts == {"matmul": 2 * 3 * 5 * 4, "sum": 12, "exp": 120, "add": 12, "reshape": 0}


def test_defop_refuses_a_second_definition_and_an_unknown_fusion_class():
    with pytest.raises(ValueError, match="defined twice"):
        defop("exp", infer=None, impl=None, fusion="elementwise")
    with pytest.raises(ValueError, match="fusion 'loop' is not one of"):
        defop("no_such_op", infer=None, impl=None, fusion="loop")
    assert "no_such_op" not in OPS

"""The op table, parametrised: every op has cases; shape/dtype rules agree with the NumPy
reference; every differentiable op's gradient agrees with finite differences in float64."""

import numpy as np
import pytest

from graphc.ops import OPS
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

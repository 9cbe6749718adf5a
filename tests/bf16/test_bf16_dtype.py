"""bfloat16 as an IR dtype: rounding to nearest even, casts both ways and every elementwise op,
bit for bit equal between the interpreter (ml_dtypes) and llvm, special values included."""

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from graphc.bfloat16 import round_bits
from graphc.ops import ELEMENTWISE, OPS
from graphc.testing import OP_CASES, build_case

# NaN cast to an integer warns in NumPy; the tests check the result, the minimum integer
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
BF16 = ml_dtypes.bfloat16
BACKENDS = ("numpy", "llvm")


def special_floats() -> np.ndarray:
    """Ties, NaNs with payloads, infinities, denormals, extremes, and random bit patterns."""
    patterns = [0x3F808000, 0x3F818000, 0x3F80FFFF, 0x3F807FFF, 0x7FC00001, 0xFFA00000,
                0x7F80FFFF, 0x7F800000, 0xFF800000, 0x00000001, 0x00008000, 0x80018000,
                0x007FFFFF, 0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0x80000000, 0x00000000]
    rng = np.random.default_rng(0)
    randoms = rng.integers(0, 2**32, 257, dtype=np.uint64)
    return np.concatenate([np.array(patterns, np.uint64), randoms]).astype(np.uint32).view(
        np.float32)


def bits(array) -> np.ndarray:
    return np.asarray(array).reshape(-1).view(np.uint16)


def raw(array) -> np.ndarray:
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def test_integer_rounding_is_what_ml_dtypes_does():
    x = special_floats()
    assert np.array_equal(round_bits(x), bits(x.astype(BF16)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [1, 7, 33, 257])
def test_cast_float32_to_bfloat16_rounds_to_nearest_even(backend, size):
    x = gc.placeholder((None,), "float32")
    f = gc.function([x], gc.cast(x, "bfloat16"), backend=backend)
    values = special_floats()[-size:] if size > 20 else special_floats()[:size]
    assert np.array_equal(bits(f(values)), round_bits(values))


@pytest.mark.parametrize("backend", BACKENDS)
def test_casts_both_ways_with_every_dtype(backend):
    x = gc.placeholder((None,), "bfloat16")
    ins = {d: gc.placeholder((None,), d) for d in ("float64", "int32", "int64", "bool")}
    outs = [gc.cast(x, d) for d in ("float32", "float64", "int32", "int64", "bool")]
    outs += [gc.cast(p, "bfloat16") for p in ins.values()]
    f = gc.function([x, *ins.values()], outs, backend=backend)
    floats = special_floats()[:40].astype(BF16)
    wide = np.array([1 + 2.0**-8 + 2.0**-30, 1e-40, -3e38, np.nan] * 10)
    ints = np.array([16842753, -7, 2**31 - 1, 0] * 10)
    got = f(floats, wide, ints.astype(np.int32), ints, ints % 2 == 0)
    expected = [floats.astype(d) for d in ("float32", "float64", "int32", "int64", "bool")]
    expected += [wide.astype(BF16), ints.astype(np.int32).astype(BF16), ints.astype(BF16),
                 (ints % 2 == 0).astype(BF16)]
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        assert np.array_equal(raw(g), raw(e))


def float_cases():
    """(op, case index) of every elementwise op case with float inputs or a float result."""
    for op in ELEMENTWISE:
        for i, spec in enumerate(OP_CASES.get(op, [])):
            if any(s.dtype.startswith("float") for s in spec.inputs):
                yield op, i


def run_case(op, i, backend):
    spec = OP_CASES[op][i]
    placeholders, node = build_case(op, spec, "bfloat16")
    rng = np.random.default_rng(3)
    values = [s.sample(rng, "bfloat16") for s in spec.inputs]
    return gc.function(placeholders, node, backend=backend)(*values)


@pytest.mark.parametrize("op,i", sorted(float_cases()))
def test_every_elementwise_op_is_bit_exact_between_backends(op, i):
    reference, compiled = run_case(op, i, "numpy"), run_case(op, i, "llvm")
    assert compiled.dtype == reference.dtype
    assert np.array_equal(raw(compiled), raw(reference))


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_op_rounds_its_result_once_inside_a_fused_kernel(backend):
    x = gc.placeholder((None,), "bfloat16")
    f = gc.function([x], (x * 3 + 1) * x, backend=backend)
    values = special_floats()[40:].astype(BF16)
    wide = values.astype(np.float32)
    step1 = (wide * 3).astype(BF16).astype(np.float32)
    step2 = (step1 + 1).astype(BF16).astype(np.float32)
    assert np.array_equal(bits(f(values)), bits((step2 * wide).astype(BF16)))


def test_reductions_refuse_bfloat16_with_the_op_and_a_fix():
    x = gc.placeholder((3, 4), "bfloat16")
    with pytest.raises(gc.DtypeError, match=r"sum does not compute in bfloat16.*gc.cast") as err:
        gc.sum(x)
    assert "test_bf16_dtype.py" in str(err.value)


def test_views_keep_bfloat16_bits():
    x = gc.placeholder((3, 4), "bfloat16")
    outs = [x.T, x.reshape(12), x[1:, ::2]]
    values = special_floats()[:12].reshape(3, 4).astype(BF16)
    got = gc.function([x], outs)(values)
    for g, e in zip(got, [values.T, values.reshape(12), values[1:, ::2]]):
        assert np.array_equal(bits(g), bits(e))


def test_op_table_accepts_bfloat16_for_every_elementwise_float_op():
    assert {op for op, _ in float_cases()} <= set(OPS)

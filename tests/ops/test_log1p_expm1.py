"""log1p and expm1 (added by following docs/adding-an-op.md): the LLVM kernels agree with the
interpreter on odd sizes, stay accurate for tiny x (not log(1 + x) naively), and the gradients
agree with finite differences."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops import OPS
from graphc.testing import check_gradient

TINY = [0.0, -0.0, 1e-10, -1e-10, 1e-30, 3e-8, -3e-8, 1e-5]
SPECIAL = [-1.0, -2.0, np.inf, -np.inf, np.nan, 50.0, -50.0, 1e30]
ULPS = 4  # measured: 2 in both dtypes over 1e3 points in [1e-12, 30] and the values above


def sample(size, dtype):
    x = np.random.default_rng(size).standard_normal(size) * np.logspace(-12, 1.4, size)
    x[: min(size, len(TINY))] = TINY[:size]
    return x.astype(dtype)


def within_ulps(got, want, dtype):
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    err = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(dtype))
    return bool(np.all(same | (err <= ULPS)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [1, 7, 33, 257])
def test_llvm_matches_interpreter_and_numpy(size, dtype):
    x = gc.placeholder((None,), dtype)
    outs = [gc.log1p(x), gc.expm1(x)]
    compiled, interpreted = gc.function([x], outs), gc.function([x], outs, backend="numpy")
    values = sample(size, dtype)
    for got, want, ref in zip(compiled(values), interpreted(values), (np.log1p, np.expm1)):
        assert got.dtype == want.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(want, ref(values))
        assert within_ulps(got, ref(values), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tiny_and_special_values(dtype):
    x = gc.placeholder((None,), dtype)
    f = gc.function([x], [gc.log1p(x), gc.expm1(x)])
    values = np.array(TINY + SPECIAL, dtype=dtype)
    got_log1p, got_expm1 = f(values)
    with np.errstate(all="ignore"):
        assert within_ulps(got_log1p, np.log1p(values), dtype)
        assert within_ulps(got_expm1, np.expm1(values), dtype)
    # x = 1e-10: log(1 + x) naively is 0 in float32 and 1e-7 off (relative) in float64
    rtol = 1e-6 if dtype == "float32" else 1e-9
    np.testing.assert_allclose([got_log1p[2], got_expm1[2]], values[2], rtol=rtol)


@pytest.mark.parametrize("op", ["log1p", "expm1"])
def test_gradient_matches_finite_differences(op):
    for spec in OPS[op].cases:
        assert max(check_gradient(op, spec)) < 1e-6

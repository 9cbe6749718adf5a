"""Integer reductions and casts on llvm match the interpreter (NumPy) exactly (issue 10): an
integer mean accumulates in float64, as NumPy's does, so an int32 sum inside it never
overflows; float-to-int casts of NaN and of values out of range give the integer minimum, as
NumPy's astype does on x86 (LLVM's own conversion leaves them undefined)."""

import warnings

import numpy as np
import pytest

import graphc as gc

BACKENDS = ["llvm", "numpy"]
INT32_MAX = 2**31 - 1


def both(inputs, output):
    return [gc.function(inputs, output, backend=b) for b in BACKENDS]


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("op", ["mean", "sum"])
@pytest.mark.parametrize("values", [[2**30] * 10, [INT32_MAX] * 3, [-7, 2], [-(2**31)] * 5, []])
def test_integer_mean_and_sum_of_large_values_agree(dtype, op, values):
    x = gc.placeholder((None,), dtype)
    data = np.array(values, dtype)
    with warnings.catch_warnings():  # the mean of nothing: NumPy warns
        warnings.simplefilter("ignore", RuntimeWarning)
        got, want = (f(data) for f in both([x], getattr(gc, op)(x)))
    assert got.dtype == want.dtype == dtype
    assert got == want
    if op == "mean" and values:
        assert got == np.trunc(np.mean(np.array(values, "float64")))


@pytest.mark.parametrize("keepdims", [False, True])
def test_integer_mean_over_one_axis_of_a_matrix(keepdims):
    x = gc.placeholder((None, 3), "int32")
    data = np.array([[2**30, -5, 7]] * 9 + [[2**30, -6, 1]], "int32")
    got, want = (f(data) for f in both([x], gc.mean(x, axis=0, keepdims=keepdims)))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, np.mean(data, 0, keepdims=keepdims).astype("int32"))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_float_to_int_casts_of_nan_inf_and_huge_values(dtype):
    x = gc.placeholder((None,), "float64")
    data = np.array([np.nan, np.inf, -np.inf, 1e20, -1e20, -2.7, 2.7, 0.0])
    with warnings.catch_warnings():  # NumPy warns of the invalid casts
        warnings.simplefilter("ignore", RuntimeWarning)
        got, want = (f(data) for f in both([x], gc.cast(x, dtype)))
    np.testing.assert_array_equal(got, want)
    assert got[0] == np.iinfo(dtype).min

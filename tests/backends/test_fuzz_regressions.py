"""Regression tests of the compiler bugs the fuzzer (tests/fuzz) found in issue 10: each
reproducer, with its gradient, compiled on llvm and compared with the interpreter."""

import warnings

import numpy as np
import pytest

import graphc as gc


def assert_backends_agree(inputs, outputs, values):
    expected = gc.function(inputs, outputs, backend="numpy")(*values)
    got = gc.function(inputs, outputs, backend="llvm")(*values)
    for e, g in zip(expected, got):
        assert np.asarray(g).dtype == np.asarray(e).dtype
        np.testing.assert_allclose(g, e, rtol=1e-6)


# -- fuzz bug A: mean of an integer tensor ------------------------------------------------

@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("axis", [None, (1,)])
def test_mean_of_integers_truncates_as_the_interpreter(dtype, axis):
    x = gc.placeholder((2, 3), dtype=dtype)
    values = np.array([[1, 2, 4], [-7, 0, -2]], dtype)
    assert_backends_agree([x], [gc.mean(x, axis=axis)], [values])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("rows", [0, 1, 5])
def test_mean_of_integers_over_a_run_time_axis_agrees_with_the_interpreter(dtype, rows):
    x = gc.placeholder((None, 3), dtype=dtype)
    values = np.arange(-7, 3 * rows - 7, dtype=dtype).reshape(rows, 3)
    with warnings.catch_warnings():  # the mean of nothing is NaN, as NumPy warns
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_backends_agree([x], [gc.mean(x, axis=(0,)), gc.mean(x * 3, axis=None)], [values])

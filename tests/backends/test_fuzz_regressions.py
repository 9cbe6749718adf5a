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


# -- fuzz bugs C and D: gradients through reshapes of one-element values ---------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reshape_of_negated_one_element_matrix_with_its_gradient(dtype):
    x = gc.placeholder((1, 1), dtype=dtype)
    y = gc.reshape(-x, (-1,))
    outputs = [y, *gc.grad(gc.sum(y), [x], disconnected="zeros")]
    assert_backends_agree([x], outputs, [np.full((1, 1), 3, dtype)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_of_where_over_a_reshaped_scalar(dtype):
    a = gc.placeholder((), dtype=dtype)
    b = gc.placeholder((), dtype=dtype)
    y = gc.where(a < b, gc.reshape(a, (-1,)), 0)
    outputs = [y, *gc.grad(gc.sum(y), [a, b], disconnected="zeros")]
    assert_backends_agree([a, b], outputs, [np.asarray(1.5, dtype), np.asarray(2, dtype)])


# -- fuzz bug E: gradient through a reshape of a run-time-sized row ---------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("columns", [1, 4])
def test_gradient_through_reshape_of_a_run_time_sized_row(dtype, columns):
    x = gc.placeholder((1, None), dtype=dtype)
    y = gc.reshape(x * x, (1, -1))
    outputs = [y, *gc.grad(gc.sum(y), [x], disconnected="zeros")]
    assert_backends_agree([x], outputs, [np.arange(columns, dtype=dtype).reshape(1, -1)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduce", [gc.sum, gc.mean])
def test_a_sum_keeps_the_nan_of_inf_minus_inf(dtype, reduce):
    """Bug H (explore run of stop 20): sum(x - x) was 0 on llvm for x = inf, NumPy's is nan:
    LLVM had folded the element's arithmetic into the reassociated accumulation."""
    x, y = gc.placeholder((None,), dtype), gc.placeholder((None,), dtype)
    values = [np.array([np.inf, 1.0, 2.0], dtype), np.array([np.inf, -np.inf, 3.0], dtype)]
    outputs = [reduce(x - x), reduce((x + y) - y), reduce(x * 0.0), reduce(x - x, axis=0)]
    assert_backends_agree([x, y], outputs, values)

"""Run-time sizes of 1 broadcast as in NumPy on both backends (issue 10): a call in which an
input's None size is 1 and broadcasts runs a program compiled for that size 1 (graphc/size_one.py),
kept for later calls with the same sizes of 1; ordinary sizes keep the first program."""

import numpy as np
import pytest

import graphc as gc
from graphc.testing import numeric_gradient

BACKENDS = ["llvm", "numpy"]


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def sum_of_products():
    x, y = gc.placeholder((None, 3), "float64"), gc.placeholder((None, 3), "float64")
    loss = gc.sum(gc.tanh(x * y + y))
    return [x, y], loss


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows", [(4, 1), (1, 4), (1, 1), (5, 5)])
def test_values_and_gradients_agree_with_numpy_and_finite_differences(backend, rows):
    (x, y), loss = sum_of_products()
    f = gc.function([x, y], [x * y + y, loss, *gc.grad(loss, [x, y])], backend=backend)
    a, b = data(rows[0], 3), data(rows[1], 3, seed=1)
    out, value, gx, gy = f(a, b)
    np.testing.assert_allclose(out, a * b + b, rtol=1e-12)
    assert np.isclose(value, np.tanh(a * b + b).sum())
    assert gx.shape == a.shape and gy.shape == b.shape  # summed over the broadcast axis

    def total(values):
        return np.tanh(values[0] * values[1] + values[1]).sum()

    np.testing.assert_allclose(gx, numeric_gradient(total, [a, b], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gy, numeric_gradient(total, [a, b], 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_time_one_against_a_static_size_has_the_right_gradient(backend):
    x = gc.placeholder((None, 4), "float64")
    w = gc.shared(data(3, 4))
    gx = gc.grad(gc.sum(gc.square(x + w)), x)
    f = gc.function([x], [x + w, gx], backend=backend)
    a = data(1, 4, seed=2)
    out, got = f(a)
    np.testing.assert_allclose(out, a + w.get_value())
    np.testing.assert_allclose(got, (2 * (a + w.get_value())).sum(axis=0, keepdims=True))


def test_each_size_one_pattern_compiles_once_and_ordinary_sizes_never_recompile(compiles):
    (x, y), loss = sum_of_products()
    f = gc.function([x, y], gc.grad(loss, [x, y]))
    assert len(compiles) == 1
    for rows in [(4, 4), (4, 1), (7, 1), (9, 9), (1, 6), (4, 1), (2, 2)]:
        gx, gy = f(data(rows[0], 3), data(rows[1], 3))
        assert (gx.shape[0], gy.shape[0]) == rows
    assert len(compiles) == 3  # the first program, one for y of size 1, one for x of size 1


def test_a_size_one_computed_in_the_graph_is_still_refused_clearly():
    """No input size is 1, so no program with a fixed size serves the call: a clear error on
    both backends (NumPy would broadcast it)."""
    x = gc.placeholder((None, 3), "float64")
    for backend in BACKENDS:
        f = gc.function([x], x[2:] * x, backend=backend)
        with pytest.raises(gc.ShapeError, match=r"mul: .*size of 1.*test_size_one_broadcast"):
            f(np.ones((3, 3)))


def test_updates_apply_once_through_a_size_one_program():
    x = gc.placeholder((None, 2), "float64")
    w = gc.shared(np.ones((5, 2)))
    loss = gc.sum(x * w)
    f = gc.function([x], loss, updates=[(w, w - 0.5 * gc.grad(loss, w))])
    assert f(np.ones((1, 2))) == 10
    np.testing.assert_allclose(w.get_value(), 0.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_time_batch_of_one_broadcasts_in_matmul(backend):
    a, b = gc.placeholder((None, None, 3), "float64"), gc.placeholder((None, 3, 2), "float64")
    loss = gc.sum(gc.tanh(a @ b))
    f = gc.function([a, b], [a @ b, *gc.grad(loss, [a, b])], backend=backend)
    x, y = data(4, 5, 3), data(1, 3, 2, seed=1)
    out, ga, gb = f(x, y)
    np.testing.assert_allclose(out, x @ y, rtol=1e-12)

    def total(values):
        return np.tanh(values[0] @ values[1]).sum()

    np.testing.assert_allclose(ga, numeric_gradient(total, [x, y], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, numeric_gradient(total, [x, y], 1), rtol=1e-6, atol=1e-8)

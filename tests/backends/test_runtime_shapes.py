"""Run-time shape checks of the llvm backend (issue 10, defect 2): before the native call,
every run-time size is solved from the inputs' shapes and checked against each static size and
each op's own rule (broadcasts, reshape element counts, index bounds with NumPy's negative
wrap-around), so no input can make the compiled code read or write outside a buffer. Each
error names the op, the shapes it received and the user's file:line, like the interpreter."""

import numpy as np
import pytest

import graphc as gc
from graphc.ir import ShapeError

BACKENDS = ["llvm", "numpy"]


def rows(n, width=4):
    return np.arange(n * width, dtype="f4").reshape(n, width)


# ---- the reproducers of the issue ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_index_past_a_run_time_axis_raises_index_error(backend):
    a = gc.placeholder((None, 4))
    f = gc.function([a], a[10_000_000], backend=backend)
    with pytest.raises(IndexError, match="10000000"):
        f(rows(2))


def test_index_error_names_the_op_the_shapes_and_the_line():
    a = gc.placeholder((None, 4))
    f = gc.function([a], a[10_000_000])
    with pytest.raises(IndexError, match=r"getitem: .*\(2, 4\).*test_runtime_shapes.py:\d+"):
        f(rows(2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_broadcast_against_a_large_static_operand_is_checked(backend):
    a = gc.placeholder((None, 4))
    b = gc.shared(np.ones((3_000_000, 4), "f4"))
    f = gc.function([a], a + b, backend=backend)
    with pytest.raises(ValueError, match="broadcast"):
        f(rows(2))


def test_broadcast_error_names_the_op_and_the_line():
    a = gc.placeholder((None, 4))
    b = gc.shared(np.ones((3, 4), "f4"))
    f = gc.function([a], a + b)
    with pytest.raises(ShapeError, match=r"add: .*\(2, 4\), \(3, 4\).*test_runtime_shapes.py"):
        f(rows(2))
    np.testing.assert_array_equal(f(rows(3)), rows(3) + 1)
    np.testing.assert_array_equal(f(rows(1)), rows(1) + np.ones((3, 4)))  # a 1 broadcasts


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch, shape", [(1, (1_000_000, 6)), (5, (3, 4))])
def test_reshape_to_a_static_shape_checks_the_element_count(backend, batch, shape):
    c = gc.placeholder((None, 6) if shape[1] == 6 else (None, 4))
    f = gc.function([c], gc.reshape(c, shape), backend=backend)
    with pytest.raises(ValueError, match="reshape"):
        f(np.ones((batch, c.shape[1]), "f4"))


def test_reshape_error_names_the_op_and_the_line():
    c = gc.placeholder((None, 4))
    f = gc.function([c], gc.reshape(c, (3, 4)) * 2.0)
    with pytest.raises(ShapeError, match=r"reshape: .*20 elements.*test_runtime_shapes.py"):
        f(np.ones((5, 4), "f4"))
    np.testing.assert_array_equal(f(rows(3)), rows(3) * 2)


# ---- NumPy semantics of indices on run-time axes ----------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 33])
@pytest.mark.parametrize("index", [0, -1, 6, -7, 32, -33])
def test_integer_index_on_a_run_time_axis_wraps_or_raises_like_numpy(n, index):
    a = gc.placeholder((None, 4))
    f, ref = (gc.function([a], a[index] * 1.0, backend=b) for b in BACKENDS)
    if -n <= index < n:
        np.testing.assert_array_equal(f(rows(n)), rows(n)[index])
        np.testing.assert_array_equal(ref(rows(n)), rows(n)[index])
    else:
        for fn in (f, ref):
            with pytest.raises(IndexError):
                fn(rows(n))


@pytest.mark.parametrize("n", [1, 7, 33])
@pytest.mark.parametrize("item", [slice(-5, None), slice(None, None, -2), slice(3, -1, 2),
                                  slice(40, None), slice(-100, 2)])
def test_slices_of_a_run_time_axis_agree_with_numpy(n, item):
    a = gc.placeholder((None, 4))
    f = gc.function([a], a[item] + 1.0)
    np.testing.assert_array_equal(f(rows(n)), rows(n)[item] + 1)


def test_a_static_index_into_a_static_axis_still_fails_at_build_time():
    a = gc.placeholder((None, 4))
    with pytest.raises(ShapeError, match="out of bounds"):
        a[:, 4]


# ---- other op constraints --------------------------------------------------------------------


def test_matmul_inner_sizes_are_checked():
    a = gc.placeholder((None, None))
    w = gc.shared(np.ones((3, 2), "f4"))
    f = gc.function([a], a @ w)
    np.testing.assert_array_equal(f(np.ones((7, 3), "f4")), np.full((7, 2), 3))
    with pytest.raises(ShapeError, match="matmul"):
        f(np.ones((7, 300), "f4"))


def test_concatenate_of_run_time_sizes_is_checked():
    a, b = gc.placeholder((None, 4)), gc.placeholder((None, 2))
    f = gc.function([a, b], gc.concatenate([a, b], axis=1))
    np.testing.assert_array_equal(f(rows(3), rows(3, 2)), np.hstack([rows(3), rows(3, 2)]))
    with pytest.raises(ValueError):
        f(rows(3), rows(1000, 2))


def test_take_out_of_range_names_the_op_and_the_line():
    x = gc.placeholder((None, 2), name="x")
    i = gc.placeholder((None,), "int64", name="i")
    f = gc.function([x, i], gc.take(x, i))
    np.testing.assert_array_equal(f(rows(3, 2), [2, -3]), rows(3, 2)[[2, -3]])
    with pytest.raises(IndexError, match=r"take.*test_runtime_shapes.py"):
        f(rows(3, 2), [3])
    with pytest.raises(IndexError, match="take"):
        f(rows(3, 2), [-4])


def test_a_failed_check_leaves_the_function_usable():
    a = gc.placeholder((None, 4))
    f = gc.function([a], gc.sum(a[-2], axis=0))
    assert f(rows(7)) == rows(7)[-2].sum()
    with pytest.raises(IndexError):
        f(rows(1))
    assert f(rows(33)) == rows(33)[-2].sum()


@pytest.mark.parametrize("bad", [20, -21])
def test_a_bad_index_input_changes_no_shared_variable(bad):
    """Index inputs are checked before the native call, so an update is never half done."""
    table = gc.shared(np.ones((20, 3), "f4"))
    ids = gc.placeholder((None, None), "int32")
    loss = gc.sum(gc.take(table, ids, axis=0))
    f = gc.function([ids], loss, updates=[(table, table - 0.5 * gc.grad(loss, table))])
    f(np.array([[1, -1]], "int32"))
    before = table.get_value().copy()
    with pytest.raises(IndexError, match=rf"take: index {bad} .*size 20.*test_runtime_shapes"):
        f(np.array([[1, bad, 2]], "int32"))
    np.testing.assert_array_equal(table.get_value(), before)


# ---- indices computed in the graph ------------------------------------------------------------


@pytest.mark.parametrize("guarded", ["0", "1"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_computed_index_out_of_range_names_the_op_and_the_line(monkeypatch, backend, guarded):
    """The kernel reads index 0 in place of a bad one and reports it: with guard pages and
    canaries (GRAPHC_CHECK_BOUNDS=1) no access outside a buffer shows."""
    monkeypatch.setenv("GRAPHC_CHECK_BOUNDS", guarded)
    x = gc.placeholder((None, 3), name="x")
    table = gc.shared(rows(4, 2))
    scores = gc.take(table, gc.argmax(x, axis=1), axis=0)  # a second take, never out of range
    shifted = gc.take(table, gc.argmax(x, axis=1) + 2, axis=0)
    f = gc.function([x], [scores, shifted * 2.0], backend=backend)
    ok = np.array([[0, 1, 0], [1, 0, 0]], "f4")
    np.testing.assert_array_equal(f(ok)[1], rows(4, 2)[[3, 2]] * 2)
    with pytest.raises(IndexError, match=r"take: .*out of .*test_runtime_shapes.py:\d+"):
        f(np.array([[0, 0, 1], [1, 0, 0]], "f4"))  # argmax 2 + 2 = 4, past 4 rows
    np.testing.assert_array_equal(f(ok)[1], rows(4, 2)[[3, 2]] * 2)  # still usable
